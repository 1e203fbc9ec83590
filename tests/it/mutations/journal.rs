//! Every write goes through the store: audited with the calls it made, refused before anything
//! is sent when the store cannot record it, and answered from its idempotency record after a
//! restart, with open invitations remembered.

use scimgate::store::{AuditFilter, Window};
use serde_json::{Value, json};

use super::{assert_success, error_codes, mutate, mutation_text};
use crate::support::TestApp;

/// Requests other than GET the emulator received.
fn writes_at(app: &TestApp) -> Vec<(String, String, u16)> {
    app.emulator()
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path, r.status))
        .collect()
}

/// The e-mail of the emulator's `i`th seeded user.
fn seeded(app: &TestApp, i: usize) -> String {
    app.emulator().state().users()[i].user_name.clone()
}

async fn audit_rows(app: &TestApp) -> Vec<scimgate::store::AuditEntry> {
    app.gateway
        .store
        .audit_page(&AuditFilter::default(), Window::default(), 1000)
        .await
        .expect("the audit log reads")
}

#[tokio::test]
async fn every_write_is_audited_with_the_upstream_calls_it_made() {
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let invited = mutate(
        &app,
        "inviteUser",
        json!({ "email": "Ana.Silva@Example.org", "givenName": "Ana", "familyName": "Silva" }),
    )
    .await;
    assert_success(&invited);
    let refused = mutate(
        &app,
        "inviteUser",
        json!({ "email": "not an address", "givenName": "X", "familyName": "Y" }),
    )
    .await;
    assert_eq!(error_codes(&refused), vec!["INVALID_EMAIL"]);

    let rows = audit_rows(&app).await;
    let writes: Vec<_> = rows
        .iter()
        .filter(|r| r.record.action == "inviteUser")
        .collect();
    assert_eq!(writes.len(), 2, "one row per attempt, the refused one too");
    let ok = &writes[0].record;
    assert_eq!(
        (
            ok.actor.as_str(),
            ok.role.as_str(),
            ok.org.as_str(),
            ok.outcome.as_str()
        ),
        ("test-admin", "admin", "acme", "SUCCESS")
    );
    assert!(
        ok.targets
            .iter()
            .any(|t| t.email.as_deref() == Some("ana.silva@example.org")),
        "{:?}",
        ok.targets
    );
    assert!(!ok.request_id.is_empty());
    // The row names the request the emulator received, with its status.
    let at_emulator = writes_at(&app);
    assert_eq!(at_emulator.len(), 1, "{at_emulator:?}");
    let (method, path, status) = &at_emulator[0];
    assert_eq!(ok.calls.len(), 1, "{:?}", ok.calls);
    assert_eq!(&ok.calls[0].method, method);
    assert!(
        path.ends_with(&ok.calls[0].path),
        "{path} vs {:?}",
        ok.calls[0]
    );
    assert_eq!(ok.calls[0].status, Some(*status));
    let bad = &writes[1].record;
    assert_eq!(
        (bad.outcome.as_str(), bad.error_code.as_str()),
        ("FAILED", "INVALID_EMAIL")
    );
    assert!(bad.calls.is_empty());
    // The warm-up refresh is a system row with its GETs.
    let refresh = rows
        .iter()
        .find(|r| r.record.action == "refresh")
        .expect("a refresh row");
    assert_eq!(refresh.record.actor, "system");
    assert!(
        refresh.record.calls.iter().all(|c| c.method == "GET") && !refresh.record.calls.is_empty()
    );
    let verified = app.gateway.store.verify_audit(|_| {}).await.unwrap();
    assert!(verified.broken.is_none(), "{:?}", verified.broken);
}

