//! Secrets never leave: the gateway runs a representative workload with trace-level logging
//! into a buffer, and no SCIM key or API key appears in it, nor in any response.
//!
//! A binary of its own: logging is process-wide, and other tests' threads must not share it.

#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::json;

use support::{OrgSpec, spawn_app_with};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_key_appears_in_trace_logs_or_in_any_response() {
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let revoked_key = format!("scim-revoked-{:016x}", rand::random::<u64>());
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this process");
    let (secrets, bodies) = {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut revoked = OrgSpec::new("globex", 10, 1);
            revoked.scim_key = Some(revoked_key.clone());
            let app = spawn_app_with(
                vec![OrgSpec::new("acme", 40, 3), revoked],
                &[("reader", Role::Read, &["acme"])],
                LimitsConfig::default(),
            )
            .await;
            let mut bodies = Vec::new();
            let reader = app.keys["reader"].clone();
            let user = app.emulators[0].state().users()[3].user_name.clone();
            for (key, query) in [
                (&app.key, "{ org(id: \"acme\") { users(first: 5) { edges { node { id email scim groups { totalCount } } } } } }".to_owned()),
                (&app.key, format!("{{ org(id: \"acme\") {{ user(email: \"{user}\") {{ email }} budget {{ remaining }} }} }}")),
                (&app.key, "{ org(id: \"globex\") { users(first: 5) { totalCount } } }".to_owned()),
                (&app.key, "mutation { inviteUser(input: { org: \"acme\", email: \"new@example.com\", givenName: \"N\", familyName: \"P\" }) { outcome } }".to_owned()),
                (&app.key, format!("mutation {{ deactivateUser(input: {{ id: \"{user}\" }}) {{ outcome userErrors {{ message }} }} }}")),
                (&app.key, "mutation { deactivateUser(input: { id: \"not an id\" }) { outcome userErrors { message } } }".to_owned()),
                (&app.key, "{ org { nope } }".to_owned()),
                (&reader, "mutation { refreshDirectory(input: {}) { outcome } }".to_owned()),
                (&reader, "{ viewer { name role } }".to_owned()),
                (&"sgk_wrong".to_owned(), "{ orgs { slug } }".to_owned()),
                (&app.emulators[0].token().to_owned(), "{ orgs { slug } }".to_owned()),
            ] {
                bodies.push(app.query_as(key, &query, json!({})).await.to_string());
            }
            let globex = app.query(r#"{ org(id: "globex") { budget { credentialRevoked } } }"#, json!({})).await;
            assert_eq!(globex["data"]["org"]["budget"]["credentialRevoked"], true, "the revoked path ran: {globex}");
            bodies.push(globex.to_string());
            // A full refresh, so its logging is in the buffer too.
            app.gateway.dirs.get("acme").unwrap().refresh().await.unwrap();
            let secrets = vec![
                app.key.clone(),
                reader,
                app.emulators[0].token().to_owned(),
                app.emulators[1].token().to_owned(),
                revoked_key.clone(),
            ];
            (secrets, bodies)
        })
    };
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("TRACE") && logs.contains("mirror refreshed"),
        "trace logs were captured: {} bytes, starting {:?}",
        logs.len(),
        &logs[..logs.len().min(3000)]
    );
    assert!(
        logs.contains("rejected the SCIM key"),
        "the revocation was logged"
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a key appears in the logs");
        for body in &bodies {
            assert!(
                !body.contains(secret.as_str()),
                "a key appears in a response: {body}"
            );
        }
    }
}
