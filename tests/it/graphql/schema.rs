//! The committed SDL is the code's SDL.

#[test]
fn schema_graphql_matches_the_code() {
    let sdl = scimgate::graphql::sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &sdl).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema.graphql differs from the code's schema; run `UPDATE_SCHEMA=1 cargo test schema_graphql` (or `cargo run -- schema > schema.graphql`) and review the diff"
    );
}

/// The GraphQL examples in the README run without errors.
#[tokio::test]
async fn readme_graphql_examples_run() {
    let app = crate::support::TestApp::one(40, 3).await;
    let readme = include_str!("../../../README.md");
    let blocks: Vec<&str> = readme
        .split("```graphql\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(!blocks.is_empty());
    for block in blocks {
        let body = app.query(block, serde_json::json!({})).await;
        assert!(body.get("errors").is_none(), "{block}\n{body:#}");
    }
    let sample = scimgate::gateway::SAMPLE_QUERY;
    let body = app.query(sample, serde_json::json!({})).await;
    assert!(
        body.get("errors").is_none(),
        "GraphiQL's sample query: {body:#}"
    );
}
