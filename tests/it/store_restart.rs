//! PostgreSQL restarting under a running gateway: writes are refused with `STORE_UNAVAILABLE`
//! (nothing sent) while it is down, reads go on, and writes work again once it is back, the
//! audit chain unbroken. The server is a private one on a port of its own (this machine's
//! shared PostgreSQL is never stopped); without PostgreSQL's binaries the test says it skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::cli::free_port;
use crate::mutations::mutation_text;
use crate::support::{OrgSpec, TestApp, spawn_app_on};

/// A PostgreSQL cluster in a temp folder, run as the `postgres` user; removed on drop.
struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .find(|b| b.join("initdb").exists())?;
        let dir = std::env::temp_dir().join(format!("scimgate-pg-{:08x}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).ok()?;
        let chown = Command::new("chown")
            .arg("postgres")
            .arg(&dir)
            .status()
            .ok()?;
        let init = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "root", "--no-sync", "-E", "UTF8"])
            .output()
            .ok()?;
        if !chown.success() || !init.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
        let pg = PrivatePostgres {
            bin,
            dir,
            port: free_port(),
        };
        pg.ctl("start").then_some(pg)
    }

    fn ctl(&self, action: &str) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-l"])
            .arg(self.dir.join("log"));
        if action == "start" {
            cmd.args(["-o", &options, "start"]);
        } else {
            cmd.args(["-m", "fast", "stop"]);
        }
        cmd.output().is_ok_and(|o| o.status.success())
    }

    fn url(&self) -> String {
        format!("postgres://root@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.ctl("stop");
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}

async fn deactivate(app: &TestApp, email: &str) -> Value {
    let body = app
        .query(
            &mutation_text("deactivateUser"),
            json!({ "input": { "id": email } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["deactivateUser"].clone()
}

fn writes_at(app: &TestApp) -> usize {
    app.emulator()
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

#[tokio::test]
async fn postgresql_restarting_refuses_writes_while_down_and_they_work_again_after() {
    let Some(pg) = PrivatePostgres::start() else {
        println!(
            "store restart test: skipped (no PostgreSQL binaries, or not allowed to run them)"
        );
        return;
    };
    let app = spawn_app_on(
        vec![OrgSpec::new("acme", 6, 1)],
        &[],
        LimitsConfig::default(),
        pg.url(),
    )
    .await;
    app.warm().await;
    let users: Vec<String> = app
        .emulator()
        .state()
        .users()
        .iter()
        .map(|u| u.user_name.clone())
        .collect();
    assert_eq!(deactivate(&app, &users[0]).await["outcome"], "SUCCESS");

    assert!(pg.ctl("stop"), "PostgreSQL stops");
    let sent = writes_at(&app);
    let refused = deactivate(&app, &users[1]).await;
    assert_eq!(refused["outcome"], "FAILED", "{refused}");
    assert_eq!(
        refused["userErrors"][0]["code"], "STORE_UNAVAILABLE",
        "{refused}"
    );
    assert_eq!(writes_at(&app), sent, "nothing reached the upstream");
    let read = app
        .query("{ org { users(first: 1) { totalCount } } }", json!({}))
        .await;
    assert_eq!(
        read["data"]["org"]["users"]["totalCount"], 5,
        "reads go on: {read}"
    );

    assert!(pg.ctl("start"), "PostgreSQL starts again");
    // The pool reconnects by itself: the next writes go through (polled with a deadline).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = deactivate(&app, &users[1]).await;
        if answer["outcome"] == "SUCCESS" {
            break;
        }
        assert_eq!(
            answer["userErrors"][0]["code"], "STORE_UNAVAILABLE",
            "{answer}"
        );
        assert!(
            Instant::now() < deadline,
            "writes still refused after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !app.emulator()
            .state()
            .user(&users[1])
            .is_some_and(|u| u.active)
    );
    let verified = app.gateway.store.verify_audit(|_| {}).await.unwrap();
    assert!(verified.broken.is_none(), "{:?}", verified.broken);
    let rows = app
        .gateway
        .store
        .audit_page(&Default::default(), Default::default(), 100)
        .await
        .unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r.record.action == "deactivateUser")
            .count(),
        2,
        "the two writes that were sent are audited; the refused one was never recorded"
    );
}
