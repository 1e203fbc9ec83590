//! Access review campaigns end to end: started by an admin over a frozen snapshot, decided by
//! a `reviewer` key (and no one else), completed with the revocations sent upstream, each item
//! carrying its apply result, status, time and request id; checked at the emulator.

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, spawn_app_with};

mod export;

const REVIEW: &str = "id name state reviewers defaultDecision justificationRequired pagePath \
    snapshot { trigger userCount } \
    counts { total keep revoke dontKnow notReviewed finalRevoke applied appliedButNotFound notApplied }";

const ITEMS: &str = "items(first: 100) { edges { node { id number userEmail groupName groupUpstreamId \
    recommendation decision justification decidedBy finalDecision applyResult applyStatus \
    appliedAt appliedBy requestId deactivateUser } } pageInfo { hasNextPage } }";

pub(super) async fn app() -> TestApp {
    spawn_app_with(
        vec![OrgSpec::new("acme", 60, 4)],
        &[
            ("alice", Role::Reviewer, &["acme"]),
            ("eve", Role::Reviewer, &["*"]),
            ("reader", Role::Read, &["*"]),
        ],
        LimitsConfig::default(),
    )
    .await
}

async fn as_key(app: &TestApp, who: &str, query: &str, variables: Value) -> Value {
    let key = if who == "admin" {
        app.key.clone()
    } else {
        app.keys[who].clone()
    };
    app.query_as(&key, query, variables).await
}

pub(super) async fn run(
    app: &TestApp,
    who: &str,
    mutation: &str,
    input: Value,
    fields: &str,
) -> Value {
    let mut name = mutation[..1].to_uppercase();
    name.push_str(&mutation[1..]);
    let q = format!(
        "mutation($input: {name}Input!) {{ {mutation}(input: $input) {{ outcome userErrors {{ code message }} {fields} }} }}"
    );
    let body = as_key(app, who, &q, json!({ "input": input })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"][mutation].clone()
}

pub(super) async fn review_as(app: &TestApp, who: &str, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ accessReview(id: $id) {{ {REVIEW} {ITEMS} }} }}");
    let body = as_key(app, who, &q, json!({ "id": id })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["accessReview"].clone()
}

