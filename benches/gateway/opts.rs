//! The benchmark's flags (`cargo bench --bench gateway -- --help`): sizes, durations, which rows,
//! where to write the report, and the one switch for API-key auth.

use std::path::PathBuf;

/// API-key auth: each gateway gets an `[[api_keys]]` table holding the SHA-256 of a fresh random
/// key, and every client request sends `Authorization: Bearer` (as `serve` requires).
/// `--no-auth` turns it off for one run (only for gateways built before keys existed).
pub const AUTH_DEFAULT: bool = true;

pub const HELP: &str = "\
cargo bench --bench gateway -- [flags]

  --quick              small sizes and short runs (about a minute), for development
  --rows 1,3,7         only these rows (1-15)
  --users N            users in the organization of rows 1-5 and 7 (default 10000; quick 1000)
  --groups G           groups in it (default 50)
  --big-users N        the second size of row 6 (default 100000; quick 20000)
  --load-deadline S    how long row 6 waits for a mirror to load (default 240; quick 60)
  --cold-clients N     concurrent cold dashboard loads in row 1 (default 100; quick 20)
  --concurrency N      clients of the throughput runs in row 3 (default 32)
  --secs S             seconds of each throughput run in row 3 (default 6; quick 3)
  --rounds R           rounds of row 3, each running floor and gateway (default 9; quick 2)
  --latency-ms MS      upstream latency injected in row 5 (default 100)
  --write-budget L/W   the gateway budget of row 4 (default 20/2s)
  --clients N          concurrent clients in row 7 (default 200)
  --auth | --no-auth   send an API key (default: AUTH_DEFAULT in benches/gateway/opts.rs)
  --out FILE           write the results there (default: BENCHMARKS.md in a full run of every row)
  --no-write           do not write a results file";

#[derive(Clone, Debug)]
pub struct Opts {
    pub quick: bool,
    pub rows: Vec<u8>,
    pub users: usize,
    pub groups: usize,
    pub big_users: usize,
    pub load_deadline: f64,
    pub cold_clients: usize,
    pub concurrency: usize,
    pub secs: f64,
    pub rounds: usize,
    pub latency_ms: u64,
    pub write_limit: u32,
    pub write_window: String,
    pub clients: usize,
    pub auth: bool,
    pub out: Option<PathBuf>,
    /// The command line as given, for the report.
    pub command: String,
}

impl Opts {
    pub fn parse(args: &[String]) -> Result<Opts, String> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut o = Opts {
            quick,
            rows: (1..=15).collect(),
            users: if quick { 1_000 } else { 10_000 },
            groups: 50,
            big_users: if quick { 20_000 } else { 100_000 },
            load_deadline: if quick { 60.0 } else { 240.0 },
            cold_clients: if quick { 20 } else { 100 },
            concurrency: 32,
            secs: if quick { 3.0 } else { 6.0 },
            rounds: if quick { 2 } else { 9 },
            latency_ms: 100,
            write_limit: 20,
            write_window: "2s".into(),
            clients: 200,
            auth: AUTH_DEFAULT,
            out: None,
            command: String::new(),
        };
        let mut write = true;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs a value"))
            };
            match arg.as_str() {
                // `cargo bench` passes `--bench` to every bench binary.
                "--bench" => continue,
                "--quick" => {}
                "--help" | "-h" => return Err(HELP.into()),
                "--rows" => {
                    o.rows = value()?
                        .split(',')
                        .map(|r| r.trim().parse::<u8>().map_err(|e| format!("--rows: {e}")))
                        .collect::<Result<_, _>>()?;
                    if o.rows.iter().any(|r| !(1..=15).contains(r)) {
                        return Err("--rows takes numbers from 1 to 15".into());
                    }
                }
                "--users" => o.users = num(&value()?, arg)?,
                "--groups" => o.groups = num(&value()?, arg)?,
                "--big-users" => o.big_users = num(&value()?, arg)?,
                "--load-deadline" => o.load_deadline = num(&value()?, arg)?,
                "--cold-clients" => o.cold_clients = num(&value()?, arg)?,
                "--concurrency" => o.concurrency = num(&value()?, arg)?,
                "--secs" => o.secs = num(&value()?, arg)?,
                "--rounds" => o.rounds = num(&value()?, arg)?,
                "--latency-ms" => o.latency_ms = num(&value()?, arg)?,
                "--write-budget" => {
                    let v = value()?;
                    let (limit, window) = v
                        .split_once('/')
                        .ok_or("--write-budget is LIMIT/WINDOW, e.g. 20/2s")?;
                    o.write_limit = num(limit, arg)?;
                    humantime::parse_duration(window).map_err(|e| format!("{arg}: {e}"))?;
                    o.write_window = window.to_owned();
                }
                "--clients" => o.clients = num(&value()?, arg)?,
                "--auth" => o.auth = true,
                "--no-auth" => o.auth = false,
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--no-write" => write = false,
                other => return Err(format!("unknown flag {other}\n\n{HELP}")),
            }
        }
        if o.users < 200 || o.big_users < o.users || o.concurrency == 0 || o.rounds == 0 {
            return Err("need --users >= 200, --big-users >= --users, and positive counts".into());
        }
        let full = !quick && o.rows.len() == 10;
        if o.out.is_none() && write && full {
            o.out = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"));
        }
        if !write {
            o.out = None;
        }
        let rest: Vec<&str> = args
            .iter()
            .filter(|a| *a != "--bench")
            .map(String::as_str)
            .collect();
        o.command = if rest.is_empty() {
            "cargo bench --bench gateway".into()
        } else {
            format!("cargo bench --bench gateway -- {}", rest.join(" "))
        };
        Ok(o)
    }

    pub fn wants(&self, row: u8) -> bool {
        self.rows.contains(&row)
    }
}

fn num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag} expects a number, got {s:?}"))
}
