//! The `sealpost` command: parses the command line and hands over to the subcommand in `cli/`,
//! which loads the configuration, sets up logging and calls the library.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "sealpost",
    version,
    about = "Self-hosted feedback form that never shows an address"
)]
struct Cli {
    /// Directory with default.toml and <profile>.toml (the embedded copies are used when absent).
    #[arg(
        long,
        global = true,
        env = "SEALPOST_CONFIG_DIR",
        default_value = "config"
    )]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Option<cli::Command>,
}

#[tokio::main]
async fn main() -> ExitCode {
    // `bench-internals` opens sealed data without an audit entry, for the benchmark kit's
    // criterion benches only; a `sealpost` built with it must never run as the service.
    if cfg!(feature = "bench-internals") {
        eprintln!(
            "sealpost: this binary was built with the `bench-internals` feature, which opens \
             sealed data without an audit entry; it will not run. Build it without that \
             feature (the benchmark kit builds its benches in target/bench-internals)."
        );
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    match cli::run(&cli.config_dir, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sealpost: {}", cli::WithCauses(&err));
            ExitCode::FAILURE
        }
    }
}
