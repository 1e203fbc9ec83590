//! Deterministic seed data: realistic names and e-mails, ~3% pending invitees, groups of varied
//! sizes (a small admins group, a large viewers group) and ~10% of users in no group.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};

use super::store::Directory;
use super::versions::iso8601;
use crate::scim::Profile;

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "John",
    "Katherine",
    "Tim",
    "Sophie",
    "Guido",
    "Annie",
    "Bjarne",
    "Mary",
    "James",
    "Carol",
    "Niklaus",
    "Jean",
    "Leslie",
    "Shafi",
    "Yukihiro",
    "Adele",
    "Brian",
    "Elena",
    "Mateo",
    "Priya",
    "Kwame",
    "Ingrid",
    "Hiroshi",
    "Fatima",
    "Lars",
    "Amara",
    "Diego",
    "Mei",
    "Olga",
    "Rafael",
    "Chloe",
    "Tariq",
    "Nadia",
    "Emeka",
    "Sven",
    "Lucia",
    "Arjun",
];

const LAST: &[&str] = &[
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Berners-Lee",
    "Wilson",
    "Rossum",
    "Easley",
    "Stroustrup",
    "Keller",
    "Gosling",
    "Shaw",
    "Wirth",
    "Bartik",
    "Lamport",
    "Goldwasser",
    "Matsumoto",
    "Goldberg",
    "Kernighan",
    "Petrova",
    "Garcia",
    "Sharma",
    "Mensah",
    "Larsen",
    "Tanaka",
    "Haddad",
    "Nilsson",
    "Okafor",
    "Fernandez",
    "Chen",
    "Ivanova",
    "Costa",
    "Martin",
    "Rahman",
    "Novak",
    "Eze",
    "Berg",
    "Romano",
    "Patel",
];

const DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

const GROUPS: &[&str] = &[
    "Analytics Admins",
    "Product Viewers",
    "Growth Team",
    "Data Science",
    "Marketing",
    "Engineering",
    "Sales",
    "Customer Success",
    "Finance",
    "Design",
    "Support",
    "Executives",
    "Platform",
    "Mobile",
    "Security",
    "Operations",
    "Partnerships",
    "Research",
    "Legal",
    "People Ops",
];

/// 2022-02-03T20:40:22Z, the date of Amplitude's examples: seeded records date from there.
const EPOCH: u64 = 1_643_920_822;

/// Fills `dir` with `users` users and `groups` groups; the same seed gives the same directory.
pub(crate) fn seed(dir: &mut Directory, users: usize, groups: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let pending_rate = if dir.profile == Profile::Amplitude {
        0.03
    } else {
        0.0
    };

    let group_seqs: Vec<u64> = (0..groups)
        .map(|g| {
            dir.create_group(
                &group_name(g),
                BTreeSet::new(),
                &iso8601(EPOCH + g as u64 * 3_600, 0),
            )
        })
        .collect();
    let rates: Vec<f64> = (0..groups)
        .map(|g| match g {
            0 => rng.random_range(0.03..0.05),
            1 => 0.6,
            _ => rng.random_range(0.05..0.30),
        })
        .collect();

    let mut taken: HashMap<String, u32> = HashMap::with_capacity(users);
    let mut memberships: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); groups];
    for i in 0..users {
        let first = FIRST.choose(&mut rng).copied().unwrap_or("Ada");
        let last = LAST.choose(&mut rng).copied().unwrap_or("Lovelace");
        let domain = DOMAINS.choose(&mut rng).copied().unwrap_or("example.com");
        let base = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let email = loop {
            let n = taken.entry(format!("{base}@{domain}")).or_insert(0);
            *n += 1;
            let candidate = match *n {
                1 => format!("{base}@{domain}"),
                n => format!("{base}{n}@{domain}"),
            };
            // A suffixed address may collide with a base that really ends in digits; retry.
            if dir.user_seq_by_email(&candidate).is_none() {
                break candidate;
            }
        };
        // ~3% pending, and at least one in any directory of ten or more (user 5), so a small
        // demo or test directory still has an invitee to show.
        let pending =
            rng.random_bool(pending_rate) || (pending_rate > 0.0 && i == 4 && users >= 10);
        let created = iso8601(EPOCH + 86_400 + i as u64 * 97, 0);
        let Ok(seq) = dir.create_user(
            &email,
            Some(first.into()),
            Some(last.into()),
            pending,
            &created,
        ) else {
            continue;
        };

        let loner = rng.random_bool(0.10);
        if loner || groups == 0 {
            continue;
        }
        let mut placed = false;
        for (g, rate) in rates.iter().enumerate() {
            if rng.random_bool(*rate) {
                memberships[g].insert(seq);
                placed = true;
            }
        }
        if !placed {
            // Everyone not meant to be groupless joins some group other than the admins.
            let g = if groups > 1 {
                rng.random_range(1..groups)
            } else {
                0
            };
            memberships[g].insert(seq);
        }
    }
    for (g, members) in group_seqs.iter().zip(memberships) {
        if let Some(group) = dir.group_mut(*g) {
            group.members = members;
        }
    }
}

/// Plausible group names; past the list, the names repeat with a number ("Marketing 2").
pub(crate) fn group_name(i: usize) -> String {
    let name = GROUPS[i % GROUPS.len()];
    match i / GROUPS.len() {
        0 => name.to_owned(),
        n => format!("{name} {}", n + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::Switches;

    fn seeded(users: usize, groups: usize, seed_value: u64) -> Directory {
        let mut dir = Directory::new(Profile::Amplitude, Switches::default(), seed_value);
        seed(&mut dir, users, groups, seed_value);
        dir
    }

    #[test]
    fn seeds_unique_emails_and_plausible_group_sizes() {
        let dir = seeded(5_000, 12, 7);
        assert_eq!(dir.user_count(), 5_000);
        let sizes: Vec<usize> = dir.groups().map(|(_, g)| g.members.len()).collect();
        assert!((100..=300).contains(&sizes[0]), "admins {}", sizes[0]);
        assert!((2_500..=3_300).contains(&sizes[1]), "viewers {}", sizes[1]);
        let grouped: BTreeSet<u64> = dir
            .groups()
            .flat_map(|(_, g)| g.members.iter().copied())
            .collect();
        let loners = 5_000 - grouped.len();
        assert!((350..=650).contains(&loners), "loners {loners}");
        let pending = dir.users().filter(|(_, u)| u.pending).count();
        assert!((80..=230).contains(&pending), "pending {pending}");
        assert_eq!(group_name(21), "Product Viewers 2");
    }
}
