//! Staff accounts: a login, one role, an argon2id password hash. Nobody reads or sets another
//! person's password; an administrator can only disable an account.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Staff::Table)
                    .if_not_exists()
                    .col(pk_uuid(Staff::Id))
                    .col(string_len_uniq(Staff::Login, 64))
                    .col(string_len(Staff::Role, 16))
                    .col(text(Staff::PasswordHash))
                    .col(boolean(Staff::Disabled).default(false))
                    .col(timestamp_with_time_zone(Staff::PasswordChangedAt))
                    .col(timestamp_with_time_zone(Staff::CreatedAt))
                    .col(timestamp_with_time_zone(Staff::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Staff::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Staff {
    Table,
    Id,
    Login,
    Role,
    PasswordHash,
    Disabled,
    PasswordChangedAt,
    CreatedAt,
    UpdatedAt,
}
