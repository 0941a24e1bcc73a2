//! What signing in needs: server-side sessions (only a hash of the cookie's id is stored),
//! API keys (hashed), sign-in throttling shared by every instance, a second factor (TOTP secret
//! sealed, one-time recovery codes hashed), one-time password reset links (hashed), and the
//! indexes the staff inbox pages through.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000002_create_threads::Threads;
use crate::m20261124_000006_create_staff::Staff;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            blob_null(StaffAuth::TotpSealed),
            boolean(StaffAuth::TotpEnabled).default(false).to_owned(),
            big_integer_null(StaffAuth::TotpLastStep),
            binary_len_null(StaffAuth::ResetTokenHash, 32),
            timestamp_with_time_zone_null(StaffAuth::ResetExpiresAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Staff::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Which staff member wrote an answer from the inbox (none for e-mail answers).
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(uuid_null(StaffAuth::StaffId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StaffSessions::Table)
                    .if_not_exists()
                    .col(binary_len(StaffSessions::IdHash, 32).primary_key())
                    .col(uuid(StaffSessions::StaffId))
                    .col(string_len(StaffSessions::Stage, 16))
                    .col(string_len(StaffSessions::CsrfToken, 64))
                    .col(timestamp_with_time_zone(StaffSessions::CreatedAt))
                    .col(timestamp_with_time_zone(StaffSessions::LastSeenAt))
                    .col(timestamp_with_time_zone(StaffSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StaffSessions::Table, StaffSessions::StaffId)
                            .to(Staff::Table, Staff::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_sessions_staff_id")
                    .table(StaffSessions::Table)
                    .col(StaffSessions::StaffId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApiKeys::Id))
                    .col(string_len(ApiKeys::Name, 100))
                    .col(string_len(ApiKeys::Role, 16))
                    .col(binary_len_uniq(ApiKeys::KeyHash, 32))
                    .col(uuid_null(ApiKeys::CreatedBy))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::CreatedBy)
                            .to(Staff::Table, Staff::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SigninFailures::Table)
                    .if_not_exists()
                    .col(string_len(SigninFailures::Key, 128).primary_key())
                    .col(big_integer(SigninFailures::Failures))
                    .col(timestamp_with_time_zone(SigninFailures::WindowStartedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .if_not_exists()
                    .col(pk_uuid(RecoveryCodes::Id))
                    .col(uuid(RecoveryCodes::StaffId))
                    .col(binary_len(RecoveryCodes::CodeHash, 32))
                    .col(timestamp_with_time_zone_null(RecoveryCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RecoveryCodes::Table, RecoveryCodes::StaffId)
                            .to(Staff::Table, Staff::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recovery_codes_staff_id")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::StaffId)
                    .to_owned(),
            )
            .await?;
        // The inbox lists threads newest activity first, optionally by status, and pages by
        // (updated_at, id): these keep each page an index range scan.
        manager
            .create_index(
                Index::create()
                    .name("idx_threads_updated_at_id")
                    .table(Threads::Table)
                    .col(Threads::UpdatedAt)
                    .col(Threads::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_threads_status_updated_at_id")
                    .table(Threads::Table)
                    .col(Threads::Status)
                    .col(Threads::UpdatedAt)
                    .col(Threads::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in [
            "idx_threads_status_updated_at_id",
            "idx_threads_updated_at_id",
        ] {
            manager
                .drop_index(Index::drop().name(index).table(Threads::Table).to_owned())
                .await?;
        }
        for table in [
            RecoveryCodes::Table.into_iden(),
            SigninFailures::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            StaffSessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(StaffAuth::StaffId)
                    .to_owned(),
            )
            .await?;
        for column in [
            StaffAuth::ResetExpiresAt,
            StaffAuth::ResetTokenHash,
            StaffAuth::TotpLastStep,
            StaffAuth::TotpEnabled,
            StaffAuth::TotpSealed,
        ] {
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
enum StaffAuth {
    TotpSealed,
    TotpEnabled,
    TotpLastStep,
    ResetTokenHash,
    ResetExpiresAt,
    StaffId,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
}

#[derive(DeriveIden)]
pub enum StaffSessions {
    Table,
    IdHash,
    StaffId,
    Stage,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Role,
    KeyHash,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum SigninFailures {
    Table,
    Key,
    Failures,
    WindowStartedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    Id,
    StaffId,
    CodeHash,
    UsedAt,
}
