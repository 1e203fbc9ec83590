//! The gateway benchmark (issue #6): `cargo bench --bench gateway -- [--quick] [flags]`.
//! Starts `scimgate emulate` and `scimgate serve` as child processes on loopback, drives them
//! from in-process clients, and prints one table (row, measured, reference measured in the same
//! run, ratio, target, met); a full run also writes it to BENCHMARKS.md.

mod client;
mod floor;
mod load;
mod opts;
mod procs;
mod report;
mod rows_budget;
mod rows_cache;
mod rows_cold;
mod rows_events;
mod rows_grants;
mod rows_hostile;
mod rows_incremental;
mod rows_snapshots;
mod rows_speed;
mod rows_store;

use std::process::ExitCode;
use std::time::Instant;

use opts::Opts;
use procs::Env;
use report::Report;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(floor::CHILD_FLAG) {
        return floor::child_main(&args);
    }
    if args.first().map(String::as_str) == Some(rows_store::CHILD_FLAG) {
        return rows_store::child_main(&args);
    }
    let opts = match Opts::parse(&args) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    scimgate::scim::install_crypto_provider();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        // Ctrl-C drops the run, and with it every child process (their handles kill on drop).
        tokio::select! {
            code = run(opts) => code,
            () = interrupted() => {
                eprintln!("interrupted; stopping the child processes");
                ExitCode::FAILURE
            }
        }
    })
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn run(o: Opts) -> ExitCode {
    let started = Instant::now();
    let env = Env::new(o.auth);
    let mut r = Report::default();
    eprintln!(
        "scimgate benchmark: rows {:?}, {} users, auth {}",
        o.rows,
        o.users,
        if o.auth { "on" } else { "off" }
    );
    if o.wants(1) || o.wants(2) || o.wants(3) {
        let (emu, gw) = if o.wants(1) || o.wants(2) {
            rows_cold::upstream_calls(&env, &o, &mut r).await
        } else {
            let emu = procs::Emulator::start(&env, o.users, o.groups, rows_cold::NO_LIMIT).await;
            let gw = procs::Gateway::start(&env, &emu, &rows_cold::generous()).await;
            gw.gql
                .wait_complete(std::time::Duration::from_secs(300))
                .await;
            (emu, gw)
        };
        if o.wants(3) {
            rows_speed::throughput(&env, &o, &mut r, &emu, &gw).await;
        }
    }
    if o.wants(4) {
        rows_budget::critical_write(&env, &o, &mut r).await;
    }
    if o.wants(5) {
        rows_cold::cold_first_page(&env, &o, &mut r).await;
    }
    if o.wants(6) {
        rows_speed::memory(&env, &o, &mut r).await;
    }
    if o.wants(7) {
        rows_budget::budget_held(&env, &o, &mut r).await;
    }
    if o.wants(8) {
        rows_hostile::fragment_bomb(&env, &o, &mut r).await;
    }
    if o.wants(9) {
        rows_store::write_latency(&env, &o, &mut r).await;
    }
    if o.wants(10) {
        rows_store::audit_export(&env, &o, &mut r).await;
    }
    if o.wants(11) {
        rows_grants::expiry_lateness(&env, &o, &mut r).await;
    }
    if o.wants(12) {
        rows_events::fan_out_row(&env, &o, &mut r).await;
    }
    if o.wants(13) {
        rows_cache::cache_rows(&env, &o, &mut r).await;
    }
    if o.wants(14) {
        rows_incremental::incremental_row(&env, &o, &mut r).await;
    }
    if o.wants(15) {
        rows_snapshots::snapshot_rows(&env, &o, &mut r).await;
    }
    // Keep only the rows asked for (rows 1-2 come together).
    r.lines.retain(|l| {
        o.rows.iter().any(|n| {
            // "5b" is row 5's; "10" is not row 1's.
            l.row
                .strip_prefix(&n.to_string())
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphabetic()))
        })
    });
    let took = started.elapsed();
    println!("\n{}", r.table());
    println!("{}", report::machine());
    println!("took {:.0} s", took.as_secs_f64());
    if let Some(path) = &o.out {
        let section = r.section(&o.command, took, o.auth);
        match report::write(path, &section) {
            Ok(()) => println!("results written to {}", path.display()),
            Err(e) => {
                eprintln!("could not write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
