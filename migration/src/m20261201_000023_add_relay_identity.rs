//! What the relay needs to know of staff who answer by mail, and of mail it cannot vouch for:
//! each staff account may name the address it answers from and the signature its mail client
//! adds (cut from relayed answers); a message may be held for staff review (a visitor's reply
//! that failed authentication), with the reason.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000003_create_messages::Messages;
use crate::m20261124_000006_create_staff::Staff;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .add_column(string_null(RelayIdentity::MailAddress))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .add_column(text_null(RelayIdentity::MailSignature))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("staff_mail_address_key")
                    .table(Staff::Table)
                    .col(RelayIdentity::MailAddress)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(text_null(RelayIdentity::HeldReason))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(RelayIdentity::HeldReason)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("staff_mail_address_key")
                    .table(Staff::Table)
                    .to_owned(),
            )
            .await?;
        for column in [RelayIdentity::MailSignature, RelayIdentity::MailAddress] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Staff::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum RelayIdentity {
    MailAddress,
    MailSignature,
    HeldReason,
}
