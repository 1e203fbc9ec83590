//! The binary as a person runs it: `scimgate emulate`, and the README's curl examples against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
