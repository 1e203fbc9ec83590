//! The review page (`/reviews/{id}`) in headless Chromium, driven by playwright-core from
//! `tests/audit/review-page.mjs`: a reviewer enters its key, filters by group, decides three
//! items and completes the review; the revocations are then checked at the emulator. Without
//! Chromium, Node or `tests/audit/node_modules` (see `.ci/run`) the test says so and skips.
//! The report is then printed to PDF there too. With `SCIMGATE_SCREENSHOTS=<dir>` it also
//! leaves screenshots of the page and the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::support::{OrgSpec, spawn_app_with};

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Why the browser test cannot run here, if it cannot.
fn missing(dir: &Path) -> Option<String> {
    if !chromium().exists() {
        return Some(format!(
            "no Chromium at {} (apt-get install chromium, or set CHROMIUM)",
            chromium().display()
        ));
    }
    if Command::new("nice").arg("true").output().is_err() {
        return Some("no `nice` on PATH".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no `node` on PATH".into());
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Some("run `npm ci` in tests/audit for playwright-core".into());
    }
    None
}

#[tokio::test]
async fn a_reviewer_decides_and_completes_in_the_browser_and_the_emulator_shows_the_revocations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit");
    if let Some(why) = missing(&dir) {
        println!("skipped: the review page's browser test needs Chromium: {why}");
        return;
    }
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 40, 3)],
        &[("alice", Role::Reviewer, &["acme"])],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let state = app.emulator().state();
    let group = state.groups()[1].clone();
    let gid = group.id.clone().unwrap().to_string();
    let members: Vec<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    assert!(members.len() >= 4, "{members:?}");

    // Over two groups, so that the page's group filter has something to leave out.
    let other = state.groups()[2].id.clone().unwrap().to_string();
    let start = app
        .data(
            "mutation($i: StartAccessReviewInput!) { startAccessReview(input: $i) { outcome review { id name counts { total } } } }",
            json!({ "i": { "name": "Q4 <sales> review", "groupIds": [gid, other], "reviewers": ["alice"] } }),
        )
        .await;
    let review = &start["startAccessReview"]["review"];
    let id = review["id"].as_str().expect("a review id").to_owned();

    let (kept, revoked) = (
        members[0].clone(),
        vec![members[1].clone(), members[2].clone()],
    );
    let plan = json!([
        { "user": kept, "decision": "KEEP", "comment": "" },
        { "user": revoked[0], "decision": "REVOKE", "comment": "left the team" },
        { "user": revoked[1], "decision": "REVOKE", "comment": "contract ended" },
    ]);
    // Relative to the crate (the script runs in tests/audit).
    let shots = std::env::var_os("SCIMGATE_SCREENSHOTS")
        .map(|d| Path::new(env!("CARGO_MANIFEST_DIR")).join(d));
    let mark = app.emulator().requests().len();
    let (url, key, admin, gid2) = (
        app.url.clone(),
        app.keys["alice"].clone(),
        app.key.clone(),
        gid.clone(),
    );
    let review_id = id.clone();
    let pdf = std::env::temp_dir().join(format!("scimgate-review-{}.pdf", std::process::id()));
    let pdf_path = pdf.clone();
    let output = tokio::task::spawn_blocking(move || {
        // At the lowest CPU priority: Chromium's bursts must not starve the timing-sensitive
        // tests running beside it on a small machine.
        let mut cmd = Command::new("nice");
        cmd.args(["-n", "19", "node", "review-page.mjs"])
            .args([&url, &review_id, &key, &gid2, &plan.to_string()])
            .env("CHROMIUM", chromium())
            .current_dir(dir);
        cmd.arg(admin).arg(&pdf_path);
        if let Some(shots) = shots {
            cmd.arg(shots);
        }
        cmd.output().expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |prefix: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {stdout}"))
            .to_owned()
    };
    assert!(
        !stdout.contains("pageerror") && !stdout.contains("foreign"),
        "{stdout}"
    );
    assert!(line("wrong key:").contains("not accepted"), "{stdout}");
    assert_eq!(
        line("key in page:"),
        "key in page: false",
        "the key stays out of the page"
    );
    assert_eq!(line("title:"), "title: Access review: Q4 <sales> review");
    let total = review["counts"]["total"].as_i64().unwrap();
    assert_eq!(
        line("rows:"),
        format!("rows: {total} filtered: {} groups: {gid}", members.len()),
        "the group filter shows that group's items only"
    );
    assert!(
        line("no comment:").contains("comment (justification) is required"),
        "{stdout}"
    );
    assert_eq!(line("pending:"), "pending: 3 unsaved decision(s)");
    assert_eq!(line("saved:"), "saved: Saved 3 decision(s).");
    assert!(
        line(&format!("current {kept} ")).contains("KEEPby alice"),
        "{stdout}"
    );
    assert!(line(&format!("current {} ", revoked[0])).contains("REVOKEby alice: left the team"));
    assert!(
        line("completed:").contains("Revocations applied: 2,"),
        "{stdout}"
    );
    assert!(line("summary:").contains("State COMPLETED"), "{stdout}");
    assert_eq!(
        line(&format!("result {kept} ")),
        format!("result {kept} KEEP")
    );
    for r in &revoked {
        assert_eq!(line(&format!("result {r} ")), format!("result {r} APPLIED"));
    }
    assert_eq!(line("save disabled:"), "save disabled: true");
    // The report opens in the browser with nothing fetched from elsewhere, and prints.
    assert_eq!(
        line("report:"),
        "report: Access review report: Q4 <sales> review"
    );
    assert_eq!(line("print thead:"), "print thead: table-header-group");
    let printed = std::fs::read(&pdf).expect("the report's PDF");
    let _ = std::fs::remove_file(&pdf);
    assert!(
        printed.starts_with(b"%PDF-") && printed.len() > 10_000,
        "{}",
        printed.len()
    );

    // At the emulator: one PATCH took exactly the two revoked members out of the group.
    let writes: Vec<String> = app.emulator().requests()[mark..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| {
            let to_group = r.path.ends_with(&format!("/Groups/{gid}"));
            format!("{} {} {to_group}", r.method, r.status)
        })
        .collect();
    assert_eq!(writes, vec!["PATCH 200 true"], "{writes:?}");
    let mut now: Vec<String> = state
        .group(&gid)
        .unwrap()
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    now.sort();
    let mut expected: Vec<String> = members
        .iter()
        .filter(|m| !revoked.contains(m))
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(now, expected, "exactly the revoked members are gone");

    // And the review's items say so.
    let done = app
        .data(
            "query($id: ID!) { accessReview(id: $id) { state items(first: 100) { edges { node { userEmail groupUpstreamId decision justification decidedBy applyResult } } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(done["accessReview"]["state"], "COMPLETED");
    let items: Vec<Value> = done["accessReview"]["items"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .filter(|n| n["groupUpstreamId"] == gid.as_str())
        .collect();
    let of = |e: &str| {
        items
            .iter()
            .find(|i| i["userEmail"].as_str().unwrap().eq_ignore_ascii_case(e))
            .unwrap()
            .clone()
    };
    for (r, why) in revoked.iter().zip(["left the team", "contract ended"]) {
        let item = of(r);
        assert_eq!(
            (
                &item["decision"],
                &item["applyResult"],
                &item["justification"],
                &item["decidedBy"]
            ),
            (
                &json!("REVOKE"),
                &json!("APPLIED"),
                &json!(why),
                &json!("alice")
            ),
            "{item}"
        );
    }
    let item = of(&kept);
    assert_eq!(
        (&item["decision"], &item["applyResult"]),
        (&json!("KEEP"), &Value::Null)
    );
}
