//! Proof-of-work challenges already used: a solved ALTCHA challenge counts once, across every
//! instance that shares the database. The key is a digest of the challenge (not the challenge
//! itself); a row is kept until the challenge would have expired anyway, then the retention
//! sweeper deletes it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PowSpent::Table)
                    .if_not_exists()
                    .col(binary_len(PowSpent::Digest, 32).primary_key())
                    .col(timestamp_with_time_zone(PowSpent::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_pow_spent_expires_at")
                    .table(PowSpent::Table)
                    .col(PowSpent::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PowSpent::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PowSpent {
    Table,
    Digest,
    ExpiresAt,
}
