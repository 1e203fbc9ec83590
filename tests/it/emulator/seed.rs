//! Seeded state: determinism per seed and paging through the seeded users.

use std::collections::HashSet;

use scimgate::emulator::EmulatorConfig;

use super::{Emu, config};

#[tokio::test]
async fn seed_is_deterministic_per_seed() {
    let a = Emu::start(EmulatorConfig {
        seed: 7,
        ..config(50, 5)
    })
    .await;
    let b = Emu::start(EmulatorConfig {
        seed: 7,
        ..config(50, 5)
    })
    .await;
    let c = Emu::start(EmulatorConfig {
        seed: 8,
        ..config(50, 5)
    })
    .await;
    assert_eq!(a.emu.state().users(), b.emu.state().users());
    assert_eq!(a.emu.state().groups(), b.emu.state().groups());
    assert_ne!(a.emu.state().users(), c.emu.state().users());
    assert_eq!(a.get("/Users").await.body, b.get("/Users").await.body);
    let users = a.emu.state().users();
    let domains = ["@example.com", "@example.org", "@example.net"];
    assert!(
        users
            .iter()
            .all(|u| domains.iter().any(|d| u.user_name.ends_with(d)))
    );
    let names: HashSet<_> = users
        .iter()
        .filter_map(|u| u.name.as_ref()?.family_name.clone())
        .collect();
    assert!(names.len() > 10, "varied names: {names:?}");
}

#[tokio::test]
async fn paging_through_all_users_with_start_index_returns_each_once() {
    let e = Emu::start(config(250, 3)).await;
    for size in [100, 37] {
        let mut seen = HashSet::new();
        let mut start = 1;
        loop {
            let r = e
                .get(&format!("/Users?startIndex={start}&itemsPerPage={size}"))
                .await;
            assert_eq!(r.body["totalResults"], 250);
            let page = r.body["Resources"].as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                break;
            }
            for u in &page {
                assert!(
                    seen.insert(u["id"].as_str().unwrap_or_default().to_owned()),
                    "repeated {}",
                    u["id"]
                );
            }
            start += page.len();
        }
        assert_eq!(seen.len(), 250);
    }
}
