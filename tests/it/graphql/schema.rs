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
        if block.trim_start().starts_with("subscription") {
            subscription_example(&app, block).await;
            continue;
        }
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

/// A subscription example runs over SSE and gets the event of a write made meanwhile.
async fn subscription_example(app: &crate::support::TestApp, block: &str) {
    use crate::subscriptions::client::Sse;

    let mut stream = Sse::post(&app.url, &app.key, block, serde_json::json!({})).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.gateway.store.followers("acme") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{block} never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let invite = "mutation { inviteUser(input: { email: \"readme@example.com\", givenName: \"Read\", familyName: \"Me\" }) { outcome } }";
    let body = app.query(invite, serde_json::json!({})).await;
    assert_eq!(body["data"]["inviteUser"]["outcome"], "SUCCESS", "{body:#}");
    let result = stream.results(1).await.remove(0);
    assert!(result.get("errors").is_none(), "{block}\n{result:#}");
    assert_eq!(
        result["data"]["directoryEvents"]["node"]["kind"], "user.invited",
        "{result:#}"
    );
}

/// The limits walk checks `first` and `last` as 32-bit Ints before anything runs (async-graphql's
/// validation lets 64-bit numbers through); that holds only while they are the only `Int`
/// arguments and no input field is an `Int`.
#[test]
fn first_and_last_are_the_only_int_inputs() {
    let sdl = scimgate::graphql::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).unwrap();
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let is_int = |ty: &async_graphql::parser::types::Type| {
        ty.to_string()
            .trim_matches(|c| c == '[' || c == ']' || c == '!')
            == "Int"
    };
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let t = &t.node;
        match &t.kind {
            TypeKind::Object(o) => {
                for f in &o.fields {
                    for a in &f.node.arguments {
                        if is_int(&a.node.ty.node) {
                            let name = a.node.name.node.as_str();
                            assert!(
                                ["first", "last"].contains(&name),
                                "{}.{}({name}: Int)",
                                t.name.node,
                                f.node.name.node
                            );
                        }
                    }
                }
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    assert!(
                        !is_int(&f.node.ty.node),
                        "input {}.{} is an Int",
                        t.name.node,
                        f.node.name.node
                    );
                }
            }
            _ => {}
        }
    }
}
