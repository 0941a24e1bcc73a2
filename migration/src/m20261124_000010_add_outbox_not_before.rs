//! A mail may be held back until a time (the notice to a data subject under a gag order): the
//! worker does not claim it before `not_before`, and its age for giving up counts from then.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000004_create_outbox::Outbox;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(timestamp_with_time_zone_null(NotBefore::NotBefore))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(NotBefore::NotBefore)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum NotBefore {
    NotBefore,
}
