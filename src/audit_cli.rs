//! `scimgate audit verify` and `scimgate audit export`: the audit log read straight from the
//! store the configuration names, with no gateway running.

use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ConfigArgs;
use crate::config::{Config, Overrides};
use crate::store::{AuditFilter, EXPORT_CHUNK, ExportFormat, Store, Window, parse_time_bound};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain from the oldest kept row to the head, then each organization's
    /// chain of access snapshots. Exits 0 when intact, 2 when a row or a snapshot was changed,
    /// removed or inserted, 1 when the store cannot be read.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Write the log to standard output, oldest row first (a progress count on stderr when
    /// it is a terminal).
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// csv (a header row; targets and calls as JSON text) or jsonl (one JSON object a line).
    #[arg(long, default_value = "csv")]
    format: ExportFormat,
    /// Only this organization's rows (the row's organization is exactly this id).
    #[arg(long)]
    org: Option<String>,
    /// Only rows written at or after this: an RFC 3339 date-time, or an age such as 90d.
    #[arg(long)]
    since: Option<String>,
    /// Only rows written before this: an RFC 3339 date-time, or an age such as 12h.
    #[arg(long)]
    until: Option<String>,
}

/// Runs an `audit` subcommand.
pub async fn run(args: AuditArgs) -> Result<(), Box<dyn std::error::Error>> {
    match args.command {
        AuditCommand::Verify { config } => verify(&open(&config).await?).await,
        AuditCommand::Export(args) => export(&open(&args.config).await?, &args).await,
    }
}

/// The store at `config.store.url`, the configuration loaded as `check-config` loads it.
pub(crate) async fn open(args: &ConfigArgs) -> Result<Store, Box<dyn std::error::Error>> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let config = Config::load(args.config.as_deref(), &env, &Overrides::default())?;
    Ok(Store::open_existing(&config.store.url, &config.store.replica).await?)
}

/// A count of rows on stderr while it is a terminal; hidden otherwise (pipes, files, CI).
fn progress(what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(&format!("{{spinner}} {{pos}} rows {what}")) {
        bar.set_style(style);
    }
    bar
}

async fn verify(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let bar = progress("checked");
    let verified = store.verify_audit(|rows| bar.set_position(rows)).await;
    bar.finish_and_clear();
    let verified = verified?;
    if let Some(broken) = verified.broken {
        eprintln!("audit log broken at row {}: {}", broken.seq, broken.reason);
        store.close().await;
        // Distinct from 1 (the log could not be read): the log was read and does not hold.
        std::process::exit(2);
    }
    let span = match (verified.first, verified.last) {
        (Some(first), Some(last)) => format!(" (rows {first}..{last})"),
        _ => String::new(),
    };
    let mut lines = vec![format!("audit log intact: {} rows{span}", verified.rows)];
    // Each organization's access snapshots, a chain of their own.
    for org in store.snapshot_orgs().await? {
        if let Some(broken) = store.verify_snapshots(&org).await? {
            eprintln!(
                "snapshots of {org} broken at snapshot {}: {}",
                broken.seq, broken.reason
            );
            store.close().await;
            std::process::exit(2);
        }
        let kept = store.count_snapshots(&org).await?;
        let first = store.snapshots_page(&org, None, None, false, 1).await?;
        let last = store.snapshots_page(&org, None, None, true, 1).await?;
        let span = match (first.first(), last.first()) {
            (Some(f), Some(l)) => format!(" (snapshots {}..{})", f.seq, l.seq),
            _ => String::new(),
        };
        lines.push(format!("snapshots of {org} intact: {kept}{span}"));
    }
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

async fn export(store: &Store, args: &ExportArgs) -> Result<(), Box<dyn std::error::Error>> {
    let now = SystemTime::now();
    let bound = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|v| parse_time_bound(v, now).map_err(|e| format!("--{name}: {e}")))
            .transpose()
    };
    let filter = AuditFilter {
        orgs: args.org.clone().map(|o| vec![o]),
        since_ms: bound("since", &args.since)?,
        until_ms: bound("until", &args.until)?,
        ..AuditFilter::default()
    };
    let bar = progress("written");
    let result = write_all(store, &filter, args.format, &bar).await;
    bar.finish_and_clear();
    match result {
        // A reader that stopped early (`| head`) is not a failure of the export.
        Err(Failure::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(Failure::Io(e)) => Err(e.into()),
        Err(Failure::Store(e)) => Err(e.into()),
        Ok(()) => Ok(()),
    }
}

enum Failure {
    Io(std::io::Error),
    Store(crate::store::StoreError),
}

/// Pages through the log, `EXPORT_CHUNK` rows at a time, writing each page as it comes.
async fn write_all(
    store: &Store,
    filter: &AuditFilter,
    format: ExportFormat,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    // Not the stdout lock: it cannot be held across the store's awaits.
    let mut out = std::io::BufWriter::new(std::io::stdout());
    out.write_all(&format.header()).map_err(Failure::Io)?;
    let mut window = Window::default();
    loop {
        let rows = store
            .audit_page(filter, window, EXPORT_CHUNK)
            .await
            .map_err(Failure::Store)?;
        out.write_all(&format.rows(&rows)).map_err(Failure::Io)?;
        bar.inc(rows.len() as u64);
        match rows.last() {
            Some(last) if i64::try_from(rows.len()).is_ok_and(|n| n >= EXPORT_CHUNK) => {
                window.above = Some(last.seq);
            }
            _ => break,
        }
    }
    out.flush().map_err(Failure::Io)
}
