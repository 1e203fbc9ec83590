//! The binary's operational surface: logs as JSON lines for shippers, and `check-config` that
//! never prints a secret typed into the wrong field.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::{Running, demo, free_port};

#[test]
fn scimgate_log_format_json_writes_one_json_object_a_line_with_the_request_id() {
    let port = free_port();
    let mut child = demo(port, 5, 1)
        // SCIMGATE_LOG wins over RUST_LOG: debug lines must appear.
        .env("SCIMGATE_LOG", "debug")
        .env("RUST_LOG", "warn")
        .env("SCIMGATE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scimgate demo starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let guard = Running(child);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("scimgate listening on"))
        .expect("the demo listens");

    let out = Command::new("curl")
        .args([
            "-s",
            &format!("http://127.0.0.1:{port}/graphql"),
            "-H",
            "content-type: application/json",
            "-H",
            "x-request-id: log-check-7",
            "-d",
            r#"{"query":"{ __typename }"}"#,
        ])
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let deadline = Instant::now() + Duration::from_secs(20);
    while !lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("request without a valid API key"))
    {
        assert!(Instant::now() < deadline, "no log line for the request");
        #[expect(
            clippy::disallowed_methods,
            reason = "a plain #[test] thread polling a child's log: there is no runtime to block"
        )]
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(guard);
    reader.join().unwrap();

    let lines = lines.lock().unwrap();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(parsed.iter().all(Value::is_object));
    assert!(
        parsed.iter().any(|v| v["level"] == "DEBUG"),
        "SCIMGATE_LOG=debug was honoured"
    );
    let line = parsed
        .iter()
        .find(|v| v["fields"]["message"] == "request without a valid API key")
        .expect("the refusal is logged");
    assert_eq!(line["span"]["request_id"], "log-check-7", "{line}");
    assert_eq!(line["span"]["path"], "/graphql", "{line}");
    // Every line logged inside the request's span names the request.
    let in_request: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["span"]["name"] == "request")
        .collect();
    // Every line logged inside a request's span names its request (the demo's own requests,
    // which make its sample grants, have ids of their own); ours has at least two.
    assert!(
        in_request.iter().all(|v| v["span"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())),
        "{in_request:?}"
    );
    let ours = in_request
        .iter()
        .filter(|v| v["span"]["request_id"] == "log-check-7")
        .count();
    assert!(ours >= 2, "{in_request:?}");
}

/// A refused configuration: what it shows, the file, the environment, the field to be named.
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a str);

/// `scimgate check-config` on `toml` with `env`; its exit success and stdout + stderr.
fn check_config(name: &str, toml: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("scimgate-check-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scimgate.toml");
    std::fs::write(&path, toml).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    command.args(["check-config", "--config", path.to_str().unwrap()]);
    for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("SCIMGATE_")) {
        command.env_remove(var);
    }
    command.env("ACME_SCIM_KEY", "the-real-key-0123456789");
    for (var, value) in env {
        command.env(var, value);
    }
    let out = command.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_config_never_prints_a_secret_typed_where_a_name_or_a_number_was_expected() {
    let org = |extra: &str, key: &str| {
        format!(
            "[[orgs]]\nid = \"acme\"\nbase_url = \"https://scim.example.com/scim/1\"\n{key}\n{extra}\n"
        )
    };
    let key_env = "key_env = \"ACME_SCIM_KEY\"";
    let secret = "sk-live-9f8e7d6c5b4a";
    let cases: Vec<Case> = vec![
        (
            "key_env holds the key",
            org("", &format!("key_env = \"{secret}\"")),
            vec![],
            "key_env",
        ),
        (
            "key_env holds a key shaped like a name",
            org("", "key_env = \"sk_live_9f8e7d6c5b4a\""),
            vec![],
            "key_env",
        ),
        (
            "key_file holds the key",
            org("", &format!("key_file = \"{secret}\"")),
            vec![],
            "key_file",
        ),
        (
            "a number field",
            org(&format!("[orgs.budget]\nlimit = \"{secret}\""), key_env),
            vec![],
            "limit",
        ),
        (
            "a duration field",
            org(&format!("[orgs.mirror]\nmax_age = \"{secret}\""), key_env),
            vec![],
            "max_age",
        ),
        (
            "an address field",
            format!("[server]\nlisten = \"{secret}\"\n{}", org("", key_env)),
            vec![],
            "listen",
        ),
        (
            "an enum field",
            org(&format!("profile = \"{secret}\""), key_env),
            vec![],
            "profile",
        ),
        (
            "a number variable",
            org("", key_env),
            vec![("SCIMGATE_ORGS__ACME__BUDGET__LIMIT", secret)],
            "SCIMGATE_ORGS__ACME__BUDGET__LIMIT",
        ),
        (
            "a bare value (TOML syntax)",
            org(&format!("[orgs.budget]\nlimit = {secret}"), key_env),
            vec![],
            "invalid TOML",
        ),
    ];
    for (i, (case, toml, env, field)) in cases.iter().enumerate() {
        let (ok, text) = check_config(&format!("case{i}"), toml, env);
        assert!(!ok, "{case}: accepted: {text}");
        assert!(
            !text.contains("9f8e7d6c5b4a"),
            "{case}: the value is echoed: {text}"
        );
        assert!(
            text.contains(field),
            "{case}: the message names {field}: {text}"
        );
    }
    let (ok, text) = check_config("fine", &org("", key_env), &[]);
    assert!(ok, "{text}");
}
