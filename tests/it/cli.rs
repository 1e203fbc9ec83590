//! The binary as a person runs it: `scimgate emulate`, and the README's curl examples against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `scimgate demo` on `port` over an emulated organization of `users` and `groups`.
pub fn demo(port: u16, users: usize, groups: usize) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    command.args([
        "demo",
        "--port",
        &port.to_string(),
        "--users",
        &users.to_string(),
        "--groups",
        &groups.to_string(),
    ]);
    command
}

/// The lines of the README's marked emulator example block that are commands.
fn readme_examples() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("<!-- emulator-examples -->")
        .expect("marked block");
    let end = readme
        .find("<!-- /emulator-examples -->")
        .expect("end marker");
    readme[start..end]
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn emulate_answers_the_readme_curl_examples() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["emulate", "--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("scimgate emulate starts");
    let stdout = child.stdout.take().unwrap();
    let _guard = Running(child);
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    assert!(
        first.contains(&format!("http://127.0.0.1:{port}/scim/1")),
        "{first}"
    );

    let examples = readme_examples();
    assert_eq!(
        examples.len(),
        7,
        "the README's examples changed; update this test"
    );
    let outputs: Vec<String> = examples
        .iter()
        .map(|cmd| {
            let cmd = cmd.replace("127.0.0.1:9100", &format!("127.0.0.1:{port}"));
            let out = Command::new("sh")
                .args(["-c", &cmd])
                .output()
                .expect("curl runs");
            assert!(out.status.success(), "{cmd} failed: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    let json = |i: usize| -> Value {
        serde_json::from_str(&outputs[i]).unwrap_or_else(|e| panic!("{}: {e}", outputs[i]))
    };

    let page = json(0);
    assert_eq!(page["totalResults"], 1000);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(page["Resources"].as_array().unwrap().len(), 2);
    assert_eq!(
        page["Resources"][0]["userName"],
        "margaret.rossum@example.com"
    );
    assert_eq!(json(1)["id"], "margaret.rossum@example.com");
    let invited = json(2);
    assert_eq!(invited["id"], "new.person@example.com");
    assert_eq!(invited["name"]["givenName"], "New");
    assert_eq!(json(3)["totalResults"], 25);
    let stats = json(4);
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["by_status"]["201"], 1);
    assert!(outputs[6].starts_with("HTTP/1.1 429"), "{}", outputs[6]);
    assert!(
        outputs[6].to_ascii_lowercase().contains("retry-after: 5"),
        "{}",
        outputs[6]
    );
}

#[test]
fn demo_serves_graphql_and_graphiql_over_the_embedded_emulator() {
    let port = free_port();
    let mut child = demo(port, 120, 4)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("scimgate demo starts");
    let stdout = child.stdout.take().unwrap();
    let _guard = Running(child);
    // The demo prints its addresses, the last line once the gateway listens.
    let mut lines = BufReader::new(stdout).lines();
    let key = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find_map(|l| {
            l.strip_prefix("demo API key (admin; GraphiQL sends it for you): ")
                .map(str::to_owned)
        })
        .expect("the demo prints its API key");
    let listening = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("scimgate listening on"))
        .expect("the demo says where it listens");
    assert!(
        listening.contains(&format!("http://127.0.0.1:{port}/graphql")),
        "{listening}"
    );

    let query = r#"{"query":"{ org { name users(first: 3) { totalCount edges { node { email status } } } } }"}"#;
    let unauthenticated = Command::new("curl")
        .args([
            "-s",
            &format!("http://127.0.0.1:{port}/graphql"),
            "-H",
            "content-type: application/json",
            "-d",
            query,
        ])
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&unauthenticated.stdout).expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    let out = Command::new("curl")
        .args([
            "-s",
            &format!("http://127.0.0.1:{port}/graphql"),
            "-H",
            "content-type: application/json",
            "-H",
            &format!("authorization: Bearer {key}"),
            "-d",
            query,
        ])
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["org"]["users"]["totalCount"], 120);
    assert_eq!(
        body["data"]["org"]["users"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // GraphiQL's first query shows the demo's sample grants and their events once made.
    let sample = serde_json::json!({ "query": scimgate::gateway::SAMPLE_QUERY }).to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let dashboard = loop {
        let out = Command::new("curl")
            .args([
                "-s",
                &format!("http://127.0.0.1:{port}/graphql"),
                "-H",
                "content-type: application/json",
                "-H",
                &format!("authorization: Bearer {key}"),
                "-d",
                &sample,
            ])
            .output()
            .unwrap();
        let body: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(body.get("errors").is_none(), "{body}");
        // Made one after another: done when the third is active (its add answered).
        let active = body["data"]["org"]["grants"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["node"]["state"] == "ACTIVE")
            .count();
        let reviews = body["data"]["org"]["accessReviews"]["edges"]
            .as_array()
            .map_or(0, Vec::len);
        if active == 3 && reviews == 1 {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sample grants: {body:#}"
        );
        // A plain test thread, not a tokio worker.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let org = &dashboard["data"]["org"];
    let kinds: Vec<&str> = org["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["kind"].as_str())
        .collect();
    // The review's snapshot first, then the grants.
    assert_eq!(
        kinds,
        [
            "snapshot.taken",
            "grant.granted",
            "grant.granted",
            "grant.granted"
        ],
        "{dashboard:#}"
    );
    let review = &org["accessReviews"]["edges"][0]["node"];
    assert_eq!(review["state"], "IN_PROGRESS", "{dashboard:#}");
    assert_eq!(review["reviewers"], serde_json::json!(["demo-reviewer"]));
    assert!(review["counts"]["total"].as_i64().unwrap() > 0, "{review}");

    let out = Command::new("curl")
        .args([
            "-s",
            "-H",
            "accept: text/html",
            &format!("http://127.0.0.1:{port}/graphql"),
        ])
        .output()
        .unwrap();
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(
        html.contains("/graphiql/graphiql.min.js")
            && html.contains("query Dashboard")
            && html.contains(&key),
        "GraphiQL with the sample query"
    );
}

/// The API key the `serve` test's client uses (its hash is in the config file).
const CLIENT_KEY: &str = "sgk_cli-test-client-key-not-a-secret-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reads_a_config_file_and_check_config_redacts_the_key() {
    scimgate::scim::install_crypto_provider();
    let emu = scimgate::emulator::spawn(scimgate::emulator::EmulatorConfig {
        users: 30,
        groups: 2,
        token: "cli-test-secret-token-0042".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("scimgate-cli-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[store]\nurl = \"sqlite://{}\"\n\n[[api_keys]]\nname = \"cli-test\"\nhash = \"{}\"\nrole = \"read\"\n\n[[orgs]]\nid = \"acme\"\nbase_url = \"{}\"\nkey_env = \"ACME_TEST_SCIM_KEY\"\n",
            dir.join("scimgate.sqlite3").display(),
            scimgate::auth::hash_key(CLIENT_KEY),
            emu.base_url()
        ),
    )
    .unwrap();

    let check = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["check-config", "--config", config.to_str().unwrap()])
        .env("ACME_TEST_SCIM_KEY", emu.token())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check:?}");
    assert!(
        printed.contains("redacted") && printed.contains("ACME_TEST_SCIM_KEY"),
        "{printed}"
    );
    assert!(
        !printed.contains(emu.token()),
        "check-config printed the key"
    );

    let missing = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env_remove("ACME_TEST_SCIM_KEY")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    // The org and the field are named; key_env's value is not repeated (it could be a key).
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("acme")
            && stderr.contains("key_env")
            && !stderr.contains("ACME_TEST_SCIM_KEY"),
        "{missing:?}"
    );

    let child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("ACME_TEST_SCIM_KEY", emu.token())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let listening = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("scimgate listening on"))
        .unwrap();
    assert!(listening.contains(&port.to_string()));
    let body: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(CLIENT_KEY)
        .json(&serde_json::json!({ "query": "{ org { slug users(first: 1) { totalCount } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["org"]["slug"], "acme", "{body}");
    assert_eq!(body["data"]["org"]["users"]["totalCount"], 30);

    // SIGTERM: a graceful stop, exit status 0.
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop on SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn hash_key_makes_a_key_and_the_table_that_admits_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["hash-key", "--name", "dashboard", "--role", "write"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let key = printed.lines().next().unwrap().trim().to_owned();
    assert!(key.starts_with("sgk_"), "{printed}");
    assert!(
        printed.contains(&format!("hash = \"{}\"", scimgate::auth::hash_key(&key))),
        "{printed}"
    );
    assert!(printed.contains("name = \"dashboard\"") && printed.contains("role = \"write\""));
    // The table it prints is valid configuration.
    let table = printed.lines().skip(1).collect::<Vec<_>>().join("\n");
    let config = format!(
        "{table}\n[[orgs]]\nid = \"acme\"\nbase_url = \"http://127.0.0.1:1/scim/1\"\nkey_env = \"K\"\n"
    );
    let env = vec![("K".to_owned(), "x".to_owned())];
    let loaded =
        scimgate::config::Config::from_toml_str(&config, &env, &Default::default()).unwrap();
    assert_eq!(loaded.api_keys[0].role, scimgate::auth::Role::Write);
}
