//! Filters, orders, statuses and memberships, checked against the emulator's own state.

use std::collections::HashSet;

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn filters_orders_and_memberships_match_the_upstream() {
    let app = TestApp::one(300, 8).await;
    let state = app.emulator().state();
    let groups = state.groups();
    let users = state.users();
    let pending: HashSet<String> = state
        .pending()
        .into_iter()
        .map(|e| e.to_lowercase())
        .collect();
    assert!(!pending.is_empty(), "the seed has pending invitees");

    // INVITED is derived from Amplitude's placeholder names.
    let q = r#"{ org { users(first: 100, filter: { status: INVITED }) { totalCount edges { node { email givenName familyName displayName status } } } } }"#;
    let data = app.data(q, json!({})).await;
    let invited = &data["org"]["users"];
    assert_eq!(
        invited["totalCount"].as_u64().unwrap() as usize,
        pending.len()
    );
    for edge in invited["edges"].as_array().unwrap() {
        let node = &edge["node"];
        assert!(pending.contains(node["email"].as_str().unwrap()));
        assert!(
            node["givenName"].is_null() && node["familyName"].is_null(),
            "placeholders are not names: {node}"
        );
        assert_eq!(node["displayName"], node["email"]);
    }

    // Members of one group, through the filter and through the group, agree with the emulator.
    let group = groups.iter().max_by_key(|g| g.members.len()).unwrap();
    let members: HashSet<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    let q = r#"query($g: ID!) { org {
        users(first: 100, filter: { memberOf: $g }) { totalCount }
        group(id: $g) { name memberCount members(first: 100) { totalCount edges { node { email } } } } } }"#;
    let data = app
        .data(q, json!({ "g": group.id.as_ref().unwrap().as_str() }))
        .await;
    assert_eq!(
        data["org"]["users"]["totalCount"].as_u64().unwrap() as usize,
        members.len()
    );
    assert_eq!(data["org"]["group"]["name"], group.display_name.as_str());
    assert_eq!(
        data["org"]["group"]["memberCount"].as_u64().unwrap() as usize,
        members.len()
    );
    let listed: Vec<String> = data["org"]["group"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap().to_owned())
        .collect();
    let mut first_members: Vec<String> = members.iter().cloned().collect();
    first_members.sort();
    first_members.truncate(100);
    assert_eq!(
        listed, first_members,
        "the first page of members, by e-mail"
    );

    // In no group, and a user's groups.
    let in_groups: HashSet<String> = groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.value.to_lowercase()))
        .collect();
    let lonely = users
        .iter()
        .filter(|u| !in_groups.contains(&u.user_name.to_lowercase()))
        .count();
    let data = app
        .data(
            "{ org { users(filter: { inNoGroup: true }) { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["org"]["users"]["totalCount"].as_u64().unwrap() as usize,
        lonely
    );
    let someone = group.members[0].value.clone();
    let data = app.data(&format!("{{ org {{ user(email: \"{someone}\") {{ groups(first: 100) {{ edges {{ node {{ name }} }} }} }} }} }}"), json!({})).await;
    let names: HashSet<&str> = data["org"]["user"]["groups"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    let expected: HashSet<&str> = groups
        .iter()
        .filter(|g| {
            g.members
                .iter()
                .any(|m| m.value.eq_ignore_ascii_case(&someone))
        })
        .map(|g| g.display_name.as_str())
        .collect();
    assert_eq!(names, expected);

    // Search is a case-insensitive substring of e-mail or names; orders sort as they say.
    let target = &users[42];
    let family = target.family_name().unwrap().to_uppercase();
    let q = r#"query($s: String) { org { users(first: 100, filter: { search: $s }, orderBy: { field: FAMILY_NAME, direction: DESC }) { edges { node { email familyName } } } } }"#;
    let data = app.data(q, json!({ "s": family })).await;
    let edges = data["org"]["users"]["edges"].as_array().unwrap();
    assert!(
        edges
            .iter()
            .any(|e| e["node"]["email"] == target.user_name.to_lowercase())
    );
    let expected = users
        .iter()
        .filter(|u| {
            let s = family.to_lowercase();
            let real = |n: Option<&str>| {
                n.filter(|n| !n.starts_with("NO_"))
                    .is_some_and(|n| n.to_lowercase().contains(&s))
            };
            u.user_name.to_lowercase().contains(&s) || real(u.given_name()) || real(u.family_name())
        })
        .count();
    assert_eq!(edges.len(), expected);
    let names: Vec<String> = edges
        .iter()
        .map(|e| {
            e["node"]["familyName"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted, "descending by family name");

    // Groups by name substring.
    let needle = &group.display_name[..4];
    let data = app.data(&format!("{{ org {{ groups(filter: {{ search: \"{}\" }}) {{ edges {{ node {{ name }} }} }} }} }}", needle.to_lowercase()), json!({})).await;
    let expected = groups
        .iter()
        .filter(|g| {
            g.display_name
                .to_lowercase()
                .contains(&needle.to_lowercase())
        })
        .count();
    assert_eq!(
        data["org"]["groups"]["edges"].as_array().unwrap().len(),
        expected
    );
}

#[tokio::test]
async fn budget_and_sync_report_the_state() {
    let app = TestApp::one(150, 3).await;
    app.warm().await;
    let data = app.data("{ org { budget { limit windowSeconds usedInWindow remaining queued pausedUntil credentialRevoked } sync { complete userCount groupCount lastRefreshCalls lastRefreshAt refreshing } } }", json!({})).await;
    let org = &data["org"];
    assert_eq!(org["budget"]["limit"], 1_000);
    assert_eq!(org["budget"]["windowSeconds"], 1.0);
    assert_eq!(org["budget"]["credentialRevoked"], false);
    assert_eq!(org["sync"]["complete"], true);
    assert_eq!(org["sync"]["userCount"], 150);
    assert_eq!(org["sync"]["groupCount"], 3);
    assert_eq!(org["sync"]["lastRefreshCalls"], 3);
    assert!(
        org["sync"]["lastRefreshAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
}
