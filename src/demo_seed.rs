//! The demo's sample governance data, made through GraphQL as a client would once the gateway
//! answers: three time-bound grants, one of which ends 90 seconds in (its warning, removal and
//! events show up live in GraphiQL's first query), and an access review of the first group for
//! the demo's reviewer key, so every feature has something to show.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PEOPLE: &str = "{ org { sync { complete } groups(first: 3, orderBy: { field: NAME }) { edges { node { id name members(first: 100) { edges { node { email } } } } } } users(first: 40, orderBy: { field: EMAIL }) { edges { node { email status } } } } }";
const GRANT: &str = "mutation($input: GrantGroupAccessInput!) { grantGroupAccess(input: $input) { outcome userErrors { code message } } }";
const REVIEW: &str = "mutation($input: StartAccessReviewInput!) { startAccessReview(input: $input) { outcome userErrors { code message } review { pagePath } } }";

/// The demo's reviewer key's name.
pub(crate) const REVIEWER: &str = "demo-reviewer";

/// Makes the demo's grants; logs and gives up (the demo goes on without them) if the gateway
/// does not answer within a minute.
pub(crate) async fn grants(port: u16, key: String) {
    let url = format!("http://127.0.0.1:{port}/graphql");
    crate::scim::install_crypto_provider();
    let http = reqwest::Client::new();
    let ask = |query: &'static str, variables: Value| {
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        async move {
            let answer = http
                .post(&url)
                .bearer_auth(&key)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await
                .ok()?;
            answer.json::<Value>().await.ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let org = loop {
        if let Some(body) = ask(PEOPLE, json!({})).await
            && body["data"]["org"]["sync"]["complete"] == true
        {
            break body["data"]["org"].clone();
        }
        if Instant::now() > deadline {
            tracing::warn!("the demo's sample grants were not made: the gateway did not answer");
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let groups = org["groups"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let users: Vec<String> = org["users"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["node"]["status"] == "ACTIVE")
        .filter_map(|e| e["node"]["email"].as_str().map(str::to_owned))
        .collect();
    let plan = [
        (0, "4h", "INC-2231: debugging the revenue dashboard"),
        (
            1,
            "90s",
            "Demo: this grant ends 90 s after the demo starts; watch org.events",
        ),
        (0, "3h", "Quarter-end close: billing exports"),
    ];
    if let Some(group) = groups.first() {
        let input = json!({
            "name": "Demo: quarterly access review", "groupIds": [group["node"]["id"]],
            "reviewers": [REVIEWER], "justificationRequired": "REVOKE",
        });
        let answer = ask(REVIEW, json!({ "input": input })).await;
        match answer.as_ref().map(|b| &b["data"]["startAccessReview"]) {
            Some(p) if p["outcome"] == "SUCCESS" => tracing::info!(
                page = p["review"]["pagePath"].as_str().unwrap_or_default(),
                "the demo's sample access review is open for {REVIEWER}"
            ),
            other => tracing::warn!(?other, "the demo's sample access review was not started"),
        }
    }
    let mut taken = Vec::new();
    for (g, duration, reason) in plan {
        let Some(group) = groups.get(g.min(groups.len().saturating_sub(1))) else {
            return;
        };
        let members: Vec<&str> = group["node"]["members"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["node"]["email"].as_str())
            .collect();
        let Some(user) = users
            .iter()
            .find(|u| !members.contains(&u.as_str()) && !taken.contains(*u))
        else {
            continue;
        };
        taken.push(user.clone());
        let input = json!({
            "userId": user, "groupId": group["node"]["id"], "duration": duration, "reason": reason,
        });
        let outcome = ask(GRANT, json!({ "input": input })).await;
        let outcome = outcome
            .as_ref()
            .map(|b| &b["data"]["grantGroupAccess"]["outcome"]);
        if outcome != Some(&json!("SUCCESS")) {
            tracing::warn!(?outcome, "a demo grant was not made");
        }
    }
}
