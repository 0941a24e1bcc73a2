//! The `sealpost` command: parses the command line, sets up logging, loads the configuration,
//! and hands over to the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use sealpost::config::Settings;
use sealpost::domain::{Login, NewPassword, Role};
use sealpost::{audit, auth, db, outbox, seal, startup, telemetry};
use secrecy::SecretString;

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
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Manage API keys for the staff API.
    Apikey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Delete what is past its retention period.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Check and anchor the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Inspect and steer the mail outbox.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create an account. Asks for the password twice on the terminal.
    Add {
        /// The sign-in name: 3 to 64 of a-z, 0-9, '.', '_', '-'.
        login: String,
        /// agent (answers messages), legal (disclosures) or admin (accounts and settings).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: it can no longer sign in.
    Disable { login: String },
    /// Enable a disabled account again.
    Enable { login: String },
    /// Force a password reset: the old password stops working, every session of the account
    /// ends, and a one-time link to choose a new password is printed.
    Reset { login: String },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Run the sweeper once (as `sealpost serve` does every retention.interval_minutes).
    Run,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Re-walk the hash chain and prove it extends the latest checkpoint `sealpost serve` wrote
    /// to <data_dir>/audit-checkpoints.jsonl; names the first broken entry, or the checkpoint
    /// it no longer extends, and exits 1.
    Verify {
        /// Check against this checkpoint instead (one from `sealpost audit checkpoint`, or a
        /// file of them, one per line: the last counts).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print a signed checkpoint of the log's head (JSON), to keep somewhere else.
    Checkpoint,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for the staff API and print it (it is shown only this once).
    Create {
        /// The role the key acts with: agent, legal or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// What the key is for, e.g. "helpdesk bridge".
        #[arg(long)]
        name: String,
    },
    /// List API keys (never the keys themselves).
    List,
    /// Revoke an API key by its id.
    Revoke { id: uuid::Uuid },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("`{s}` is not a role: use agent, legal or admin"))
}

