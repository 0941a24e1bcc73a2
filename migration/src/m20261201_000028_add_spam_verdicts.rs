//! The spam score of a new conversation, as staff read it ("score 7.5: links 3.0, ..."), and a
//! keyed digest of its text, so that the same text arriving from many addresses is noticed.
//! The digest is an HMAC under the seal's index key: it matches equal texts and reveals nothing
//! of the text itself. A held conversation is a thread with status `held`; its mails wait in
//! the outbox with state `held`, so neither needs a column of its own.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Threads::Table)
                    .add_column(text_null(Threads::SpamVerdict))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Threads::Table)
                    .add_column(binary_len_null(Threads::TextDigest, 32))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_threads_text_digest")
                    .table(Threads::Table)
                    .col(Threads::TextDigest)
                    .col(Threads::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_threads_text_digest")
                    .table(Threads::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Threads::TextDigest, Threads::SpamVerdict] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Threads::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Threads {
    Table,
    SpamVerdict,
    TextDigest,
    CreatedAt,
}
