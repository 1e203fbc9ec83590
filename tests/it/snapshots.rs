//! Access snapshots through GraphQL: taken on demand, chained, resolved as nodes; a diff
//! between two of them (and to the mirror now) lists exactly what was changed behind the
//! gateway's back at the emulator; only admin and auditor keys reach them; the schedule takes
//! one per period with injected time, however many replicas step.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use scimgate::governance::{Schedule, Snapshots};
use serde_json::{Value, json};

use crate::mutations::{assert_success, joined_users, mutate};
use crate::support::{OrgSpec, TestApp, error_code, spawn_app_with};

const SNAPSHOT: &str = "id seq takenAt trigger takenBy userCount groupCount mirrorFetchedAt complete hash previousHash contentHash storedBytes";

fn take_mutation() -> String {
    format!(
        "mutation($input: TakeSnapshotInput!) {{ takeSnapshot(input: $input) {{ outcome userErrors {{ code message }} snapshot {{ {SNAPSHOT} }} }} }}"
    )
}

const DIFF: &str = r#"query($from: ID!, $to: ID, $first: Int, $after: String) { org { snapshotDiff(from: $from, to: $to, first: $first, after: $after) {
    from { seq } to { seq } totalCount
    totals { usersAdded usersRemoved usersDeactivated usersInvited usersReactivated membershipsGranted membershipsRevoked }
    byGroup { groupId groupName granted revoked }
    edges { cursor node { kind userId email groupId groupName } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } } }"#;

async fn app() -> TestApp {
    spawn_app_with(
        vec![OrgSpec::new("acme", 30, 3)],
        &[
            ("acme-read", Role::Read, &["acme"]),
            ("acme-auditor", Role::Auditor, &["acme"]),
        ],
        LimitsConfig::default(),
    )
    .await
}

async fn take(app: &TestApp, key: &str) -> Value {
    let body = app
        .query_as(key, &take_mutation(), json!({ "input": {} }))
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let payload = &body["data"]["takeSnapshot"];
    assert_success(payload);
    payload["snapshot"].clone()
}

