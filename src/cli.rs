//! The command line: `serve`, `demo`, `emulate`, `schema` and `check-config`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::{Parser, Subcommand};

use std::path::PathBuf;

use secrecy::SecretString;

use crate::config::{ApiKeyConfig, Config, OrgConfig, Overrides};
use crate::emulator::{self, EmulatorConfig, Switches};
use crate::gateway::Gateway;
use crate::scim::Profile;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "scimgate",
    version,
    about = "A GraphQL gateway over SCIM 2.0 directories (Amplitude first)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the gateway with a configuration file.
    Serve(ServeArgs),
    /// Run the embedded emulator and the gateway together on loopback, with GraphiQL.
    Demo(DemoArgs),
    /// Run the Amplitude-faithful SCIM emulator on loopback (for demos, tests and benchmarks).
    Emulate(EmulateArgs),
    /// Print the GraphQL schema (SDL), as committed in schema.graphql.
    Schema,
    /// Load and validate a configuration, and print it with secrets redacted.
    CheckConfig(ConfigArgs),
    /// Make a new client API key and print it with the [[api_keys]] table that admits it
    /// (only the hash goes in the configuration). With --stdin, hash a key read from stdin.
    HashKey(HashKeyArgs),
    /// Check the audit log's hash chain, or export the log as CSV or JSON Lines, straight from
    /// the store (no running gateway needed).
    Audit(crate::audit_cli::AuditArgs),
    /// Export an access review's evidence as CSV or JSON Lines, straight from the store (no
    /// running gateway needed).
    Review(crate::review_cli::ReviewArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct HashKeyArgs {
    /// Read the key from standard input instead of making one.
    #[arg(long)]
    pub(crate) stdin: bool,
    /// The key's name in the configuration.
    #[arg(long, default_value = "my-client")]
    pub(crate) name: String,
    /// read, write, admin or auditor (the audit log only).
    #[arg(long, default_value = "read")]
    pub(crate) role: crate::auth::Role,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArgs {
    /// The TOML configuration file (see scimgate.example.toml).
    #[arg(long, env = "SCIMGATE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Address to listen on (overrides the file and SCIMGATE_SERVER__LISTEN).
    #[arg(long)]
    pub(crate) listen: Option<SocketAddr>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// The gateway's port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Users in the emulated organization.
    #[arg(long, default_value_t = 500)]
    pub(crate) users: usize,
    /// Groups in the emulated organization.
    #[arg(long, default_value_t = 20)]
    pub(crate) groups: usize,
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct EmulateArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub(crate) host: IpAddr,
    #[arg(long, default_value_t = 9100)]
    pub(crate) port: u16,
    /// Users to seed.
    #[arg(long, default_value_t = 1000)]
    pub(crate) users: usize,
    /// Groups to seed.
    #[arg(long, default_value_t = 25)]
    pub(crate) groups: usize,
    /// Seed for the generated directory and for fault sampling.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// The bearer token clients must send.
    #[arg(
        long,
        env = "SCIMGATE_EMULATOR_TOKEN",
        default_value = "demo-token",
        hide_env_values = true
    )]
    pub(crate) token: String,
    /// The SCIM dialect to serve: amplitude or rfc7644.
    #[arg(long, default_value = "amplitude")]
    pub(crate) profile: Profile,
    /// The emulator's own rate limit, as REQUESTS/WINDOW (e.g. 100/60s, 20/2s).
    #[arg(long, default_value = "100/60s", value_parser = emulator::parse_limit)]
    pub(crate) limit: (u32, Duration),
    /// Switches for behaviours Amplitude does not document, as JSON
    /// (e.g. '{"list_deactivated":true}'); see the README.
    #[arg(long)]
    pub(crate) switches: Option<String>,
}

impl EmulateArgs {
    pub(crate) fn config(&self) -> Result<EmulatorConfig, String> {
        let mut switches = Switches::for_profile(self.profile);
        if let Some(json) = &self.switches {
            // Merge the given keys over the profile's defaults.
            let mut base = serde_json::to_value(&switches).map_err(|e| e.to_string())?;
            let given: serde_json::Value =
                serde_json::from_str(json).map_err(|e| format!("--switches is not JSON: {e}"))?;
            let (Some(base_map), Some(given_map)) = (base.as_object_mut(), given.as_object())
            else {
                return Err("--switches must be a JSON object".into());
            };
            for (k, v) in given_map {
                if !base_map.contains_key(k) {
                    return Err(format!("unknown switch {k:?}"));
                }
                base_map.insert(k.clone(), v.clone());
            }
            switches = serde_json::from_value(base).map_err(|e| format!("--switches: {e}"))?;
        }
        Ok(EmulatorConfig {
            profile: self.profile,
            users: self.users,
            groups: self.groups,
            seed: self.seed,
            token: self.token.clone(),
            limit: self.limit.0,
            window: self.limit.1,
            bind: SocketAddr::new(self.host, self.port),
            switches,
        })
    }
}

