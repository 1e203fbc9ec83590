//! What a snapshot of 100,000 users in 50 groups costs: bytes stored, time to take, to read
//! back and to diff. Ignored by default (it takes seconds in a debug build); run with
//! `cargo test --lib snapshot_of_100k -- --ignored --nocapture`.

use std::time::{Instant, SystemTime};

use super::*;
use crate::directory::{Dialect, Person, Team, mirror_of};
use crate::governance::snapshots::{Content, diff};

#[tokio::test]
#[ignore = "a measurement: run it by name with --ignored --nocapture"]
async fn snapshot_of_100k_users_in_50_groups() {
    const USERS: usize = 100_000;
    // Names of 5 to 10 pseudo-random letters, e-mails made of them: about as hard to
    // compress as a real directory's.
    let mut seed: u64 = 42;
    let mut word = || {
        let mut w = String::new();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        for n in 0..5 + (seed >> 60) % 6 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = (b'a' + ((seed >> 33) % 26) as u8) as char;
            w.push(if n == 0 { c.to_ascii_uppercase() } else { c });
        }
        w
    };
    let names: Vec<(String, String)> = (0..USERS).map(|_| (word(), word())).collect();
    let emails: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, (g, f))| {
            format!(
                "{}.{}{}@example-corp.com",
                g.to_lowercase(),
                f.to_lowercase(),
                i % 10
            )
        })
        .collect();
    let people: Vec<Person> = emails
        .iter()
        .zip(&names)
        .map(|(e, (g, f))| Person(e, g, f, true))
        .collect();
    // Each user in 1 to 5 of the 50 groups: about 300,000 memberships.
    let mut members: Vec<Vec<&str>> = vec![Vec::new(); 50];
    for (i, e) in emails.iter().enumerate() {
        for k in 0..=(i % 5) {
            members[(i * 7 + k * 11) % 50].push(e);
        }
    }
    let ids: Vec<String> = (0..50).map(|g| format!("{}", 1_000 + g)).collect();
    let group_names: Vec<String> = (0..50).map(|g| format!("Permission group {g}")).collect();
    let teams: Vec<Team> = (0..50)
        .map(|g| Team(&ids[g], &group_names[g], &members[g]))
        .collect();
    let mirror = mirror_of(Dialect::Amplitude, &people, &teams, SystemTime::now());
    let memberships: usize = members.iter().map(Vec::len).sum();

    let started = Instant::now();
    let content = Content::of_mirror(&mirror, |_| false);
    let bytes = content.encode();
    let encode = started.elapsed();
    for s in stores("snapsize").await {
        let store = &s.store;
        let started = Instant::now();
        let row = match store
            .append_snapshot(
                NewSnapshot {
                    org: "acme".into(),
                    taken_at_ms: 1,
                    trigger: SnapshotTrigger::Manual,
                    taken_by: "bench".into(),
                    user_count: USERS as i64,
                    group_count: 50,
                    mirror_fetched_at_ms: None,
                    complete: true,
                    content: bytes.clone(),
                },
                None,
                false,
            )
            .await
            .unwrap()
        {
            Appended::Taken(row) => row,
            other => panic!("{other:?}"),
        };
        let append = started.elapsed();
        let started = Instant::now();
        let back = store
            .snapshot_content("acme", row.seq)
            .await
            .unwrap()
            .unwrap();
        let decoded = Content::decode(&back).unwrap();
        let read = started.elapsed();
        assert_eq!(decoded, content);
        // A second snapshot with 1% of the users gone: the diff of the two.
        let mut later = decoded.clone();
        let gone: std::collections::HashSet<&str> =
            emails.iter().step_by(100).map(|e| e.as_str()).collect();
        later.users.retain(|u| !gone.contains(u.id.as_str()));
        let started = Instant::now();
        let d = diff(&decoded, &later);
        let diffed = started.elapsed();
        println!(
            "{}: {USERS} users, 50 groups, {memberships} memberships: content {} bytes, stored {} bytes (gzip); encode {encode:?}, append {append:?}, read back and decode {read:?}, diff {diffed:?} ({} changes)",
            s.label,
            row.content_bytes,
            row.stored_bytes,
            d.changes.len()
        );
        s.done().await;
    }
}
