//! `sealpost apikey`: API keys for the staff API, through the same use cases as the admin pages
//! and `/api/v1/api-keys`, acting as `system:cli`.

use clap::Subcommand;

use sealpost::auth::{self, api_key};
use sealpost::config::Settings;
use sealpost::db::DbSetupError;
use sealpost::domain::Role;

use super::common::{database, parse_role};

#[derive(Subcommand)]
pub enum ApiKeyCommand {
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

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyCommandError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error(transparent)]
    Key(#[from] api_key::ApiKeyError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub async fn run(settings: &Settings, command: ApiKeyCommand) -> Result<(), ApiKeyCommandError> {
    let conn = database(settings).await?;
    match command {
        ApiKeyCommand::Create { role, name } => {
            let created = api_key::create(&conn, auth::CLI, &name, role, None).await?;
            eprintln!(
                "API key {} ({}) created; it is shown only this once:",
                created.id,
                role.as_str()
            );
            println!("{}", created.key);
        }
        ApiKeyCommand::List => {
            for key in api_key::list(&conn).await? {
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
            api_key::revoke(&conn, auth::CLI, id).await?;
            println!("API key {id} revoked");
        }
    }
    Ok(())
}
