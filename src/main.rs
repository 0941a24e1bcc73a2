//! The `sealpost` command: parses the command line, sets up logging, loads the configuration,
//! and hands over to the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use sealpost::config::Settings;
use sealpost::{db, outbox, seal, startup, telemetry};

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
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the form, the API and the pages (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print fresh random keys for seal.key and seal.index_key (for production set-up).
    Keygen,
    /// Inspect and steer the mail outbox.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Counts by state and the age of the oldest undelivered mail.
    Status,
    /// Put a mail (by id), or every dead mail, back in line for delivery.
    Retry {
        /// The outbox id of one mail.
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<uuid::Uuid>,
        /// Every mail in the dead state.
        #[arg(long)]
        dead: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sealpost: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Keygen = command {
        use secrecy::ExposeSecret;
        println!(
            "SEALPOST__SEAL__KEY={}",
            seal::generate_key().expose_secret()
        );
        println!(
            "SEALPOST__SEAL__INDEX_KEY={}",
            seal::generate_key().expose_secret()
        );
        return Ok(());
    }
    let settings = Settings::load(&cli.config_dir)?;
    telemetry::init(&settings.log);
    match command {
        Command::Migrate => {
            let conn = db::connect(&settings).await?;
            let applied = db::migrate(&conn).await?;
            println!("sealpost: {applied} migration(s) applied; the database is up to date");
            Ok(())
        }
        Command::Serve => {
            let app = startup::Application::build(settings)
                .await
                .context("starting the server")?;
            let mut addr = app.local_addr();
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            println!("Sealpost is serving http://{addr}/");
            if let Some(smtp) = app.smtp_addr() {
                println!("Relay mail is accepted over SMTP on {smtp}");
            }
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                trigger.cancel();
            });
            app.run_until(shutdown).await.context("serving")?;
            Ok(())
        }
        Command::Outbox { command } => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            match command {
                OutboxCommand::Status => {
                    let status = outbox::status(&conn).await?;
                    println!("pending  {}", status.pending);
                    println!("sending  {}", status.sending);
                    println!("sent     {}", status.sent);
                    println!("dead     {}", status.dead);
                    match status.oldest_pending {
                        Some(oldest) => {
                            let age = chrono::Utc::now().signed_duration_since(oldest);
                            println!("oldest undelivered: {} s old", age.num_seconds().max(0));
                        }
                        None => println!("oldest undelivered: none"),
                    }
                    Ok(())
                }
                OutboxCommand::Retry { id, dead } => {
                    let which = match (id, dead) {
                        (Some(id), _) => outbox::RetryWhich::One(id),
                        (None, _) => outbox::RetryWhich::AllDead,
                    };
                    let n = outbox::retry(&conn, which).await?;
                    if n == 0 && id.is_some() {
                        anyhow::bail!("no dead or waiting mail with that id");
                    }
                    println!("{n} mail(s) queued for delivery again");
                    Ok(())
                }
            }
        }
        Command::Keygen => Ok(()),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