#[tokio::test]
async fn a_store_that_cannot_be_written_refuses_writes_before_anything_is_sent() {
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let before = app.upstream_calls();
    app.gateway.store.close().await;
    let body = app
        .query(
            &mutation_text("deactivateUser"),
            json!({ "input": { "id": seeded(&app, 1) } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let payload = &body["data"]["deactivateUser"];
    assert_eq!(payload["outcome"], "FAILED");
    assert_eq!(error_codes(payload), vec!["STORE_UNAVAILABLE"]);
    assert!(
        payload["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was sent"),
        "{payload}"
    );
    assert_eq!(app.upstream_calls(), before, "nothing reached the upstream");
    // Reads keep working, and /readyz says writes are refused.
    let read = app
        .query("{ org { users(first: 2) { totalCount } } }", json!({}))
        .await;
    assert_eq!(read["data"]["org"]["users"]["totalCount"], 5, "{read}");
    let ready: Value = app
        .http
        .get(format!("{}/readyz", app.url))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["store"]["writable"], false, "{ready}");
    assert!(ready["writes"].as_str().unwrap().contains("refused"));
}

#[tokio::test]
async fn after_a_restart_a_key_replays_its_first_answer_and_invitations_are_remembered() {
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let input = json!({
        "email": "jo.kim@example.org", "givenName": "Jo", "familyName": "Kim",
        "idempotencyKey": "hr-4711",
    });
    let first = mutate(&app, "inviteUser", input.clone()).await;
    assert_success(&first);
    assert_eq!(first["user"]["status"], "INVITED");
    let deactivate = json!({ "id": seeded(&app, 2), "idempotencyKey": "off-2" });
    let gone = mutate(&app, "deactivateUser", deactivate.clone()).await;
    assert_success(&gone);
    let writes = writes_at(&app).len();

    let app = app.restart().await;
    // Same key, same input: the same answer, and nothing sent. The deactivated user no
    // longer reads on Amplitude; the replay still shows them as the first answer did.
    assert_eq!(mutate(&app, "inviteUser", input.clone()).await, first);
    assert_eq!(mutate(&app, "deactivateUser", deactivate).await, gone);
    assert_eq!(writes_at(&app).len(), writes, "a replay sends nothing");
    // Another input under the key is still refused.
    let mut other = input.clone();
    other["givenName"] = json!("Joanna");
    let reused = mutate(&app, "inviteUser", other).await;
    assert_eq!(error_codes(&reused), vec!["IDEMPOTENCY_KEY_REUSED"]);
    // The invitation survived: the user still reads as INVITED, not ACTIVE.
    app.warm().await;
    let read = app
        .query(
            r#"{ org { user(email: "jo.kim@example.org") { status } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(read["data"]["org"]["user"]["status"], "INVITED", "{read}");
}

/// The gate a resumed write runs behind when a stopped process sent it unconfirmed.
struct SentBeforeTheCrash;

impl scimgate::directory::SendGate for SentBeforeTheCrash {
    fn open(&self) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn resumes_unconfirmed(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_write_a_stopped_process_sent_unconfirmed_is_settled_by_reading_never_resent() {
    use scimgate::directory::{Invite, WriteError, WriteLane, traced};
    use scimgate::keys::Email;
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let dir = app.gateway.dirs.all()[0].clone();
    let gate = || -> Option<std::sync::Arc<dyn scimgate::directory::SendGate>> {
        Some(std::sync::Arc::new(SentBeforeTheCrash))
    };
    // The stopped process's POST arrived: the user exists upstream (here: made directly).
    let applied = Email::parse("applied@example.org").unwrap();
    app.emulator()
        .state()
        .add_user(scimgate::scim::wire::User::new(
            applied.as_str(),
            "Ap",
            "Plied",
        ))
        .unwrap();
    let invite = |email| Invite {
        email,
        given_name: "Ap",
        family_name: "Plied",
    };
    let (found, calls) = traced(gate(), dir.invite_user(invite(&applied), WriteLane::Write)).await;
    let rec = found.expect("found applied by reading");
    assert_eq!(rec.email(), "applied@example.org");
    assert!(
        calls.iter().all(|c| c.method == "GET") && !calls.is_empty(),
        "{calls:?}"
    );
    // It never arrived: found not applied, still nothing sent (the next try sends it).
    let lost = Email::parse("lost@example.org").unwrap();
    let (not_found, calls) = traced(gate(), dir.invite_user(invite(&lost), WriteLane::Write)).await;
    assert!(
        matches!(not_found, Err(WriteError::NotApplied(_))),
        "{not_found:?}"
    );
    assert!(calls.iter().all(|c| c.method == "GET"), "{calls:?}");
    // A deactivation the stopped process sent: the user is gone on Amplitude, so it is done.
    let gone = seeded(&app, 3);
    app.emulator().state().remove_user(&gone);
    let (done, _) = traced(
        gate(),
        dir.deactivate_user(&dir.user_key(&gone), WriteLane::Critical),
    )
    .await;
    let rec = done.expect("gone counts as deactivated");
    assert!(!rec.active());
    assert!(
        writes_at(&app).is_empty(),
        "nothing was sent: {:?}",
        writes_at(&app)
    );
}
