//! The README's "REST and proxy" curl examples, run against `scimgate demo` as a person would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::cli::{Running, demo, free_port};

/// The lines of the README's marked REST example block that are commands.
fn readme_examples() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let start = readme.find("<!-- rest-examples -->").expect("marked block");
    let end = readme.find("<!-- /rest-examples -->").expect("end marker");
    readme[start..end]
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readme_rest_and_proxy_examples_answer_as_described() {
    let port = free_port();
    let mut child = demo(port, 500, 20)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("scimgate demo starts");
    let stdout = child.stdout.take().unwrap();
    let _guard = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let key = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find_map(|l| {
            l.strip_prefix("demo API key (admin; GraphiQL sends it for you): ")
                .map(str::to_owned)
        })
        .expect("the demo prints its API key");
    lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("scimgate listening on"))
        .expect("the demo listens");

    // A filtered read waits for the mirror's first load: the examples then meet a loaded
    // mirror, as a person trying them a moment after the start does.
    let loaded = Command::new("curl")
        .args([
            "-s",
            "-H",
            &format!("authorization: Bearer {key}"),
            &format!("http://127.0.0.1:{port}/unified/users?status=ACTIVE&page_size=1"),
        ])
        .output()
        .expect("curl runs");
    assert!(loaded.status.success());

    let examples = readme_examples();
    assert_eq!(
        examples.len(),
        8,
        "the README's examples changed; update this test"
    );
    let outputs: Vec<String> = examples
        .iter()
        .map(|cmd| {
            let cmd = cmd.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
            let out = Command::new("sh")
                .args(["-c", &cmd])
                .env("KEY", &key)
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
    assert_eq!(page["totalResults"], 500);
    assert_eq!(page["Resources"].as_array().unwrap().len(), 2);
    let (head, body) = outputs[1]
        .split_once("\r\n\r\n")
        .expect("headers, then the body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("x-scimgate-answered-from: "), "{head}");
    let user: Value = serde_json::from_str(body).unwrap();
    assert_eq!(user["userName"], "kwame.sharma@example.com");
    let invited = json(2);
    assert_eq!(invited["userName"], "new.person@example.com", "{invited}");
    let group = json(3);
    assert_eq!(group["id"].to_string().trim_matches('"'), "600", "{group}");
    let members = group["members"].as_array().unwrap();
    assert!(
        !members
            .iter()
            .any(|m| m["value"] == "john.liskov@example.net"),
        "{group}"
    );
    let refused = json(4);
    assert_eq!(
        refused["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(refused["status"], "401");
    let active = json(5);
    assert_eq!(active["result"].as_array().unwrap().len(), 2);
    assert!(
        active["result"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["status"] == "ACTIVE")
    );
    assert!(active["next_cursor"].is_string());
    let found = json(6);
    assert_eq!(found["result"][0]["status"], "INVITED", "{found}");
    assert_eq!(
        found["result"][0]["remote_data"]["userName"],
        "new.person@example.com"
    );
    let deactivated = json(7);
    assert_eq!(deactivated["outcome"], "SUCCESS", "{deactivated}");
    assert_eq!(deactivated["result"]["status"], "DEACTIVATED");
}