/// Prints a line for the person at the terminal; a closed stdout is not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Runs the parsed command until it ends or a shutdown signal arrives.
pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve(args) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let config = Config::load(
                args.config.config.as_deref(),
                &env,
                &Overrides {
                    listen: args.listen,
                },
            )?;
            serve(config, None).await
        }
        Command::Demo(args) => demo(args).await,
        Command::Audit(args) => crate::audit_cli::run(args).await,
        Command::Review(args) => crate::review_cli::run(args).await,
        Command::Emulate(args) => {
            let config = args.config()?;
            let (users, groups, profile, limit, window) = (
                config.users,
                config.groups,
                config.profile,
                config.limit,
                config.window,
            );
            let running = emulator::spawn(config).await?;
            tracing::info!(base_url = %running.base_url(), admin = %running.admin_url(),
                users, groups, %profile, limit, window = ?window, "SCIM emulator listening");
            say!("SCIM emulator ({profile}) at {}", running.base_url());
            say!("admin endpoints at {}", running.admin_url());
            shutdown_signal().await;
            running.shutdown().await;
            Ok(())
        }
        Command::Schema => {
            say!("{}", crate::graphql::sdl().trim_end());
            Ok(())
        }
        Command::HashKey(args) => {
            let key = if args.stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim().to_owned()
            } else {
                crate::auth::new_key()
            };
            if key.is_empty() {
                return Err("no key on standard input".into());
            }
            if !args.stdin {
                eprintln!("The key (give it to the client; it is shown only now):");
                say!("{key}");
                eprintln!("\nAdd this to the configuration:");
            }
            say!(
                "[[api_keys]]\nname = {:?}\nhash = {:?}\nrole = \"{}\"\norgs = [\"*\"]",
                args.name,
                crate::auth::hash_key(&key),
                args.role
            );
            Ok(())
        }
        Command::CheckConfig(args) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let config = Config::load(args.config.as_deref(), &env, &Overrides::default())?;
            say!("{}", config.to_redacted_toml().trim_end());
            eprintln!("configuration OK: {} organization(s)", config.orgs.len());
            Ok(())
        }
    }
}

/// Runs the gateway until a shutdown signal; `default_headers` go to GraphiQL.
async fn serve(
    config: Config,
    default_headers: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
    let store = Store::open_as(&config.store.url, &config.store.replica).await?;
    let recovered = store.recover_intents().await?;
    tracing::info!(store = %store.shown_url(), not_sent = recovered.not_sent, unknown = recovered.unknown,
        "store open; writes a stopped process left in flight are settled");
    let mut gateway = Gateway::new(&config, store)?;
    gateway.restore().await?;
    gateway.start();
    gateway.start_store_upkeep(config.store.audit_retention, config.events.retention);
    gateway.start_grants();
    gateway.start_webhooks();
    gateway.start_snapshots();
    let state = gateway.app_state(default_headers);
    let addr = listener.local_addr()?;
    tracing::info!(%addr, orgs = config.orgs.len(), "gateway listening");
    say!("scimgate listening on http://{addr}/graphql");
    // On a signal, stop accepting and let requests in flight finish, for at most the grace.
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let server = crate::http::serve(listener, state, async move {
        shutdown_signal().await;
        let _ = signalled.send(());
    });
    let grace = config.server.shutdown_grace;
    tokio::select! {
        result = server => result?,
        _ = async { let _ = on_signal.await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "requests still in flight after the shutdown grace; stopping anyway");
        }
    }
    tracing::info!("gateway stopped");
    Ok(())
}

async fn demo(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let token = format!("demo-{:016x}", rand::random::<u64>());
    let emulator = emulator::spawn(EmulatorConfig {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
        token: token.clone(),
        ..EmulatorConfig::default()
    })
    .await?;
    let mut org = OrgConfig::new("demo", &emulator.base_url(), SecretString::from(token));
    org.name = "Demo Org (emulated Amplitude)".into();
    // One admin key for the demo, sent by GraphiQL by default.
    let key = crate::auth::new_key();
    let api_key = ApiKeyConfig {
        name: "demo-admin".into(),
        hash: crate::auth::hash_key(&key),
        role: crate::auth::Role::Admin,
        orgs: vec!["*".into()],
    };
    // And one reviewer key, named by the demo's sample access review.
    let reviewer = crate::auth::new_key();
    let reviewer_key = ApiKeyConfig {
        name: crate::demo_seed::REVIEWER.into(),
        hash: crate::auth::hash_key(&reviewer),
        role: crate::auth::Role::Reviewer,
        orgs: vec!["*".into()],
    };
    let mut config = Config {
        server: Default::default(),
        limits: Default::default(),
        // A fresh file in the system temp folder: every demo starts with an empty log.
        store: crate::config::StoreConfig {
            url: crate::store::fresh_sqlite_url("demo"),
            ..Default::default()
        },
        grants: Default::default(),
        events: Default::default(),
        webhooks: Vec::new(),
        api_keys: vec![api_key, reviewer_key],
        orgs: vec![org],
    };
    config.server.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    say!(
        "emulated Amplitude SCIM ({} users, {} groups) at {}",
        args.users,
        args.groups,
        emulator.base_url()
    );
    say!(
        "open http://127.0.0.1:{}/graphql in a browser for GraphiQL, or:",
        args.port
    );
    say!(
        "  curl -s http://127.0.0.1:{}/graphql -H 'content-type: application/json' -H 'authorization: Bearer {key}' -d '{{\"query\":\"{{ org {{ sync {{ userCount groupCount }} users(first: 3) {{ edges {{ node {{ email status }} }} }} }} }}\"}}'",
        args.port
    );
    say!("demo API key (admin; GraphiQL sends it for you): {key}");
    say!(
        "audit log and idempotency records in {} (a fresh file, removed when the demo stops)",
        config.store.url
    );
    let headers = serde_json::json!({ "Authorization": format!("Bearer {key}") }).to_string();
    let store_url = config.store.url.clone();
    say!(
        "reviewer API key ({}: only the sample access review): {reviewer}",
        crate::demo_seed::REVIEWER
    );
    say!(
        "sample data once the mirror loads: three time-bound grants (one ends 90 s in) and an access review of the first group"
    );
    let seeding = tokio::spawn(crate::demo_seed::grants(args.port, key.clone()));
    let result = serve(config, Some(&headers)).await;
    seeding.abort();
    emulator.shutdown().await;
    // The demo's store lives as long as the demo.
    crate::store::remove_sqlite_files(&store_url);
    result
}

/// Ctrl-C, or SIGTERM on Unix.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
