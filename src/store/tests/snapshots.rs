//! Access snapshots: the same directory gives the same content and content hash and any
//! change another; each organization's snapshots chain, appends from concurrent tasks never
//! fork the chain, a scheduled append is taken once per period however many try, tampering
//! shows, and retention keeps the chain going.

use std::time::SystemTime;

use super::*;
use crate::directory::{Dialect, Person, Team, mirror_of};
use crate::governance::snapshots::Content;

const PEOPLE: &[Person] = &[
    Person("ada@acme.example", "Ada", "Lovelace", true),
    Person("grace@acme.example", "Grace", "Hopper", true),
    Person("new@acme.example", "NO_GIVEN_NAME", "NO_FAMILY_NAME", true),
    Person("gone@acme.example", "Old", "Timer", false),
];
const TEAMS: &[Team] = &[
    Team("20", "Admins", &["ada@acme.example"]),
    Team(
        "10",
        "Analysts",
        &["grace@acme.example", "ada@acme.example"],
    ),
];

/// The canonical content of a directory built from `people` and `teams`.
fn content(people: &[Person], teams: &[Team]) -> Vec<u8> {
    let mirror = mirror_of(Dialect::Amplitude, people, teams, SystemTime::now());
    Content::of_mirror(&mirror, |_| false).encode()
}

fn new(org: &str, at: i64, content: Vec<u8>) -> NewSnapshot {
    NewSnapshot {
        org: org.into(),
        taken_at_ms: at,
        trigger: SnapshotTrigger::Manual,
        taken_by: "ops".into(),
        user_count: 4,
        group_count: 2,
        mirror_fetched_at_ms: Some(at - 100),
        complete: true,
        content,
    }
}

fn taken(a: Appended) -> SnapshotRow {
    match a {
        Appended::Taken(row) => row,
        other => panic!("not taken: {other:?}"),
    }
}

#[test]
fn the_same_directory_gives_the_same_content_hash_and_any_change_another() {
    let base = content(PEOPLE, TEAMS);
    // Another upstream order of users, groups and members: the same bytes.
    let mut people: Vec<Person> = PEOPLE.iter().map(|p| Person(p.0, p.1, p.2, p.3)).collect();
    people.reverse();
    let teams = [
        Team(
            "10",
            "Analysts",
            &["ada@acme.example", "grace@acme.example"],
        ),
        Team("20", "Admins", &["ada@acme.example"]),
    ];
    assert_eq!(content(&people, &teams), base);
    assert_eq!(content_hash(&content(&people, &teams)), content_hash(&base));
    let decoded = Content::decode(&base).expect("decodes");
    assert_eq!(decoded.encode(), base);
    let statuses: Vec<_> = decoded
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.status))
        .collect();
    use crate::governance::snapshots::UserStatus as S;
    assert_eq!(
        statuses,
        [
            ("ada@acme.example", S::Active),
            ("gone@acme.example", S::Deactivated),
            ("grace@acme.example", S::Active),
            ("new@acme.example", S::Invited),
        ]
    );
    // Groups by id; Ada is in both.
    assert_eq!(decoded.groups[0].id, "10");
    assert_eq!(decoded.users[0].groups, [0, 1]);

    let mut changed = Vec::new();
    // A status.
    let mut p = people_of(PEOPLE);
    p[1].3 = false;
    changed.push(content(&p, TEAMS));
    // A membership.
    changed.push(content(
        PEOPLE,
        &[
            Team("20", "Admins", &["ada@acme.example", "grace@acme.example"]),
            Team(
                "10",
                "Analysts",
                &["grace@acme.example", "ada@acme.example"],
            ),
        ],
    ));
    // A user's name.
    let mut p = people_of(PEOPLE);
    p[0].2 = "King";
    changed.push(content(&p, TEAMS));
    // A group's name.
    changed.push(content(
        PEOPLE,
        &[
            Team("20", "Administrators", &["ada@acme.example"]),
            Team(
                "10",
                "Analysts",
                &["grace@acme.example", "ada@acme.example"],
            ),
        ],
    ));
    // An invitation the gateway has open.
    let mirror = mirror_of(Dialect::Amplitude, PEOPLE, TEAMS, SystemTime::now());
    changed.push(Content::of_mirror(&mirror, |k| k == "grace@acme.example").encode());
    let mut hashes: Vec<String> = changed.iter().map(|c| content_hash(c)).collect();
    hashes.push(content_hash(&base));
    let n = hashes.len();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), n, "every change gives another hash");

    // The snapshot hash covers the previous hash, the metadata and the content.
    let n = new("acme", 1_000, base.clone());
    let meta = SnapshotMetaRef::from(&n);
    let h = snapshot_hash(SNAPSHOT_GENESIS, 1, &meta, &base);
    assert_eq!(h, snapshot_hash(SNAPSHOT_GENESIS, 1, &meta, &base));
    assert_ne!(h, snapshot_hash(&"1".repeat(64), 1, &meta, &base));
    assert_ne!(h, snapshot_hash(SNAPSHOT_GENESIS, 2, &meta, &base));
    assert_ne!(h, snapshot_hash(SNAPSHOT_GENESIS, 1, &meta, &changed[0]));
    let other = SnapshotMetaRef {
        complete: false,
        ..SnapshotMetaRef::from(&n)
    };
    assert_ne!(h, snapshot_hash(SNAPSHOT_GENESIS, 1, &other, &base));
}

