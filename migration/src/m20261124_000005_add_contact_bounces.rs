//! Counts bounces per contact, so that an address that keeps bouncing stops getting
//! acknowledgements.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_contacts::Contacts;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Contacts::Table)
                    .add_column(big_integer(Bounces::Bounces).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Contacts::Table)
                    .drop_column(Bounces::Bounces)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Bounces {
    Bounces,
}
