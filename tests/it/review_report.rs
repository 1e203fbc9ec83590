//! `GET /reviews/{id}/report`: the self-contained HTML report of an access review, for admin
//! and auditor keys (Bearer or `?access_token=`): its header, counts, the changes since the
//! previous review, the decisions with their apply results, the chain of hashes; every value
//! escaped (a user named `<script>` stays text); reviewer keys refused with a reason.

use std::time::{Duration, Instant};

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, spawn_app_with};

const EVIL: &str = "<script>alert(1)</script>";

async fn mutate(app: &TestApp, key: &str, name: &str, input: Value, fields: &str) -> Value {
    let mut ty = name[..1].to_uppercase();
    ty.push_str(&name[1..]);
    let q = format!(
        "mutation($i: {ty}Input!) {{ {name}(input: $i) {{ outcome userErrors {{ code message }} {fields} }} }}"
    );
    let body = app.query_as(key, &q, json!({ "i": input })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let p = body["data"][name].clone();
    assert_eq!(p["outcome"], "SUCCESS", "{p:#}");
    p
}

async fn get(app: &TestApp, path: &str, key: Option<&str>) -> (u16, String, String) {
    let mut req = app.http.get(format!("{}{path}", app.url));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let r = req.send().await.expect("gateway answers");
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, r.text().await.unwrap())
}

/// Adds a user named [`EVIL`] to group `gid` behind the gateway's back, and refreshes until
/// the mirror has it.
async fn add_evil_member(app: &TestApp, gid: &str) {
    let emu = app.emulator();
    let user = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "evil@example.com", "name": { "givenName": EVIL, "familyName": "Doe" },
        "emails": [{ "value": "evil@example.com", "primary": true }] });
    let r = reqwest::Client::new()
        .post(format!("{}/users", emu.admin_url()))
        .json(&user)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let op = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "add", "path": "members", "value": [{ "value": "evil@example.com" }] }] });
    let r = reqwest::Client::new()
        .patch(format!("{}/Groups/{gid}", emu.base_url()))
        .bearer_auth(emu.token())
        .json(&op)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let dir = app.gateway.dirs.all()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        app.warm().await;
        if dir
            .snapshot()
            .users()
            .iter()
            .any(|u| u.key() == "evil@example.com")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no refresh found the new user");
    }
}

#[tokio::test]
async fn the_report_shows_counts_changes_decisions_and_hashes_escaped_for_auditors_only() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 30, 3)],
        &[
            ("alice", Role::Reviewer, &["acme"]),
            ("audra", Role::Auditor, &["acme"]),
        ],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let group = app.emulator().state().groups()[1].clone();
    let gid = group.id.clone().unwrap().to_string();
    let admin = app.key.clone();

    // A first review, completed without decisions: the previous one for the second.
    let start = json!({ "name": "Q3", "groupIds": [gid], "reviewers": ["alice"] });
    let first = mutate(&app, &admin, "startAccessReview", start, "review { id }").await;
    let first_id = first["review"]["id"].as_str().unwrap().to_owned();
    let done = json!({ "reviewId": first_id, "applyRevocations": false });
    mutate(&app, &admin, "completeAccessReview", done, "applied").await;

    add_evil_member(&app, &gid).await;
    let start = json!({ "name": "Q4 & <year-end>", "groupIds": [gid], "reviewers": ["alice"] });
    let second = mutate(
        &app,
        &admin,
        "startAccessReview",
        start,
        "review { id snapshot { seq hash previousHash } items(first: 100) { edges { node { id userEmail } } } }",
    )
    .await;
    let review = &second["review"];
    let id = review["id"].as_str().unwrap().to_owned();
    let items: Vec<Value> = review["items"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let evil = items
        .iter()
        .find(|i| i["userEmail"] == "evil@example.com")
        .expect("the new member is an item");
    let kept = items
        .iter()
        .find(|i| i["userEmail"] != "evil@example.com")
        .unwrap();
    let decide = json!({ "reviewId": id, "decisions": [
        { "itemId": evil["id"], "decision": "REVOKE", "justification": "unknown <b>account</b>" },
        { "itemId": kept["id"], "decision": "KEEP" } ] });
    mutate(
        &app,
        &app.keys["alice"],
        "decideReviewItems",
        decide,
        "decided",
    )
    .await;
    let done = json!({ "reviewId": id, "applyRevocations": true });
    let p = mutate(
        &app,
        &app.keys["alice"],
        "completeAccessReview",
        done,
        "applied",
    )
    .await;
    assert_eq!(p["applied"], 1, "{p:#}");

    let path = format!("/reviews/{id}/report");
    let (status, kind, html) = get(&app, &path, Some(&app.keys["audra"])).await;
    assert_eq!(status, 200, "{html}");
    assert!(kind.starts_with("text/html"), "{kind}");
    // Escaped everywhere: the user's name, the review's name, the justification.
    assert!(!html.contains("<script"), "no script in the report");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Doe &lt;evil@example.com&gt;"));
    assert!(html.contains("Access review report: Q4 &amp; &lt;year-end&gt;</h1>"));
    assert!(html.contains("unknown &lt;b&gt;account&lt;/b&gt;"));
    // Self-contained and printable.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<link"));
    assert!(html.contains("@media print"));
    // The header block.
    for needle in [
        "<dt>Organization</dt><dd>acme</dd>",
        &format!(
            "<dt>Gateway version</dt><dd>{}</dd>",
            env!("CARGO_PKG_VERSION")
        ),
        &format!(
            "<dt>Snapshot hash</dt><dd>{}</dd>",
            review["snapshot"]["hash"].as_str().unwrap()
        ),
        &format!(
            "<dt>Previous hash</dt><dd>{}</dd>",
            review["snapshot"]["previousHash"].as_str().unwrap()
        ),
        "<dt>Completed</dt><dd>",
        "<dt>Mirror&#39;s age when taken</dt>",
        "<dt>Generated at</dt>",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    // The counts.
    let total = items.len();
    for (name, n) in [
        ("total", total),
        ("keep", 1),
        ("revoke", 1),
        ("not-reviewed", total - 2),
        ("applied", 1),
    ] {
        let cell = format!("data-count=\"{name}\">{n}</td>");
        assert!(html.contains(&cell), "{cell} in {html}");
    }
    // The changes since the first review: the one membership granted (and its user added).
    assert!(html.contains("From the snapshot of review “Q3”"), "{html}");
    assert!(
        html.contains("<tr><td>membership granted</td><td>evil@example.com</td>"),
        "{html}"
    );
    assert!(
        html.contains("<tr><td>user added</td><td>evil@example.com</td>"),
        "{html}"
    );
    // The decisions: the revoked item with its reviewer and apply result.
    let revoked_row = html
        .lines()
        .find(|l| l.contains("evil@example.com") && l.contains("REVOKE"))
        .expect("the revoked item's row");
    assert!(revoked_row.contains("<td>alice</td>"), "{revoked_row}");
    assert!(
        revoked_row.contains("<td>APPLIED (HTTP 200)</td>"),
        "{revoked_row}"
    );
    // The chain: the first review's snapshot linking to the second's.
    assert!(html.contains(review["snapshot"]["previousHash"].as_str().unwrap()));
    assert!(html.contains("<span class=\"ok\">holds</span>") && !html.contains("BROKEN"));

    // The first review's report has no previous review to compare with.
    let (status, _, html) = get(&app, &format!("/reviews/{first_id}/report"), Some(&admin)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("None: this is the organization's first access review."),
        "{html}"
    );

    // The key in the query string works too.
    let (status, _, html) = get(&app, &format!("{path}?access_token={admin}"), None).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-count=\"applied\">1</td>"));
}