fn people_of<'a>(people: &[Person<'a>]) -> Vec<Person<'a>> {
    people.iter().map(|p| Person(p.0, p.1, p.2, p.3)).collect()
}

#[tokio::test]
async fn snapshots_chain_per_organization_and_read_back_as_taken() {
    for s in stores("snapchain").await {
        let store = &s.store;
        let body = content(PEOPLE, TEAMS);
        let mut rows = Vec::new();
        for (n, org) in ["acme", "globex", "acme", "acme", "globex"]
            .iter()
            .enumerate()
        {
            let at = 10_000 + n as i64;
            rows.push(taken(
                store
                    .append_snapshot(new(org, at, body.clone()), None, false)
                    .await
                    .unwrap(),
            ));
        }
        let acme: Vec<&SnapshotRow> = rows.iter().filter(|r| r.org == "acme").collect();
        assert_eq!(
            acme.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3],
            "{}",
            s.label
        );
        assert_eq!(acme[0].previous_hash, SNAPSHOT_GENESIS);
        assert_eq!(acme[1].previous_hash, acme[0].hash);
        assert_eq!(acme[2].previous_hash, acme[1].hash);
        let globex: Vec<&SnapshotRow> = rows.iter().filter(|r| r.org == "globex").collect();
        assert_eq!(globex[0].previous_hash, SNAPSHOT_GENESIS, "{}", s.label);
        assert_eq!(globex[1].previous_hash, globex[0].hash);
        // The same directory: the same content hash, a different snapshot hash.
        assert_eq!(acme[0].content_hash, acme[1].content_hash);
        assert_ne!(acme[0].hash, acme[1].hash);
        assert_eq!(acme[0].content_bytes, body.len() as i64);

        assert_eq!(
            store.snapshot("acme", 2).await.unwrap().as_ref(),
            Some(acme[1])
        );
        assert_eq!(store.snapshot("acme", 9).await.unwrap(), None);
        assert_eq!(
            store.snapshot_content("acme", 3).await.unwrap(),
            Some(body.clone()),
            "{}",
            s.label
        );
        let newest: Vec<i64> = store
            .snapshots_page("acme", None, None, true, 2)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(newest, [3, 2]);
        let older = store
            .snapshots_page("acme", None, Some(2), true, 10)
            .await
            .unwrap();
        assert_eq!(older.iter().map(|r| r.seq).collect::<Vec<_>>(), [1]);
        assert_eq!(store.count_snapshots("acme").await.unwrap(), 3);
        assert_eq!(
            store.newest_snapshot_ms("acme").await.unwrap(),
            Some(10_003)
        );
        assert_eq!(store.newest_snapshot_ms("nobody").await.unwrap(), None);
        assert_eq!(
            store.verify_snapshots("acme").await.unwrap(),
            None,
            "{}",
            s.label
        );

        // A changed row breaks the chain at that row.
        raw(
            store,
            "UPDATE snapshots SET user_count = 99 WHERE org = 'acme' AND seq = 2",
        )
        .await;
        let broken = store
            .verify_snapshots("acme")
            .await
            .unwrap()
            .expect("broken");
        assert_eq!(broken.seq, 2, "{}: {broken:?}", s.label);
        assert_eq!(store.verify_snapshots("globex").await.unwrap(), None);

        // Retention: the oldest go, and the next snapshot still links the newest.
        assert_eq!(store.prune_snapshots("acme", 10_003).await.unwrap(), 2);
        assert_eq!(store.count_snapshots("acme").await.unwrap(), 1);
        let next = taken(
            store
                .append_snapshot(new("acme", 20_000, body.clone()), None, false)
                .await
                .unwrap(),
        );
        assert_eq!(
            (next.seq, next.previous_hash.as_str()),
            (4, acme[2].hash.as_str())
        );
        s.done().await;
    }
}

