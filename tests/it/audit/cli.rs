//! `scimgate audit verify | export` as a person runs them: against the store a configuration
//! names, with no gateway running.

use std::process::{Command, Output};

use scimgate::store::Store;
use serde_json::Value;

use super::record;

/// `scimgate audit <args> --config <config>` with a clean environment.
fn audit(config: &std::path::Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    command.arg("audit").args(args);
    command.args(["--config", config.to_str().unwrap()]);
    for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("SCIMGATE_")) {
        command.env_remove(var);
    }
    command.env_remove("RUST_LOG");
    command.env("ACME_AUDIT_SCIM_KEY", "scim-key-for-the-config-only");
    command.output().expect("scimgate runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn audit_verify_says_intact_then_names_the_edited_row_and_export_writes_one_line_a_row() {
    let url = scimgate::store::fresh_sqlite_url("audit-cli");
    let store = Store::open(&url).await.unwrap();
    for (i, org) in ["acme", "globex", "acme", "acme", "globex"]
        .iter()
        .enumerate()
    {
        store
            .append_audit(&record(org, &format!("a{i}"), "ci", 0))
            .await
            .unwrap();
    }
    store.close().await;
    let dir = std::env::temp_dir().join(format!(
        "scimgate-audit-cli-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{url}\"\n\n[[orgs]]\nid = \"acme\"\nbase_url = \"https://scim.example.com/scim/1\"\nkey_env = \"ACME_AUDIT_SCIM_KEY\"\n"
        ),
    )
    .unwrap();

    let verified = audit(&config, &["verify"]);
    assert!(verified.status.success(), "{verified:?}");
    assert_eq!(
        text(&verified.stdout),
        "audit log intact: 5 rows (rows 1..5)\n"
    );

    let exported = audit(&config, &["export", "--format", "jsonl"]);
    assert!(exported.status.success(), "{exported:?}");
    assert_eq!(
        text(&exported.stderr),
        "",
        "nothing on stderr when it is not a terminal"
    );
    let lines: Vec<Value> = text(&exported.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[4]["action"], "a4");
    let acme = audit(
        &config,
        &[
            "export", "--format", "jsonl", "--org", "acme", "--since", "1h",
        ],
    );
    assert_eq!(text(&acme.stdout).lines().count(), 3, "{acme:?}");
    let csv = audit(&config, &["export", "--org", "globex"]);
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    assert_eq!(reader.records().count(), 2, "{csv:?}");
    let bad = audit(&config, &["export", "--since", "someday"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("--since"), "{bad:?}");

    // Someone edits row 3 behind the gateway's back.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let edited = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(edited.rows_affected(), 1);
    pool.close().await;

    let broken = audit(&config, &["verify"]);
    assert_eq!(broken.status.code(), Some(2), "{broken:?}");
    assert_eq!(text(&broken.stdout), "");
    let stderr = text(&broken.stderr);
    assert!(
        stderr.starts_with("audit log broken at row 3: "),
        "{stderr}"
    );
    assert!(stderr.contains("changed"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn audit_verify_checks_each_organizations_snapshots_too() {
    use scimgate::store::{NewSnapshot, SnapshotTrigger};
    let url = scimgate::store::fresh_sqlite_url("audit-cli-snapshots");
    let store = Store::open(&url).await.unwrap();
    for (at, org) in [(1, "acme"), (2, "globex"), (3, "acme")] {
        let snapshot = NewSnapshot {
            org: org.into(),
            taken_at_ms: at,
            trigger: SnapshotTrigger::Manual,
            taken_by: "ci".into(),
            user_count: 0,
            group_count: 0,
            mirror_fetched_at_ms: None,
            complete: true,
            content: br#"{"v":1,"groups":[],"users":[]}"#.to_vec(),
        };
        store.append_snapshot(snapshot, None, false).await.unwrap();
    }
    store.close().await;
    let dir = std::env::temp_dir().join(format!(
        "scimgate-audit-cli-snap-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{url}\"\n\n[[orgs]]\nid = \"acme\"\nbase_url = \"https://scim.example.com/scim/1\"\nkey_env = \"ACME_AUDIT_SCIM_KEY\"\n"
        ),
    )
    .unwrap();
    let verified = audit(&config, &["verify"]);
    assert!(verified.status.success(), "{verified:?}");
    assert_eq!(
        text(&verified.stdout),
        "audit log intact: 0 rows\nsnapshots of acme intact: 2 (snapshots 1..2)\nsnapshots of globex intact: 1 (snapshots 1..1)\n"
    );

    // A snapshot's count edited behind the gateway's back.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE snapshots SET user_count = 7 WHERE org = 'acme' AND seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let broken = audit(&config, &["verify"]);
    assert_eq!(broken.status.code(), Some(2), "{broken:?}");
    let stderr = text(&broken.stderr);
    assert!(
        stderr.starts_with("snapshots of acme broken at snapshot 2: "),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
