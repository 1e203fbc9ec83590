//! The graphql-http server audits run against the gateway by Node (`tests/audit/`): every MUST
//! and SHOULD of the GraphQL-over-HTTP spec. `.ci/run` installs the audit package; without it
//! (or without Node) the test says so and skips.

use std::path::Path;
use std::process::Command;

use crate::support::TestApp;

#[tokio::test]
async fn the_graphql_over_http_audits_all_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit");
    if !dir.join("node_modules/graphql-http").is_dir() {
        println!("skipped: run `npm ci` in tests/audit to run the graphql-http audits");
        return;
    }
    if Command::new("node").arg("--version").output().is_err() {
        println!("skipped: no `node` on PATH for the graphql-http audits");
        return;
    }
    let app = TestApp::one(5, 1).await;
    let url = format!("{}/graphql", app.url);
    let key = app.key.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("audit.mjs")
            .arg(url)
            .arg(key)
            .current_dir(dir)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout.lines().last().unwrap_or("");
    assert!(
        summary.starts_with("audits: ") && summary.contains(" 0 warn, 0 error of "),
        "{stdout}"
    );
    let ok: u32 = summary["audits: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ok >= 61, "{stdout}");
}

/// GraphiQL's page runs a subscription: its SSE fetcher (the part of the page between its
/// markers) under Node streams the event of a write and closes the stream when stopped.
#[tokio::test]
async fn graphiql_runs_a_subscription_over_sse_and_stops_it() {
    if Command::new("node").arg("--version").output().is_err() {
        println!("skipped: no `node` on PATH for the GraphiQL subscription check");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit");
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let (url, key) = (app.url.clone(), app.key.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("graphiql-subscription.mjs")
            .arg(url)
            .arg(key)
            .current_dir(dir)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["event user.invited test-admin", "stopped"],
        "{stdout}"
    );
    // The stopped stream is let go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.gateway.store.followers("acme") > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the stream stayed open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