#[tokio::test]
async fn concurrent_appends_never_fork_an_organizations_chain() {
    for s in stores("snapfork").await {
        let store = &s.store;
        let body = content(PEOPLE, TEAMS);
        let appends = (0..16).map(|n| {
            let store = store.clone();
            let body = body.clone();
            async move {
                store
                    .append_snapshot(new("acme", 1_000 + n, body), None, false)
                    .await
            }
        });
        let results = futures_util::future::join_all(appends).await;
        assert!(
            results.iter().all(Result::is_ok),
            "{}: {results:?}",
            s.label
        );
        let mut rows = store
            .snapshots_page("acme", None, None, false, 100)
            .await
            .unwrap();
        rows.sort_by_key(|r| r.seq);
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (1..=16).collect::<Vec<_>>(),
            "{}",
            s.label
        );
        for pair in rows.windows(2) {
            assert_eq!(pair[1].previous_hash, pair[0].hash, "{}", s.label);
        }
        assert_eq!(store.verify_snapshots("acme").await.unwrap(), None);
        s.done().await;
    }
}

#[tokio::test]
async fn a_scheduled_append_is_taken_once_per_period_however_many_try() {
    for s in stores("snapsched").await {
        let store = &s.store;
        let body = content(PEOPLE, TEAMS);
        let scheduled = |at: i64| NewSnapshot {
            trigger: SnapshotTrigger::Schedule,
            taken_by: "system".into(),
            ..new("acme", at, body.clone())
        };
        // Five replicas at once: one snapshot, the others told it is too soon.
        let tries = (0..5).map(|_| {
            let store = store.clone();
            let snapshot = scheduled(100_000);
            async move { store.append_snapshot(snapshot, Some(60_000), true).await }
        });
        let results: Vec<Appended> = futures_util::future::join_all(tries)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let n = results
            .iter()
            .filter(|r| matches!(r, Appended::Taken(_)))
            .count();
        assert_eq!(n, 1, "{}: {results:?}", s.label);
        assert!(results.contains(&Appended::TooSoon { newest_ms: 100_000 }));
        let early = store
            .append_snapshot(scheduled(159_999), Some(60_000), true)
            .await
            .unwrap();
        assert_eq!(
            early,
            Appended::TooSoon { newest_ms: 100_000 },
            "{}",
            s.label
        );
        let due = taken(
            store
                .append_snapshot(scheduled(160_000), Some(60_000), true)
                .await
                .unwrap(),
        );
        assert_eq!(
            (due.seq, due.trigger),
            (2, SnapshotTrigger::Schedule),
            "{}",
            s.label
        );
        // Each one taken is audited, in the chained log.
        let rows = store
            .audit_page(
                &AuditFilter {
                    action: Some("snapshot.take".into()),
                    ..AuditFilter::default()
                },
                Window::default(),
                10,
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "{}", s.label);
        assert_eq!(rows[1].record.actor, "system");
        assert!(
            rows[1].record.input.contains(&due.hash),
            "{}",
            rows[1].record.input
        );
        assert!(store.verify_audit(|_| {}).await.unwrap().broken.is_none());
        s.done().await;
    }
}
