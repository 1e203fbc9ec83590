//! Access review campaigns end to end: started by an admin over a frozen snapshot, decided by
//! a `reviewer` key (and no one else), completed with the revocations sent upstream, each item
//! carrying its apply result, status, time and request id; checked at the emulator.

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, spawn_app_with};

const REVIEW: &str = "id name state reviewers defaultDecision justificationRequired pagePath \
    snapshot { trigger userCount } \
    counts { total keep revoke dontKnow notReviewed finalRevoke applied appliedButNotFound notApplied }";

const ITEMS: &str = "items(first: 100) { edges { node { id number userEmail groupName groupUpstreamId \
    recommendation decision justification decidedBy finalDecision applyResult applyStatus \
    appliedAt appliedBy requestId deactivateUser } } pageInfo { hasNextPage } }";

async fn app() -> TestApp {
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

async fn run(app: &TestApp, who: &str, mutation: &str, input: Value, fields: &str) -> Value {
    let mut name = mutation[..1].to_uppercase();
    name.push_str(&mutation[1..]);
    let q = format!(
        "mutation($input: {name}Input!) {{ {mutation}(input: $input) {{ outcome userErrors {{ code message }} {fields} }} }}"
    );
    let body = as_key(app, who, &q, json!({ "input": input })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"][mutation].clone()
}

async fn review_as(app: &TestApp, who: &str, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ accessReview(id: $id) {{ {REVIEW} {ITEMS} }} }}");
    let body = as_key(app, who, &q, json!({ "id": id })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["accessReview"].clone()
}

fn items(review: &Value) -> Vec<Value> {
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

async fn export(app: &TestApp, key: &str, id: &str, query: &str) -> (u16, String, String) {
    let r = app
        .http
        .get(format!("{}/export/reviews/{id}{query}", app.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

#[tokio::test]
async fn a_review_exports_as_csv_and_json_lines_with_its_header_block_and_outlives_retention() {
    let app = app().await;
    app.warm().await;
    let gid = app.emulator().state().groups()[1]
        .id
        .clone()
        .unwrap()
        .to_string();
    let p = run(
        &app,
        "admin",
        "startAccessReview",
        json!({ "name": "Evidence, \"Q4\"", "groupIds": [gid], "reviewers": ["alice"] }),
        "review { id snapshot { seq hash } }",
    )
    .await;
    let id = p["review"]["id"].as_str().unwrap().to_owned();
    let hash = p["review"]["snapshot"]["hash"].as_str().unwrap().to_owned();
    let seq = p["review"]["snapshot"]["seq"].as_i64().unwrap();
    let first = items(&review_as(&app, "alice", &id).await)[0].clone();
    let p = run(
        &app,
        "alice",
        "decideReviewItems",
        json!({ "reviewId": id, "decisions": [
            { "itemId": first["id"], "decision": "REVOKE", "justification": "no longer needed" } ] }),
        "decided",
    )
    .await;
    assert_eq!(p["outcome"], "SUCCESS", "{p:#}");
    let p = run(
        &app,
        "admin",
        "completeAccessReview",
        json!({ "reviewId": id, "applyRevocations": true }),
        "applied",
    )
    .await;
    assert_eq!(p["applied"], 1, "{p:#}");
    let total = review_as(&app, "admin", &id).await["counts"]["total"]
        .as_u64()
        .unwrap();

    let (status, kind, csv) = export(&app, &app.key, &id, "").await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/csv; charset=utf-8"),
        "{csv}"
    );
    let (head, body): (Vec<&str>, Vec<&str>) = csv.lines().partition(|l| l.starts_with("# "));
    let field = |name: &str| {
        head.iter()
            .find_map(|l| l.strip_prefix(&format!("# {name},")))
            .unwrap_or_else(|| panic!("no {name} in {head:?}"))
            .to_owned()
    };
    assert_eq!(field("organization"), "acme");
    assert_eq!(field("snapshot_hash"), hash);
    assert_eq!(field("state"), "COMPLETED");
    assert_eq!(field("gateway_version"), env!("CARGO_PKG_VERSION"));
    assert!(field("review").contains("Evidence"), "{head:?}");
    assert!(field("generated_at").ends_with('Z'));
    let table = body.join("\n");
    let mut reader = csv::Reader::from_reader(table.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(columns[..3], ["review_id", "item_id", "user_id"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len() as u64, total);
    let col = |name: &str| columns.iter().position(|c| c == name).unwrap();
    let revoked: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[col("decision")] == "REVOKE")
        .collect();
    assert_eq!(revoked.len(), 1);
    let r = revoked[0];
    assert_eq!(&r[col("user_email")], first["userEmail"].as_str().unwrap());
    assert_eq!(&r[col("justification")], "no longer needed");
    assert_eq!(&r[col("reviewer")], "alice");
    assert_eq!(&r[col("apply_result")], "APPLIED");
    assert_eq!(&r[col("applied_by")], "test-admin");
    assert!(!r[col("request_id")].is_empty() && !r[col("upstream_confirmed_at")].is_empty());
    assert!(
        rows.iter()
            .filter(|r| &r[col("decision")] == "NOT_REVIEWED")
            .count() as u64
            == total - 1
    );

    // The export says what GraphQL says, item by item.
    let graphql = items(&review_as(&app, "admin", &id).await);
    for item in &graphql {
        let number = item["number"].to_string();
        let row = rows
            .iter()
            .find(|r| r[col("item_id")] == number)
            .expect("every item exported");
        assert_eq!(&row[col("user_email")], item["userEmail"].as_str().unwrap());
        assert_eq!(
            &row[col("group_id")],
            item["groupUpstreamId"].as_str().unwrap()
        );
        assert_eq!(&row[col("decision")], item["decision"].as_str().unwrap());
        assert_eq!(
            &row[col("final_decision")],
            item["finalDecision"].as_str().unwrap()
        );
        assert_eq!(
            &row[col("apply_result")],
            item["applyResult"].as_str().unwrap_or("")
        );
        assert_eq!(
            &row[col("request_id")],
            item["requestId"].as_str().unwrap_or("")
        );
    }

    let (status, kind, jsonl) = export(&app, &app.key, &id, "?format=jsonl").await;
    assert_eq!((status, kind.as_str()), (200, "application/jsonl"));
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["header"]["snapshot_hash"], hash.as_str());
    assert_eq!(lines.len() as u64, total + 1);
    assert!(lines[1..].iter().any(|l| l["apply_result"] == "APPLIED"));

    // A reviewer key exports nothing; a bad format is named.
    let (status, _, body) = export(&app, &app.keys["alice"], &id, "").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("auditor or admin"), "{body}");
    let (status, _, body) = export(&app, &app.key, &id, "?format=xml").await;
    assert_eq!(status, 400, "{body}");

    // Retention never prunes a review's snapshot: its evidence stays as long as the review.
    let store = app.gateway.store.clone();
    let far = scimgate::store::now_ms() + 10_000 * 86_400_000;
    store.prune_snapshots("acme", far).await.unwrap();
    assert!(store.snapshot("acme", seq).await.unwrap().is_some());
}

#[tokio::test]
async fn the_cli_exports_a_review_from_the_store_with_no_gateway_running() {
    let app = app().await;
    app.warm().await;
    let gid = app.emulator().state().groups()[1]
        .id
        .clone()
        .unwrap()
        .to_string();
    let p = run(
        &app,
        "admin",
        "startAccessReview",
        json!({ "name": "cli", "groupIds": [gid], "reviewers": ["alice"] }),
        "review { id counts { total } }",
    )
    .await;
    let id = p["review"]["id"].as_str().unwrap().to_owned();
    let total = p["review"]["counts"]["total"].as_u64().unwrap();
    let url = app.config.store.url.clone();
    let dir =
        std::env::temp_dir().join(format!("scimgate-review-cli-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{url}\"\n\n[[orgs]]\nid = \"acme\"\nbase_url = \"https://scim.example.com/scim/1\"\nkey_env = \"ACME_REVIEW_SCIM_KEY\"\n"
        ),
    )
    .unwrap();
    let run_cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .args(["review", "export", "--config", config.to_str().unwrap()])
            .args(args)
            .env("ACME_REVIEW_SCIM_KEY", "scim-key-for-the-config-only")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = run_cli(&["--review", &id]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# document,scimgate access review evidence\n"),
        "{text}"
    );
    let table: String = text
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut reader = csv::Reader::from_reader(table.as_bytes());
    assert_eq!(reader.records().count() as u64, total);
    let out = run_cli(&["--review", &id, "--format", "jsonl"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count() as u64,
        total + 1
    );
    let out = run_cli(&["--review", "nope"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no access review"),
        "{out:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
