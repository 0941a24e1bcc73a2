//! A thread is one conversation started by a visitor: its public reference, the hash of its
//! private link token, and the policy version the visitor agreed to.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_contacts::Contacts;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Threads::Table)
                    .if_not_exists()
                    .col(pk_uuid(Threads::Id))
                    .col(string_len_uniq(Threads::Reference, 16))
                    .col(binary_len_uniq(Threads::AccessTokenHash, 32))
                    .col(uuid_null(Threads::ContactId))
                    .col(string_len_null(Threads::Subject, 800))
                    .col(string_len(Threads::Locale, 8))
                    .col(string_len(Threads::Status, 16).default("new"))
                    .col(string_len(Threads::ConsentPolicyVersion, 32))
                    .col(timestamp_with_time_zone(Threads::CreatedAt))
                    .col(timestamp_with_time_zone(Threads::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_threads_contact")
                            .from(Threads::Table, Threads::ContactId)
                            .to(Contacts::Table, Contacts::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_threads_created_at")
                    .table(Threads::Table)
                    .col(Threads::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_threads_contact_id")
                    .table(Threads::Table)
                    .col(Threads::ContactId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Threads::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Threads {
    Table,
    Id,
    Reference,
    AccessTokenHash,
    ContactId,
    Subject,
    Locale,
    Status,
    ConsentPolicyVersion,
    CreatedAt,
    UpdatedAt,
}
