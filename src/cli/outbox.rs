//! `sealpost outbox`: the mail outbox's counts, and putting mail back in line.

use clap::Subcommand;

use sealpost::config::Settings;
use sealpost::db::DbSetupError;
use sealpost::outbox::{self, RetryWhich};

use super::common::database;

#[derive(Subcommand)]
pub enum OutboxCommand {
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

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error("no dead or waiting mail with that id")]
    NoSuchMail,
}

pub async fn run(settings: &Settings, command: OutboxCommand) -> Result<(), OutboxError> {
    let conn = database(settings).await?;
    match command {
        OutboxCommand::Status => {
            let status = outbox::status(&conn).await?;
            println!("pending  {}", status.pending);
            println!("sending  {}", status.sending);
            println!("sent     {}", status.sent);
            println!("dead     {}", status.dead);
            println!("held     {} (waiting for staff's spam review)", status.held);
            match status.oldest_pending {
                Some(oldest) => {
                    let age = chrono::Utc::now().signed_duration_since(oldest);
                    println!("oldest undelivered: {} s old", age.num_seconds().max(0));
                }
                None => println!("oldest undelivered: none"),
            }
        }
        OutboxCommand::Retry { id, dead: _ } => {
            let which = match id {
                Some(id) => RetryWhich::One(id),
                None => RetryWhich::AllDead,
            };
            let n = outbox::retry(&conn, which).await?;
            if n == 0 && id.is_some() {
                return Err(OutboxError::NoSuchMail);
            }
            println!("{n} mail(s) queued for delivery again");
        }
    }
    Ok(())
}
