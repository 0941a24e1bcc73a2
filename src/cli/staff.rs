//! `sealpost staff`: accounts from the command line, through the same account use cases as the
//! admin pages, acting as `system:cli`.

use clap::Subcommand;
use secrecy::SecretString;

use sealpost::auth;
use sealpost::config::Settings;
use sealpost::db::DbSetupError;
use sealpost::domain::{EmailAddress, Login, NewPassword, Role};

use super::common::{database, parse_role};

#[derive(Subcommand)]
pub enum StaffCommand {
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
        /// The account's own address, where a reset link it asks for is mailed.
        #[arg(long)]
        email: Option<String>,
    },
    /// Change an account's own address (where a reset link it asks for is mailed).
    Edit {
        login: String,
        /// The new address.
        #[arg(
            long,
            conflicts_with = "no_email",
            required_unless_present = "no_email"
        )]
        email: Option<String>,
        /// Remove the address: reset links can then only be forced by an administrator.
        #[arg(long)]
        no_email: bool,
    },
    /// Disable an account: it can no longer sign in.
    Disable { login: String },
    /// Enable a disabled account again.
    Enable { login: String },
    /// Force a password reset: the old password stops working, every session of the account
    /// ends, and a one-time link to choose a new password is printed.
    Reset { login: String },
}

/// Why a staff command failed: its input, the database, or the account use case.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error(transparent)]
    Account(#[from] auth::AccountError),
    #[error("login: {0}")]
    Login(sealpost::domain::LoginError),
    #[error("{0}")]
    WeakPassword(sealpost::domain::PasswordRefusal),
    #[error("reading the password from standard input")]
    Stdin(#[source] std::io::Error),
    #[error("no terminal to ask for the password on: pass --password-stdin")]
    NoTerminal,
    #[error("reading the password")]
    Prompt(#[source] std::io::Error),
    #[error("the two passwords differ")]
    PasswordsDiffer,
    #[error("--email: not an e-mail address such as name@example.org")]
    BadEmail,
}

pub async fn run(settings: &Settings, command: StaffCommand) -> Result<(), StaffError> {
    let conn = database(settings).await?;
    match command {
        StaffCommand::Add {
            login,
            role,
            password_stdin,
            email,
        } => {
            let login = parse_login(&login)?;
            let email = parse_email(email.as_deref())?;
            let password = NewPassword::parse(read_new_password(password_stdin)?, &login)
                .map_err(StaffError::WeakPassword)?;
            auth::add_staff(&conn, &login, role, &password, email.as_ref()).await?;
            println!(
                "staff account `{}` created ({})",
                login.as_str(),
                role.as_str()
            );
        }
        StaffCommand::Edit {
            login,
            email,
            no_email,
        } => {
            let login = parse_login(&login)?;
            let email = if no_email {
                None
            } else {
                parse_email(email.as_deref())?
            };
            auth::set_email(&conn, auth::CLI, &login, email.as_ref()).await?;
            // The address itself is not printed: terminals and their logs keep what they show.
            match email {
                Some(_) => println!("the address of `{}` is saved", login.as_str()),
                None => println!("`{}` has no address now", login.as_str()),
            }
        }
        StaffCommand::Disable { login } => {
            let login = parse_login(&login)?;
            auth::set_disabled(&conn, auth::CLI, &login, true).await?;
            println!("staff account `{}` disabled", login.as_str());
        }
        StaffCommand::Enable { login } => {
            let login = parse_login(&login)?;
            auth::set_disabled(&conn, auth::CLI, &login, false).await?;
            println!("staff account `{}` enabled", login.as_str());
        }
        StaffCommand::Reset { login } => {
            let login = parse_login(&login)?;
            let token = auth::force_reset(&conn, &settings.staff, auth::CLI, &login).await?;
            println!(
                "The password of `{}` no longer works and its sessions have ended.",
                login.as_str()
            );
            println!(
                "Give this one-time link (valid {} hours) to its owner:",
                settings.staff.reset_link_hours
            );
            println!("{}", auth::reset_url(settings, &token));
        }
    }
    Ok(())
}

fn parse_login(login: &str) -> Result<Login, StaffError> {
    Login::parse(login).map_err(StaffError::Login)
}

/// An address given with `--email`: absent or valid; an empty one is refused, not dropped.
fn parse_email(email: Option<&str>) -> Result<Option<EmailAddress>, StaffError> {
    match email {
        None => Ok(None),
        Some(email) => match EmailAddress::parse(email) {
            Ok(Some(email)) => Ok(Some(email)),
            _ => Err(StaffError::BadEmail),
        },
    }
}

/// The new password, from standard input or asked twice on the terminal.
fn read_new_password(from_stdin: bool) -> Result<SecretString, StaffError> {
    use std::io::{BufRead, IsTerminal};
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(StaffError::Stdin)?;
        return Ok(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }
    if !std::io::stdin().is_terminal() {
        return Err(StaffError::NoTerminal);
    }
    let first = rpassword::prompt_password("New password: ").map_err(StaffError::Prompt)?;
    let second = rpassword::prompt_password("Again: ").map_err(StaffError::Prompt)?;
    if first != second {
        return Err(StaffError::PasswordsDiffer);
    }
    Ok(SecretString::from(first))
}
