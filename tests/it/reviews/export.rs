//! A review's evidence: the HTTP export (CSV and JSON Lines with their header block, matching
//! GraphQL item by item) and the CLI's, straight from the store.

use serde_json::{Value, json};

use super::{app, items, review_as, run};
use crate::support::TestApp;

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
