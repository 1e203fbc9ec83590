//! The command line: `emulate` today; `serve`, `demo`, `schema` and `check-config` join it as
//! the gateway grows.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::emulator::{self, EmulatorConfig, Switches};
use crate::scim::Profile;

#[derive(Debug, Parser)]
#[command(
    name = "scimgate",
    version,
    about = "A GraphQL gateway over SCIM 2.0 directories (Amplitude first)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Amplitude-faithful SCIM emulator on loopback (for demos, tests and benchmarks).
    Emulate(EmulateArgs),
}

#[derive(Debug, clap::Args)]
pub struct EmulateArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    #[arg(long, default_value_t = 9100)]
    pub port: u16,
    /// Users to seed.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Groups to seed.
    #[arg(long, default_value_t = 25)]
    pub groups: usize,
    /// Seed for the generated directory and for fault sampling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The bearer token clients must send.
    #[arg(
        long,
        env = "SCIMGATE_EMULATOR_TOKEN",
        default_value = "demo-token",
        hide_env_values = true
    )]
    pub token: String,
    /// The SCIM dialect to serve: amplitude or rfc7644.
    #[arg(long, default_value = "amplitude")]
    pub profile: Profile,
    /// The emulator's own rate limit, as REQUESTS/WINDOW (e.g. 100/60s, 20/2s).
    #[arg(long, default_value = "100/60s", value_parser = emulator::parse_limit)]
    pub limit: (u32, Duration),
    /// Switches for behaviours Amplitude does not document, as JSON
    /// (e.g. '{"list_deactivated":true}'); see the README.
    #[arg(long)]
    pub switches: Option<String>,
}

impl EmulateArgs {
    pub fn config(&self) -> Result<EmulatorConfig, String> {
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

/// Runs the parsed command until it ends or Ctrl-C.
pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Emulate(args) => {
            let config = args.config()?;
            let profile = config.profile;
            let running = emulator::spawn(config).await?;
            println!("SCIM emulator ({profile}) at {}", running.base_url());
            println!("admin endpoints at {}", running.admin_url());
            tokio::signal::ctrl_c().await?;
            running.shutdown().await;
            Ok(())
        }
    }
}