#[tokio::test]
async fn the_report_refuses_reviewers_and_strangers_with_a_reason() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 10, 2)],
        &[("alice", Role::Reviewer, &["acme"])],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let gid = app.emulator().state().groups()[0]
        .id
        .clone()
        .unwrap()
        .to_string();
    let start = json!({ "name": "Q4", "groupIds": [gid], "reviewers": ["alice"] });
    let p = mutate(&app, &app.key, "startAccessReview", start, "review { id }").await;
    let path = format!("/reviews/{}/report", p["review"]["id"].as_str().unwrap());

    let code = |body: &str| -> Value {
        serde_json::from_str::<Value>(body).expect("a JSON error")["errors"][0]["extensions"]["code"].clone()
    };
    let (status, kind, body) = get(&app, &path, Some(&app.keys["alice"])).await;
    assert_eq!((status, kind.as_str()), (403, "application/json"), "{body}");
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(
        body.contains(
            "has the reviewer role; the access review report needs the auditor or admin role"
        ),
        "{body}"
    );
    let (status, _, body) = get(
        &app,
        &format!("{path}?access_token={}", app.keys["alice"]),
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (403, json!("FORBIDDEN")), "{body}");
    let (status, _, body) = get(&app, &path, None).await;
    assert_eq!(
        (status, code(&body)),
        (401, json!("UNAUTHENTICATED")),
        "{body}"
    );
    let (status, _, body) = get(&app, &format!("{path}?access_token=nope"), None).await;
    assert_eq!(
        (status, code(&body)),
        (401, json!("UNAUTHENTICATED")),
        "{body}"
    );
    let (status, _, body) = get(&app, &format!("{path}?format=pdf"), Some(&app.key)).await;
    assert_eq!((status, code(&body)), (400, json!("BAD_REQUEST")), "{body}");
    let (status, _, body) = get(&app, "/reviews/not-an-id/report", Some(&app.key)).await;
    assert_eq!((status, code(&body)), (404, json!("NOT_FOUND")), "{body}");
    // The page itself: served for a review id, refused with a code for anything else.
    let (status, kind, page) = get(&app, &path.replace("/report", ""), None).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"));
    assert!(page.contains("/assets/review/review.js") && !page.contains(&app.key));
    let (status, _, body) = get(&app, "/reviews/not-an-id", None).await;
    assert_eq!((status, code(&body)), (404, json!("NOT_FOUND")), "{body}");
    let (status, kind, js) = get(&app, "/assets/review/review.js", None).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/javascript") && js.contains("decideReviewItems"));
}