/// The new password, from standard input or asked twice on the terminal.
fn read_new_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    use std::io::{BufRead, IsTerminal};
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no terminal to ask for the password on: pass --password-stdin");
    }
    let first = rpassword::prompt_password("New password: ").context("reading the password")?;
    let second = rpassword::prompt_password("Again: ").context("reading the password")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(SecretString::from(first))
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
    // `bench-internals` opens sealed data without an audit entry, for the benchmark kit's
    // criterion benches only; a `sealpost` built with it must never run as the service.
    if cfg!(feature = "bench-internals") {
        eprintln!(
            "sealpost: this binary was built with the `bench-internals` feature, which opens \
             sealed data without an audit entry; it will not run. Build it without that \
             feature (the benchmark kit builds its benches in target/bench-internals)."
        );
        return std::process::ExitCode::from(2);
    }
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
        println!(
            "SEALPOST__AUDIT__SIGNING_KEY={}",
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
        Command::Staff { command } => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            match command {
                StaffCommand::Add {
                    login,
                    role,
                    password_stdin,
                } => {
                    let login = Login::parse(&login).map_err(|e| anyhow::anyhow!("login: {e}"))?;
                    let password = NewPassword::parse(read_new_password(password_stdin)?, &login)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    auth::add_staff(&conn, &login, role, &password).await?;
                    println!(
                        "staff account `{}` created ({})",
                        login.as_str(),
                        role.as_str()
                    );
                }
                StaffCommand::Disable { login } => {
                    let login = Login::parse(&login).map_err(|e| anyhow::anyhow!("login: {e}"))?;
                    auth::set_disabled(&conn, auth::CLI, &login, true).await?;
                    println!("staff account `{}` disabled", login.as_str());
                }
                StaffCommand::Enable { login } => {
                    let login = Login::parse(&login).map_err(|e| anyhow::anyhow!("login: {e}"))?;
                    auth::set_disabled(&conn, auth::CLI, &login, false).await?;
                    println!("staff account `{}` enabled", login.as_str());
                }
                StaffCommand::Reset { login } => {
                    let login = Login::parse(&login).map_err(|e| anyhow::anyhow!("login: {e}"))?;
                    let token =
                        auth::force_reset(&conn, &settings.staff, auth::CLI, &login).await?;
                    println!(
                        "The password of `{}` no longer works and its sessions have ended.",
                        login.as_str()
                    );
                    println!(
                        "Give this one-time link (valid {} hours) to its owner:",
                        settings.staff.reset_link_hours
                    );
                    println!("{}", auth::reset_url(&settings, &token));
                }
            }
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Run,
        } => {
            let state = startup::build_state(settings).await?;
            let swept = sealpost::privacy::sweep(&state).await?;
            println!(
                "retention: {} sealed IPs forgotten, {} closed and {} spam conversations deleted, {} kept under a legal hold",
                swept.sealed_ips_forgotten,
                swept.closed_threads_deleted,
                swept.spam_threads_deleted,
                swept.held_and_kept
            );
            Ok(())
        }
        Command::Audit { command } => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            match command {
                AuditCommand::Verify { checkpoint } => {
                    let verification = audit::verify(&conn).await?;
                    if let Some(broken) = verification.broken {
                        anyhow::bail!(
                            "the audit log is broken at entry {}: {} ({} entries before it verify)",
                            broken.seq,
                            broken.problem,
                            verification.entries
                        );
                    }
                    let automatic = audit::checkpoints::file_path(&settings.data_dir);
                    let (found, origin) = match &checkpoint {
                        Some(path) => (
                            Some(audit::checkpoints::read(path)?),
                            format!("from {}", path.display()),
                        ),
                        None => (
                            audit::checkpoints::latest(&automatic)?,
                            format!("the latest in {}", automatic.display()),
                        ),
                    };
                    let extends = match found {
                        Some(cp) => {
                            let sealer =
                                seal::Sealer::from_settings(&settings.seal, &settings.data_dir)
                                    .context("setting up the sealing keys")?;
                            let key = audit::signing_key(&settings, &sealer)
                                .map_err(|e| anyhow::anyhow!(e))?;
                            let named = format!(
                                "checkpoint {} {} signed at {} ({origin})",
                                cp.seq, cp.hash, cp.at
                            );
                            match audit::check_checkpoint(&conn, &cp, &key.verifying_key()).await {
                                Ok(()) => format!("it extends {named}"),
                                Err(audit::CheckpointError::Diverged(why)) => anyhow::bail!(
                                    "the audit log no longer extends {named}: {why}; the log \
                                     was rewritten after that checkpoint was signed"
                                ),
                                Err(e) => anyhow::bail!("{named} is refused: {e}"),
                            }
                        }
                        None => format!(
                            "no checkpoint in {} yet: only the chain itself was checked, which \
                             a consistent rewrite by someone with database access (every hash \
                             recomputed, the head too) would pass; `sealpost serve` signs one at \
                             start-up and every audit.checkpoint_every_minutes{}",
                            automatic.display(),
                            if settings.audit.checkpoint_every().is_none() {
                                " (0 here: off)"
                            } else {
                                ""
                            }
                        ),
                    };
                    println!(
                        "the audit log verifies: {} entries, head {} {}",
                        verification.entries, verification.head_seq, verification.head_hash
                    );
                    println!("{extends}");
                }
                AuditCommand::Checkpoint => {
                    let sealer = seal::Sealer::from_settings(&settings.seal, &settings.data_dir)
                        .context("setting up the sealing keys")?;
                    let key =
                        audit::signing_key(&settings, &sealer).map_err(|e| anyhow::anyhow!(e))?;
                    let checkpoint = audit::checkpoint(&conn, &key)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("{}", serde_json::to_string_pretty(&checkpoint)?);
                }
            }
            Ok(())
        }
        Command::Apikey { command } => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            match command {
                ApiKeyCommand::Create { role, name } => {
                    let created =
                        auth::api_key::create(&conn, auth::CLI, &name, role, None).await?;
                    eprintln!(
                        "API key {} ({}) created; it is shown only this once:",
                        created.id,
                        role.as_str()
                    );
                    println!("{}", created.key);
                }
                ApiKeyCommand::List => {
                    for key in auth::api_key::list(&conn).await? {
                        println!(
                            "{}  {:<6}  {}  {}",
                            key.id,
                            key.role,
                            if key.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active "
                            },
                            key.name
                        );
                    }
                }
                ApiKeyCommand::Revoke { id } => {
                    auth::api_key::revoke(&conn, auth::CLI, id).await?;
                    println!("API key {id} revoked");
                }
            }
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
