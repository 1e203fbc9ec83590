//! A grant's life in the organization's event log: `grant.expiring` once per offset before
//! the end (24 h and 1 h by default), then the end itself, read through `org { events }` with
//! its cursors, kind filter and backward paging; and a resume from before the retention.

use scimgate::store::now_ms;
use serde_json::{Value, json};

use crate::governance_grants::{grant, setup};
use crate::support::error_code;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

const EVENTS: &str = r#"query($first: Int, $after: String, $last: Int, $kinds: [String!]) {
  org { events(first: $first, after: $after, last: $last, kinds: $kinds) {
    edges { cursor node { seq at kind actor subjectKind subjectId data } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }
}"#;

/// A user outside `group` other than `user`.
fn another_outsider(dir: &scimgate::directory::Directory, group: &str, user: &str) -> String {
    let snap = dir.snapshot();
    let members = &snap
        .groups()
        .iter()
        .find(|g| g.id == group)
        .expect("the group")
        .member_keys;
    snap.users()
        .iter()
        .map(|u| u.key().to_owned())
        .find(|k| !members.contains(k) && k != user)
        .expect("another user outside the group")
}

fn kinds(events: &Value) -> Vec<(i64, String, String)> {
    events["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["seq"].as_i64().unwrap(),
                n["kind"].as_str().unwrap().to_owned(),
                n["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_grant_warns_once_per_offset_before_its_end_and_its_life_is_in_the_event_log() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let end = now + 30 * HOUR;
    let g = grant(&app, &dir, &group, &user, end, now).await.unwrap();
    let grants = &app.gateway.grants;

    // Thirty hours ahead: no warning yet; a day before the end, one; steps in between, none.
    assert_eq!(grants.run_once(now).await.unwrap().warned, 0);
    assert_eq!(grants.run_once(end - DAY - 1).await.unwrap().warned, 0);
    assert_eq!(grants.run_once(end - DAY).await.unwrap().warned, 1);
    assert_eq!(grants.run_once(end - DAY + 60_000).await.unwrap().warned, 0);
    assert_eq!(grants.run_once(end - HOUR - 1).await.unwrap().warned, 0);
    let hour = grants.run_once(end - HOUR).await.unwrap();
    assert_eq!((hour.warned, hour.claimed), (1, 0));
    assert_eq!(grants.run_once(end - 1).await.unwrap().warned, 0);
    let ended = grants.run_once(end).await.unwrap();
    assert_eq!((ended.claimed, ended.removed, ended.warned), (1, 1, 0));

    let all = app.data(EVENTS, json!({ "first": 10 })).await["org"]["events"].clone();
    assert_eq!(
        kinds(&all),
        [
            (1, "grant.granted".into(), "test-admin".into()),
            (2, "grant.expiring".into(), "system".into()),
            (3, "grant.expiring".into(), "system".into()),
            (4, "grant.expired".into(), "system".into()),
        ],
        "{all:#}"
    );
    let node = |i: usize| all["edges"][i]["node"].clone();
    assert_eq!(node(1)["data"]["warnBeforeMs"], DAY);
    assert_eq!(node(1)["data"]["remainingMs"], DAY);
    assert_eq!(node(2)["data"]["warnBeforeMs"], HOUR);
    assert_eq!(node(2)["data"]["email"], user.to_lowercase().as_str());
    assert_eq!(node(3)["data"]["grant"], g.id.as_str());
    assert!(node(3)["data"]["lagMs"].as_i64().unwrap() >= 0);
    assert_eq!(node(3)["subjectKind"], "Grant");
    assert_eq!(
        (
            all["pageInfo"]["hasNextPage"].as_bool(),
            all["pageInfo"]["hasPreviousPage"].as_bool()
        ),
        (Some(false), Some(false))
    );
    // The subject is the grant, through `node`.
    let subject = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Grant { state userEmail } } }",
            json!({ "id": node(3)["subjectId"] }),
        )
        .await;
    assert_eq!(subject["node"]["state"], "EXPIRED", "{subject:#}");

    // Resuming after the second event gives exactly the rest.
    let rest = app
        .data(
            EVENTS,
            json!({ "first": 10, "after": all["edges"][1]["cursor"] }),
        )
        .await["org"]["events"]
        .clone();
    assert_eq!(kinds(&rest).iter().map(|k| k.0).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);
    // Only warnings; and the newest one alone.
    let warnings = app
        .data(EVENTS, json!({ "first": 10, "kinds": ["grant.expiring"] }))
        .await["org"]["events"]
        .clone();
    assert_eq!(
        kinds(&warnings).iter().map(|k| k.0).collect::<Vec<_>>(),
        [2, 3]
    );
    let newest = app.data(EVENTS, json!({ "last": 1 })).await["org"]["events"].clone();
    assert_eq!(kinds(&newest)[0].0, 4);
    assert_eq!(newest["pageInfo"]["hasPreviousPage"], true);
}

#[tokio::test]
async fn an_extension_warns_again_for_its_new_end_and_short_grants_do_not_warn() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let grants = &app.gateway.grants;
    // Two hours: only the hour's warning applies.
    let g = grant(&app, &dir, &group, &user, now + 2 * HOUR, now)
        .await
        .unwrap();
    assert_eq!(grants.run_once(now).await.unwrap().warned, 0);
    assert_eq!(grants.run_once(now + HOUR).await.unwrap().warned, 1);
    grants
        .extend(&g.id, now + 3 * HOUR, "test-admin", now + HOUR + 1)
        .await
        .unwrap();
    assert_eq!(grants.run_once(now + HOUR + 2).await.unwrap().warned, 0);
    assert_eq!(grants.run_once(now + 2 * HOUR).await.unwrap().warned, 1);
    // Thirty minutes: none.
    let other = another_outsider(&dir, &group, &user);
    let short = grant(&app, &dir, &group, &other, now + HOUR / 2, now)
        .await
        .unwrap();
    assert_eq!(grants.run_once(now + HOUR / 2 - 1).await.unwrap().warned, 0);
    let body = app.data(EVENTS, json!({ "first": 20 })).await;
    let seen: Vec<String> = kinds(&body["org"]["events"])
        .into_iter()
        .map(|k| k.1)
        .collect();
    assert_eq!(
        seen,
        [
            "grant.granted",
            "grant.expiring",
            "grant.extended",
            "grant.expiring",
            "grant.granted",
        ],
        "{body:#}"
    );
    assert_ne!(short.id, g.id);
}

#[tokio::test]
async fn resuming_from_before_the_retention_is_refused_not_a_silent_gap() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    grant(&app, &dir, &group, &user, now + HOUR, now)
        .await
        .unwrap();
    let first = app.data(EVENTS, json!({ "first": 1 })).await;
    let cursor = first["org"]["events"]["pageInfo"]["endCursor"].clone();
    assert!(cursor.is_string(), "{first:#}");
    // A second event, then retention removes both: the one after the cursor was never read.
    let other = another_outsider(&dir, &group, &user);
    grant(&app, &dir, &group, &other, now + HOUR, now)
        .await
        .unwrap();
    assert_eq!(app.gateway.store.prune_events(now + 1).await.unwrap(), 2);
    let body = app
        .query(EVENTS, json!({ "first": 5, "after": cursor }))
        .await;
    assert_eq!(error_code(&body), "EVENTS_EXPIRED", "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("retention"),
        "{body:#}"
    );
    // Without `after`: from the oldest kept (none now), no error.
    let fresh = app.data(EVENTS, json!({ "first": 5 })).await;
    assert_eq!(fresh["org"]["events"]["edges"], json!([]));
}
