//! Mail to the legal users themselves: a request waiting for a second approver, and a reminder
//! before its deadline. The outbox learns to send to one named address (a staff account's own,
//! looked up when the mail is queued), and a request records when its deadline reminder was
//! queued, so that the reminder goes out once however many instances run the job.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000004_create_outbox::Outbox;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(string_len_null(LegalReminders::ToAddress, 320))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LegalReminders::Disclosures)
                    .add_column(timestamp_with_time_zone_null(
                        LegalReminders::ReminderSentAt,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LegalReminders::Disclosures)
                    .drop_column(LegalReminders::ReminderSentAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(LegalReminders::ToAddress)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LegalReminders {
    Disclosures,
    ToAddress,
    ReminderSentAt,
}
