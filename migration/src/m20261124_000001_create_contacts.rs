//! Sealed contact data: every column that could identify a visitor is AEAD ciphertext.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .if_not_exists()
                    .col(pk_uuid(Contacts::Id))
                    .col(blob_null(Contacts::EmailSealed))
                    .col(blob_null(Contacts::EmailIndex))
                    .col(blob_null(Contacts::NameSealed))
                    .col(blob_null(Contacts::IpSealed))
                    .col(timestamp_with_time_zone(Contacts::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contacts_email_index")
                    .table(Contacts::Table)
                    .col(Contacts::EmailIndex)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Contacts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Contacts {
    Table,
    Id,
    EmailSealed,
    EmailIndex,
    NameSealed,
    IpSealed,
    CreatedAt,
}