/// Every change of the diff, all pages walked two at a time, as (kind, e-mail, group name).
async fn all_changes(
    app: &TestApp,
    from: &Value,
    to: Option<&Value>,
) -> (Value, Vec<(String, String, String)>) {
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    let mut first_page = None;
    loop {
        let vars = json!({ "from": from["id"], "to": to.map(|t| t["id"].clone()), "first": 2, "after": after });
        let d = app.data(DIFF, vars).await;
        let diff = d["org"]["snapshotDiff"].clone();
        for e in diff["edges"].as_array().unwrap() {
            let n = &e["node"];
            seen.push((
                n["kind"].as_str().unwrap().to_owned(),
                n["email"].as_str().unwrap().to_lowercase(),
                n["groupName"].as_str().unwrap_or("").to_owned(),
            ));
        }
        let more = diff["pageInfo"]["hasNextPage"].as_bool().unwrap();
        after = diff["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        first_page.get_or_insert(diff);
        if !more {
            break;
        }
    }
    (first_page.unwrap(), seen)
}

async fn emulator_post(app: &TestApp, path: &str, body: Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", app.emulator().admin_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
}

#[tokio::test]
async fn a_diff_between_snapshots_lists_exactly_what_changed_behind_the_gateways_back() {
    let app = app().await;
    app.warm().await;
    let emu = app.emulator();
    let users = joined_users(&app);
    let first = take(&app, &app.key).await;
    assert_eq!(first["seq"], 1);
    assert_eq!(first["trigger"], "MANUAL");
    assert_eq!(first["takenBy"], "test-admin");
    assert_eq!(first["complete"], true);
    assert_eq!(first["groupCount"], 3);
    assert_eq!(first["previousHash"], "0".repeat(64));
    assert!(first["mirrorFetchedAt"].is_string(), "{first:#}");
    let user_count = app.gateway.dirs.all()[0].snapshot().users().len();
    assert_eq!(first["userCount"], user_count as i64);

    // Behind the gateway's back: a user removed, one added, one invited (Amplitude's
    // placeholder names), and a member added to a group.
    let gone = users[1].to_lowercase();
    let groups = emu.state().groups();
    let mut gone_groups: Vec<(String, String)> = groups
        .iter()
        .filter(|g| g.members.iter().any(|m| m.value.to_lowercase() == gone))
        .map(|g| (g.id.clone().unwrap().to_string(), g.display_name.clone()))
        .collect();
    gone_groups.sort();
    let group = &groups[0];
    let gid = group.id.clone().unwrap().to_string();
    let outsider = users[2..]
        .iter()
        .map(|u| u.to_lowercase())
        .find(|u| !group.members.iter().any(|m| m.value.to_lowercase() == *u))
        .unwrap();
    let answer = reqwest::Client::new()
        .delete(format!("{}/users/{}", emu.admin_url(), users[1]))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let user = |email: &str, given: &str, family: &str| {
        json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
                "name": { "givenName": given, "familyName": family },
                "emails": [{ "value": email, "primary": true }] })
    };
    emulator_post(
        &app,
        "/users",
        user("side.door@example.com", "Side", "Door"),
    )
    .await;
    emulator_post(
        &app,
        "/users",
        user(
            "pending.person@example.com",
            "NO_GIVEN_NAME",
            "NO_FAMILY_NAME",
        ),
    )
    .await;
    let op = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "add", "path": "members", "value": [{ "value": outsider }] }],
    });
    let answer = reqwest::Client::new()
        .patch(format!("{}/Groups/{gid}", emu.base_url()))
        .bearer_auth(emu.token())
        .json(&op)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());

    // The diff to the mirror before it refreshes: nothing changed yet.
    let (unchanged, none) = all_changes(&app, &first, None).await;
    assert_eq!(
        (unchanged["totalCount"].clone(), none.len()),
        (json!(0), 0),
        "{unchanged:#}"
    );

    // Refreshed (refreshDirectory) until the mirror shows the changes.
    let dir = app.gateway.dirs.all()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let refreshed = mutate(&app, "refreshDirectory", json!({})).await;
        assert_success(&refreshed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mirror = dir.snapshot();
        let has = |k: &str| mirror.users().iter().any(|u| u.key() == k);
        if has("side.door@example.com") && has("pending.person@example.com") && !has(&gone) {
            break;
        }
        assert!(Instant::now() < deadline, "no refresh found the changes");
    }
    let second = take(&app, &app.key).await;
    assert_eq!(second["seq"], 2);
    assert_eq!(second["previousHash"], first["hash"], "the chain links");
    assert_ne!(second["contentHash"], first["contentHash"]);
    assert_eq!(second["userCount"], user_count as i64 + 1);

    let group_name = group.display_name.clone();
    let mut expected: Vec<(String, String, String)> = vec![
        (
            "USER_ADDED".into(),
            "side.door@example.com".into(),
            String::new(),
        ),
        ("USER_REMOVED".into(), gone.clone(), String::new()),
        (
            "USER_INVITED".into(),
            "pending.person@example.com".into(),
            String::new(),
        ),
        (
            "MEMBERSHIP_GRANTED".into(),
            outsider.clone(),
            group_name.clone(),
        ),
    ];
    for (_, name) in &gone_groups {
        expected.push(("MEMBERSHIP_REVOKED".into(), gone.clone(), name.clone()));
    }
    let (diff, changes) = all_changes(&app, &first, Some(&second)).await;
    assert_eq!(changes, expected, "{diff:#}");
    assert_eq!(
        (diff["from"]["seq"].clone(), diff["to"]["seq"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(diff["totalCount"], expected.len());
    assert_eq!(
        diff["totals"],
        json!({ "usersAdded": 1, "usersRemoved": 1, "usersDeactivated": 0, "usersInvited": 1,
                "usersReactivated": 0, "membershipsGranted": 1, "membershipsRevoked": gone_groups.len() }),
    );
    let mut by_group: HashMap<String, (i64, i64)> = HashMap::new();
    by_group.entry(group_name.clone()).or_default().0 += 1;
    for (_, name) in &gone_groups {
        by_group.entry(name.clone()).or_default().1 += 1;
    }
    let got: HashMap<String, (i64, i64)> = diff["byGroup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["groupName"].as_str().unwrap().to_owned(),
                (
                    g["granted"].as_i64().unwrap(),
                    g["revoked"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got, by_group, "{diff:#}");
    // Ids are the gateway's: the granted group's id resolves to the group.
    let granted = &diff["byGroup"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["groupName"] == group_name.as_str())
        .unwrap()["groupId"];
    let node = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Group { upstreamId } } }",
            json!({ "id": granted }),
        )
        .await;
    assert_eq!(node["node"]["upstreamId"], gid.as_str());

    // From the first snapshot to now: the same changes; from the second to now: none.
    let (_, to_now) = all_changes(&app, &first, None).await;
    assert_eq!(to_now, expected);
    let (same, nothing) = all_changes(&app, &second, None).await;
    assert!(nothing.is_empty() && same["to"].is_null(), "{same:#}");

    // The snapshot is a node; the take is in the audit log.
    let node = app
        .data(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on Snapshot {{ {SNAPSHOT} }} }} }}"),
            json!({ "id": second["id"] }),
        )
        .await;
    assert_eq!(node["node"], second);
    let listed = app
        .data(
            "{ org { snapshots(first: 10) { totalCount edges { node { seq hash } } } } }",
            json!({}),
        )
        .await;
    let seqs: Vec<i64> = listed["org"]["snapshots"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        (listed["org"]["snapshots"]["totalCount"].clone(), seqs),
        (json!(2), vec![2, 1]),
        "newest first"
    );
    let audit = app
        .data(r#"{ org { auditLog(first: 5, filter: { action: "takeSnapshot" }) { edges { node { actor outcome } } } } }"#, json!({}))
        .await;
    assert_eq!(
        audit["org"]["auditLog"]["edges"].as_array().unwrap().len(),
        2,
        "{audit:#}"
    );
    assert_eq!(
        audit["org"]["auditLog"]["edges"][0]["node"]["outcome"],
        "SUCCESS"
    );
    // Each snapshot is an event too, whose subject is the snapshot.
    let events = app
        .data(
            r#"{ org { events(first: 50, kinds: ["snapshot.taken"]) { edges { node { actor subjectKind subjectId data } } } } }"#,
            json!({}),
        )
        .await;
    let taken = events["org"]["events"]["edges"].as_array().unwrap();
    assert_eq!(taken.len(), 2, "{events:#}");
    assert_eq!(taken[1]["node"]["subjectKind"], "Snapshot");
    assert_eq!(taken[1]["node"]["actor"], "test-admin");
    assert_eq!(taken[1]["node"]["data"]["seq"], 2);
    let node = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Snapshot { seq } } }",
            json!({ "id": taken[1]["node"]["subjectId"] }),
        )
        .await;
    assert_eq!(node["node"]["seq"], 2, "{node:#}");
    assert!(
        app.gateway
            .store
            .verify_snapshots("acme")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn only_admin_and_auditor_keys_take_and_read_snapshots() {
    let app = app().await;
    app.warm().await;
    let read = app.keys["acme-read"].clone();
    let auditor = app.keys["acme-auditor"].clone();

    let refused = app
        .query_as(&read, &take_mutation(), json!({ "input": {} }))
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused:#}");
    assert!(
        refused["data"].is_null() || refused["data"]["takeSnapshot"].is_null(),
        "{refused:#}"
    );
    assert_eq!(
        app.gateway.store.count_snapshots("acme").await.unwrap(),
        0,
        "nothing taken"
    );

    let taken = take(&app, &auditor).await;
    // A retry with the same idempotency key gets the same snapshot and takes no other.
    let keyed = json!({ "input": { "idempotencyKey": "evidence-2026-q4" } });
    let once = app
        .query_as(&auditor, &take_mutation(), keyed.clone())
        .await;
    let again = app.query_as(&auditor, &take_mutation(), keyed).await;
    let (once, again) = (
        &once["data"]["takeSnapshot"],
        &again["data"]["takeSnapshot"],
    );
    assert_success(once);
    assert_eq!(once["snapshot"]["seq"], 2, "{once:#}");
    assert_eq!(again["snapshot"], once["snapshot"], "{again:#}");
    assert_eq!(app.gateway.store.count_snapshots("acme").await.unwrap(), 2);
    assert_eq!(taken["takenBy"], "acme-auditor");
    for query in [
        "{ org { snapshots(first: 5) { totalCount } } }",
        r#"query($id: ID!) { node(id: $id) { id } }"#,
        r#"query($id: ID!) { org { snapshotDiff(from: $id) { totalCount } } }"#,
    ] {
        let vars = json!({ "id": taken["id"] });
        let body = app.query_as(&read, query, vars.clone()).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body:#}");
        let body = app.query_as(&auditor, query, vars).await;
        assert!(body.get("errors").is_none(), "{query}: {body:#}");
    }
    let listed = app
        .query_as(
            &auditor,
            "{ org { snapshots(first: 5) { edges { node { seq takenBy } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["org"]["snapshots"]["edges"][0]["node"]["takenBy"],
        "acme-auditor"
    );

    // A forged id and an id of another kind are refused with a code.
    let bad = app
        .query(
            r#"{ org { snapshotDiff(from: "nope") { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad:#}");
    let gone = scimgate_snapshot_id("acme", 99);
    let missing = app.query(DIFF, json!({ "from": gone })).await;
    assert_eq!(error_code(&missing), "NOT_FOUND", "{missing:#}");
}

/// The global id of snapshot `seq` of `org`, as the gateway encodes it.
fn scimgate_snapshot_id(org: &str, seq: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!([1, "Snapshot", org, seq.to_string()]).to_string())
}

#[tokio::test]
async fn the_schedule_takes_one_snapshot_per_period_however_many_replicas_step() {
    let app = app().await;
    let hour = Duration::from_secs(3600);
    let schedule = Schedule {
        every: Some(hour),
        ..Schedule::default()
    };
    let snapshots = |_: ()| {
        Snapshots::new(
            app.gateway.dirs.clone(),
            app.gateway.store.clone(),
            HashMap::from([("acme".to_owned(), schedule)]),
        )
    };
    let (one, two) = (snapshots(()), snapshots(()));
    let t0 = scimgate::store::now_ms();
    // The mirror has not loaded: nothing is taken, and it says why.
    let report = one.run_once(t0).await.unwrap();
    assert_eq!((report.taken, report.incomplete), (0, 1));
    app.warm().await;
    let h = 3_600_000;
    let mut taken = Vec::new();
    for (step, at) in [
        (0, t0),
        (1, t0 + h / 2),
        (2, t0 + h - 1),
        (3, t0 + h),
        (4, t0 + 2 * h + 5),
    ] {
        // Two replicas step at the same moment.
        let (a, b) = tokio::join!(one.run_once(at), two.run_once(at));
        let (a, b) = (a.unwrap(), b.unwrap());
        taken.push(a.taken + b.taken);
        assert!(a.taken + b.taken <= 1, "step {step}: {a:?} {b:?}");
    }
    assert_eq!(taken, [1, 0, 0, 1, 1]);
    let listed = app.data("{ org { snapshots(first: 10) { edges { node { trigger takenBy takenAt complete } } } } }", json!({})).await;
    let edges = listed["org"]["snapshots"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3);
    assert!(
        edges.iter().all(|e| e["node"]["trigger"] == "SCHEDULE"
            && e["node"]["takenBy"] == "system"
            && e["node"]["complete"] == true),
        "{listed:#}"
    );
    let audit = app
        .data(r#"{ org { auditLog(first: 5, filter: { action: "snapshot.take" }) { edges { node { actor } } } } }"#, json!({}))
        .await;
    assert_eq!(
        audit["org"]["auditLog"]["edges"].as_array().unwrap().len(),
        3,
        "{audit:#}"
    );
    // Retention: past it, the oldest go.
    let short = Schedule {
        every: Some(hour),
        retention: Duration::from_secs(86_400),
    };
    let pruning = Snapshots::new(
        app.gateway.dirs.clone(),
        app.gateway.store.clone(),
        HashMap::from([("acme".to_owned(), short)]),
    );
    assert_eq!(pruning.prune(t0 + 2 * h + 86_400_000).await.unwrap(), 2);
    assert_eq!(app.gateway.store.count_snapshots("acme").await.unwrap(), 1);
}
