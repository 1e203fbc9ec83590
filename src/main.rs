use clap::Parser;

fn main() -> std::process::ExitCode {
    if let Err(e) = scimgate::telemetry::init() {
        eprintln!("scimgate: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let cli = scimgate::cli::Cli::parse();
    // Debug builds' async state machines are large; give worker threads room beyond the 2 MiB default.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scimgate: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(scimgate::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimgate: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