pub(super) fn items(review: &Value) -> Vec<Value> {
    review["items"]["edges"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .expect("userErrors")
        .iter()
        .map(|e| e["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_campaign_from_start_to_applied_revocations_checked_at_the_emulator() {
    let app = app().await;
    app.warm().await;
    let state = app.emulator().state();
    let group = state.groups()[1].clone();
    let gid = group.id.clone().unwrap().to_string();
    let members: Vec<String> = group.members.iter().map(|m| m.value.clone()).collect();
    assert!(members.len() >= 6, "{members:?}");

    // Only admins start reviews.
    let start = json!({ "name": "Q4 review", "groupIds": [gid], "reviewers": ["alice"] });
    let refused = as_key(
        &app,
        "alice",
        "mutation($i: StartAccessReviewInput!) { startAccessReview(input: $i) { outcome } }",
        json!({ "i": start }),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let p = run(
        &app,
        "admin",
        "startAccessReview",
        start,
        &format!("review {{ {REVIEW} }}"),
    )
    .await;
    assert_eq!(p["outcome"], "SUCCESS", "{p:#}");
    let review = p["review"].clone();
    let id = review["id"].as_str().unwrap().to_owned();
    assert_eq!(review["state"], "IN_PROGRESS");
    assert_eq!(review["snapshot"]["trigger"], "REVIEW");
    assert_eq!(review["counts"]["total"], members.len());
    assert_eq!(review["counts"]["notReviewed"], members.len());
    assert_eq!(review["justificationRequired"], "REVOKE");
    assert!(
        review["pagePath"]
            .as_str()
            .unwrap()
            .starts_with("/reviews/")
    );

    // The reviewer it names sees it (without the snapshot); other keys see nothing.
    let seen = review_as(&app, "alice", &id).await;
    assert!(seen["snapshot"].is_null(), "{seen}");
    let list = items(&seen);
    assert_eq!(list.len(), members.len());
    assert!(list.iter().all(|i| i["groupUpstreamId"] == gid.as_str()));
    let mut emails: Vec<String> = list
        .iter()
        .map(|i| i["userEmail"].as_str().unwrap().to_lowercase())
        .collect();
    emails.sort();
    let mut expected = members.clone();
    expected.sort();
    assert_eq!(
        emails, expected,
        "one item per member, as the snapshot froze them"
    );
    for who in ["eve", "reader"] {
        assert!(review_as(&app, who, &id).await.is_null(), "{who}");
    }
    // A reviewer reaches nothing else: not the organization, not its audit log.
    let body = as_key(
        &app,
        "alice",
        "{ org { auditLog(first: 1) { edges { node { seq } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert!(body["data"]["org"].is_null(), "{body}");

    // A revocation without its justification: refused, nothing recorded.
    let item = |n: usize| list[n]["id"].clone();
    let p = run(
        &app,
        "alice",
        "decideReviewItems",
        json!({ "reviewId": id, "decisions": [
            { "itemId": item(0), "decision": "KEEP" },
            { "itemId": item(1), "decision": "REVOKE" } ] }),
        "decided",
    )
    .await;
    assert_eq!(codes(&p), vec!["JUSTIFICATION_REQUIRED"], "{p:#}");
    assert_eq!(review_as(&app, "alice", &id).await["counts"]["keep"], 0);
    // A reviewer the review does not name.
    let p = run(
        &app,
        "eve",
        "decideReviewItems",
        json!({ "reviewId": id, "decisions": [{ "itemId": item(0), "decision": "KEEP" }] }),
        "decided",
    )
    .await;
    assert_eq!(codes(&p), vec!["NOT_A_REVIEWER"], "{p:#}");

    let p = run(
        &app,
        "alice",
        "decideReviewItems",
        json!({ "reviewId": id, "decisions": [
            { "itemId": item(0), "decision": "KEEP" },
            { "itemId": item(1), "decision": "REVOKE", "justification": "left the team" },
            { "itemId": item(2), "decision": "REVOKE", "justification": "offboarded", "deactivateUser": true },
            { "itemId": item(3), "decision": "DONT_KNOW" } ] }),
        "decided review { counts { keep revoke dontKnow notReviewed } }",
    )
    .await;
    assert_eq!(p["outcome"], "SUCCESS", "{p:#}");
    assert_eq!(p["decided"], 4);
    let c = &p["review"]["counts"];
    assert_eq!(
        (
            c["keep"].clone(),
            c["revoke"].clone(),
            c["dontKnow"].clone()
        ),
        (json!(1), json!(2), json!(1))
    );
    assert_eq!(c["notReviewed"], members.len() - 4);

    let email = |n: usize| list[n]["userEmail"].as_str().unwrap().to_lowercase();
    let mark = app.emulator().requests().len();
    let p = run(
        &app,
        "alice",
        "completeAccessReview",
        json!({ "reviewId": id, "applyRevocations": true }),
        "applied appliedButNotFound notApplied deactivated review { state }",
    )
    .await;
    assert_eq!(p["outcome"], "SUCCESS", "{p:#}");
    assert_eq!(
        (p["applied"].clone(), p["deactivated"].clone()),
        (json!(2), json!(1)),
        "{p:#}"
    );
    assert_eq!(p["review"]["state"], "COMPLETED");
    // At the emulator: one PATCH removing both members, then the deactivation.
    let writes: Vec<String> = app.emulator().requests()[mark..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.status))
        .collect();
    assert_eq!(writes, vec!["PATCH 200", "PUT 200"], "{writes:?}");
    let now: Vec<String> = state
        .group(&gid)
        .unwrap()
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    assert!(
        !now.contains(&email(1)) && !now.contains(&email(2)),
        "{now:?}"
    );
    assert!(now.contains(&email(0)) && now.contains(&email(3)) && now.contains(&email(4)));
    assert!(
        state.user(&email(2)).is_none_or(|u| !u.active),
        "deactivated"
    );

    let done = review_as(&app, "admin", &id).await;
    let list = items(&done);
    let by_email = |e: &str| {
        list.iter()
            .find(|i| i["userEmail"].as_str().unwrap().eq_ignore_ascii_case(e))
            .unwrap()
            .clone()
    };
    let revoked = by_email(&email(1));
    assert_eq!(revoked["finalDecision"], "REVOKE");
    assert_eq!(revoked["applyResult"], "APPLIED");
    assert_eq!(revoked["applyStatus"], 200);
    assert_eq!(revoked["appliedBy"], "alice");
    assert!(revoked["appliedAt"].is_string());
    assert_eq!(revoked["decidedBy"], "alice");
    assert_eq!(revoked["justification"], "left the team");
    let kept = by_email(&email(0));
    assert_eq!(
        (kept["finalDecision"].clone(), kept["applyResult"].clone()),
        (json!("KEEP"), Value::Null)
    );
    let unsure = by_email(&email(3));
    assert_eq!(unsure["finalDecision"], "DONT_KNOW");
    let untouched = by_email(&email(4));
    assert_eq!(
        untouched["finalDecision"], "NOT_REVIEWED",
        "never silently kept or removed"
    );
    let c = &done["counts"];
    assert_eq!(
        (c["finalRevoke"].clone(), c["applied"].clone()),
        (json!(2), json!(2))
    );

    // The revoking call's audit row carries the review and the item's request id.
    let rid = revoked["requestId"].as_str().unwrap();
    let audit = app
        .data(
            "{ org { auditLog(first: 20, filter: { action: \"review.revoke\" }) { edges { node { requestId actor outcome input calls { method status } } } } } }",
            json!({}),
        )
        .await;
    let rows = audit["org"]["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1, "{audit:#}");
    let row = &rows[0]["node"];
    assert_eq!(row["requestId"], rid);
    assert_eq!(row["actor"], "alice");
    assert_eq!(row["outcome"], "SUCCESS");
    let input: Value = serde_json::from_str(row["input"].as_str().unwrap()).unwrap();
    assert!(
        input["review"].is_string() && input["items"].as_array().is_some_and(|i| i.len() == 2),
        "{input}"
    );
    assert_eq!(row["calls"][0]["method"], "PATCH");

    // A completed review takes no more decisions and cannot be completed again.
    let p = run(
        &app,
        "alice",
        "decideReviewItems",
        json!({ "reviewId": id, "decisions": [{ "itemId": item(5), "decision": "KEEP" }] }),
        "decided",
    )
    .await;
    assert_eq!(codes(&p), vec!["REVIEW_NOT_IN_PROGRESS"]);
    let p = run(
        &app,
        "admin",
        "completeAccessReview",
        json!({ "reviewId": id, "applyRevocations": true }),
        "applied",
    )
    .await;
    assert_eq!(codes(&p), vec!["REVIEW_NOT_IN_PROGRESS"]);
}

#[tokio::test]
async fn a_default_of_revoke_removes_the_undecided_and_a_membership_gone_meanwhile_is_not_found() {
    let app = app().await;
    app.warm().await;
    let state = app.emulator().state();
    let group = state.groups()[2].clone();
    let gid = group.id.clone().unwrap().to_string();
    let members: Vec<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    assert!(members.len() >= 2, "{members:?}");
    let p = run(
        &app,
        "admin",
        "startAccessReview",
        json!({ "name": "strict", "groupIds": [gid], "reviewers": ["alice"],
                "defaultDecision": "REVOKE", "justificationRequired": "NEVER" }),
        "review { id }",
    )
    .await;
    let id = p["review"]["id"].as_str().unwrap().to_owned();
    // One member leaves the group through the gateway before completion.
    let gone = members[0].clone();
    let q = "mutation($g: ID!, $u: [ID!]!) { removeGroupMembers(input: { groupId: $g, userIds: $u }) { outcome } }";
    let group_gid = app
        .data(
            "query($id: ID!) { org { group(id: $id) { id } } }",
            json!({ "id": gid }),
        )
        .await["org"]["group"]["id"]
        .clone();
    let r = app.data(q, json!({ "g": group_gid, "u": [gone] })).await;
    assert_eq!(r["removeGroupMembers"]["outcome"], "SUCCESS");

    let p = run(
        &app,
        "admin",
        "completeAccessReview",
        json!({ "reviewId": id, "applyRevocations": true }),
        "applied appliedButNotFound",
    )
    .await;
    assert_eq!(p["appliedButNotFound"], 1, "{p:#}");
    assert_eq!(p["applied"], members.len() - 1, "{p:#}");
    assert!(state.group(&gid).unwrap().members.is_empty());
    let done = review_as(&app, "admin", &id).await;
    let gone_item = items(&done)
        .into_iter()
        .find(|i| i["userEmail"].as_str().unwrap().eq_ignore_ascii_case(&gone))
        .unwrap();
    assert_eq!(gone_item["applyResult"], "APPLIED_BUT_NOT_FOUND");
    assert_eq!(gone_item["finalDecision"], "REVOKE");
}
