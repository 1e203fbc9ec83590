//! Child processes: `scimgate emulate` and `scimgate serve` on free loopback ports, each killed
//! when its handle drops (also on panic), their output kept in a work directory for failures.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scimgate::emulator::{LoggedRequest, MemberChange, Stats};
use serde_json::{Value, json};

use crate::client::Gql;

/// The binary under test, built by `cargo bench` in the bench (release) profile.
pub const BIN: &str = env!("CARGO_BIN_EXE_scimgate");

/// What every row shares: the work directory, one HTTP client, and the API key (when auth is on).
pub struct Env {
    pub work: PathBuf,
    pub http: reqwest::Client,
    pub api_key: Option<ApiKey>,
    seq: AtomicUsize,
}

impl Env {
    pub fn new(auth: bool) -> Env {
        let work = std::env::temp_dir().join(format!("scimgate-bench-{}", std::process::id()));
        std::fs::create_dir_all(&work).expect("create the work directory");
        Env {
            work,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("HTTP client"),
            api_key: auth.then(ApiKey::generate),
            seq: AtomicUsize::new(0),
        }
    }

    pub fn log_path(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.work.join(format!("{n:02}-{what}.log"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// A client API key and the `sha256:<hex>` form the gateway's config holds.
pub struct ApiKey {
    pub key: String,
    pub hash: String,
}

impl ApiKey {
    fn generate() -> ApiKey {
        let key = scimgate::auth::new_key();
        let hash = scimgate::auth::hash_key(&key);
        ApiKey { key, hash }
    }
}

/// A free port on 127.0.0.1 (bound, read, released; the child binds it right after).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A running child process; killed and reaped on drop.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = File::create(&log).expect("create a log file");
        let err = out.try_clone().expect("clone the log file");
        // The children read only what the benchmark gives them.
        for (key, _) in std::env::vars() {
            if key.starts_with("SCIMGATE_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB (`VmRSS` in /proc/<pid>/status).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The peak resident memory in KiB (`VmHWM`).
    pub fn peak_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// Voluntary context switches of all the process's threads so far. A server that is
    /// CPU-bound switches voluntarily only when a thread sleeps on a lock (row 3: malloc's
    /// arena locks, BENCHMARKS.md); the rate tells a contended process from one that is not.
    pub fn voluntary_switches(&self) -> u64 {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .expect("read /proc/<pid>/task (Linux only)");
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
            .filter_map(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .sum()
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status (Linux only)");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
    }

    /// Panics with the end of the child's log if it has exited.
    fn check_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!("{} exited ({status}):\n{}", self.name, tail.join("\n"));
        }
    }

    /// Polls `url` until it answers 200; no fixed sleep stands in for readiness.
    pub async fn wait_until_up(&mut self, http: &reqwest::Client, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            self.check_alive();
            if let Ok(r) = http.get(url).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "{} did not come up", self.name);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scimgate emulate` with its admin endpoints.
pub struct Emulator {
    /// Held so the emulator stops with this handle.
    _proc: Proc,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub token: String,
    /// `amplitude` or `rfc7644`: the dialect it speaks, and the gateways of a row with it.
    pub profile: &'static str,
    http: reqwest::Client,
}

impl Emulator {
    /// Seeds `users` and `groups` and limits at `limit` (`COUNT/WINDOW`).
    pub async fn start(env: &Env, users: usize, groups: usize, limit: &str) -> Emulator {
        Emulator::start_profile(env, users, groups, limit, "amplitude").await
    }

    /// [`Emulator::start`] speaking `profile`.
    pub async fn start_profile(
        env: &Env,
        users: usize,
        groups: usize,
        limit: &str,
        profile: &'static str,
    ) -> Emulator {
        let port = free_port();
        let token = format!("bench-{:016x}", rand::random::<u64>());
        let mut cmd = Command::new(BIN);
        cmd.args(["emulate", "--port", &port.to_string()])
            .args([
                "--users",
                &users.to_string(),
                "--groups",
                &groups.to_string(),
            ])
            .args(["--limit", limit, "--seed", "42", "--profile", profile])
            .env("SCIMGATE_EMULATOR_TOKEN", &token)
            .env("RUST_LOG", "warn");
        let mut proc = Proc::spawn("scimgate emulate", cmd, env.log_path("emulator"));
        let url = format!("http://127.0.0.1:{port}");
        proc.wait_until_up(&env.http, &format!("{url}/_emulator/stats"))
            .await;
        Emulator {
            _proc: proc,
            url,
            token,
            profile,
            http: env.http.clone(),
        }
    }

    pub fn scim_base(&self) -> String {
        match self.profile {
            "rfc7644" => format!("{}/scim/v2", self.url),
            _ => format!("{}/scim/1", self.url),
        }
    }

    /// A SCIM call straight to the emulator, as another admin would make it.
    pub async fn scim(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.scim_base()))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("SCIM {path}: {e}"))
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/_emulator/{path}", self.url))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("emulator {path}: {e}"))
            .json()
            .await
            .expect("JSON from the emulator")
    }

    pub async fn stats(&self) -> Stats {
        serde_json::from_value(self.get_json("stats").await).expect("stats")
    }

    pub async fn requests(&self) -> Vec<LoggedRequest> {
        serde_json::from_value(self.get_json("requests").await).expect("request log")
    }

    /// The memberships PATCHes changed, in order, on the request log's clock.
    pub async fn member_changes(&self) -> Vec<MemberChange> {
        serde_json::from_value(self.get_json("members").await).expect("membership log")
    }

    /// `{users, groups, pending}`: the directory as get-by-id shows it, in creation order.
    pub async fn state(&self) -> Value {
        self.get_json("state").await
    }

    async fn post(&self, path: &str, body: Value) {
        self.http
            .post(format!("{}/_emulator/{path}", self.url))
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("emulator {path}: {e}"));
    }

    /// Clears the log, the stats and the rate window (not the directory).
    pub async fn reset(&self) {
        self.post("reset", json!({})).await;
    }

    /// Adds `ms` to every SCIM request from now on.
    pub async fn set_latency(&self, ms: u64) {
        self.post("faults", json!({ "latency_ms": ms })).await;
    }

    /// One SCIM request sent directly: the first page of users at the page maximum.
    /// What to add to a time in the emulator's log to place it on this process's clock, from
    /// one direct request stamped here before and after; and how far off that may be (ms).
    pub async fn clock_offset(&self) -> (i64, i64) {
        let before = wall_ms();
        self.first_page_direct().await;
        let after = wall_ms();
        let log = self.requests().await;
        let t = log.last().expect("the direct request").t_ms as i64;
        ((before + after) / 2 - t, (after - before) / 2 + 1)
    }

    pub async fn first_page_direct(&self) -> Duration {
        let started = Instant::now();
        let body = self
            .http
            .get(format!(
                "{}/Users?startIndex=1&itemsPerPage=100",
                self.scim_base()
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("a direct SCIM page")
            .bytes()
            .await
            .expect("its body");
        assert!(!body.is_empty());
        started.elapsed()
    }
}

/// Unix milliseconds now.
pub fn wall_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("in range")
}

/// The gateway budget a row configures.
#[derive(Clone, Debug)]
pub struct BudgetSpec {
    pub limit: u32,
    pub window: String,
    pub background_share: f64,
    /// The mirror's `max_age` (default 1 h: it does not age during a row).
    pub max_age: String,
    /// `server.response_cache_bytes`: 0 (off) except in row 13, so the other rows measure
    /// answers computed from the mirror.
    pub response_cache_bytes: u64,
}

impl BudgetSpec {
    pub fn new(limit: u32, window: &str, background_share: f64) -> BudgetSpec {
        BudgetSpec {
            limit,
            window: window.to_owned(),
            background_share,
            max_age: "1h".to_owned(),
            response_cache_bytes: 0,
        }
    }
}

/// `scimgate serve` for one organization (the emulator's), and a GraphQL client for it.
pub struct Gateway {
    pub proc: Proc,
    /// The store it keeps its state in.
    pub store_url: String,
    pub gql: Gql,
    /// From spawning the process to `/healthz` answering.
    pub up_in: Duration,
}

const KEY_ENV: &str = "BENCH_SCIM_KEY";

/// How a gateway of a row keeps its state.
#[derive(Clone, Debug)]
pub enum StoreSpec {
    /// A fresh SQLite file in the work directory (what `serve` uses by default).
    Sqlite,
    /// This PostgreSQL URL (a schema of the row's own).
    Postgres(String),
    /// No journal at all: the benchmark's own child process (`rows_store`), as the reference of
    /// what the store adds to a write.
    Unjournaled,
}

impl Gateway {
    pub async fn start(env: &Env, emu: &Emulator, budget: &BudgetSpec) -> Gateway {
        Gateway::start_on(env, emu, budget, &StoreSpec::Sqlite).await
    }

    pub async fn start_on(
        env: &Env,
        emu: &Emulator,
        budget: &BudgetSpec,
        store: &StoreSpec,
    ) -> Gateway {
        let port = free_port();
        let store_url = match store {
            StoreSpec::Postgres(url) => url.clone(),
            _ => format!(
                "sqlite://{}",
                env.log_path("store").with_extension("sqlite3").display()
            ),
        };
        let config = config_toml(port, emu, budget, env.api_key.as_ref(), &store_url);
        let path = env.log_path("gateway").with_extension("toml");
        std::fs::write(&path, config).expect("write the gateway config");
        let spawned = Instant::now();
        let mut cmd = match store {
            StoreSpec::Unjournaled => {
                let mut cmd = Command::new(std::env::current_exe().expect("the benchmark's path"));
                cmd.args([crate::rows_store::CHILD_FLAG, &port.to_string()]);
                cmd.arg(&path);
                cmd
            }
            _ => {
                let mut cmd = Command::new(BIN);
                cmd.arg("serve").arg("--config").arg(&path);
                cmd
            }
        };
        cmd.env(KEY_ENV, &emu.token);
        let mut proc = Proc::spawn("scimgate serve", cmd, env.log_path("gateway"));
        let url = format!("http://127.0.0.1:{port}");
        proc.wait_until_up(&env.http, &format!("{url}/healthz"))
            .await;
        Gateway {
            proc,
            store_url,
            up_in: spawned.elapsed(),
            gql: Gql::new(
                env.http.clone(),
                &url,
                env.api_key.as_ref().map(|k| k.key.clone()),
            ),
        }
    }
}

/// The gateway's configuration file: one org, the row's budget (with the default burst, 2), a
/// mirror that does not age during a row, and (with auth) the benchmark's key as an admin.
fn config_toml(
    port: u16,
    emu: &Emulator,
    b: &BudgetSpec,
    key: Option<&ApiKey>,
    store_url: &str,
) -> String {
    let mut toml = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
graphiql = false
shutdown_grace = "1s"
response_cache_bytes = {cache}

[store]
url = "{store_url}"

[[orgs]]
id = "bench"
name = "Bench Org"
base_url = "{base_url}"
profile = "{profile}"
key_env = "{KEY_ENV}"

[orgs.budget]
limit = {limit}
window = "{window}"
background_share = {share:?}

[orgs.mirror]
max_age = "{max_age}"
"#,
        limit = b.limit,
        window = b.window,
        share = b.background_share,
        max_age = b.max_age,
        cache = b.response_cache_bytes,
        base_url = emu.scim_base(),
        profile = emu.profile,
    );
    if let Some(key) = key {
        toml.push_str(&format!(
            r#"
[[api_keys]]
name = "bench"
hash = "{}"
role = "admin"
orgs = ["*"]
"#,
            key.hash
        ));
    }
    toml
}
