//! Technical data only in aggregate: one row per day × kind of event × dimension × value with a
//! count. No per-event row is kept; nothing here leads back to a visitor.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DailyStats::Table)
                    .if_not_exists()
                    .col(string_len(DailyStats::Day, 10))
                    .col(string_len(DailyStats::Kind, 16))
                    .col(string_len(DailyStats::Dimension, 32))
                    .col(string_len(DailyStats::Value, 200))
                    .col(big_integer(DailyStats::Count))
                    .primary_key(
                        Index::create()
                            .col(DailyStats::Day)
                            .col(DailyStats::Kind)
                            .col(DailyStats::Dimension)
                            .col(DailyStats::Value),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DailyStats::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DailyStats {
    Table,
    Day,
    Kind,
    Dimension,
    Value,
    Count,
}
