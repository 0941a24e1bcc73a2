//! The outbox: every e-mail is a row, written in the transaction of the change that causes it
//! and delivered by the worker. The Message-ID is fixed at enqueue time so that a retry after a
//! crash is recognisable downstream.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_contacts::Contacts;
use crate::m20261124_000002_create_threads::Threads;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(pk_uuid(Outbox::Id))
                    .col(string_len_uniq(Outbox::MessageId, 255))
                    .col(string_len(Outbox::Kind, 32))
                    .col(uuid_null(Outbox::ThreadId))
                    .col(string_len(Outbox::Recipient, 16))
                    .col(uuid_null(Outbox::ContactId))
                    .col(text(Outbox::FromHeader))
                    .col(text_null(Outbox::ReplyTo))
                    .col(text(Outbox::Subject))
                    .col(text(Outbox::TextBody))
                    .col(text(Outbox::HtmlBody))
                    .col(text_null(Outbox::InReplyTo))
                    .col(text_null(Outbox::References))
                    .col(string_len(Outbox::AutoSubmitted, 16))
                    .col(string_len(Outbox::State, 16))
                    .col(big_integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Outbox::LeaseUntil))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::SentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_thread")
                            .from(Outbox::Table, Outbox::ThreadId)
                            .to(Threads::Table, Threads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_contact")
                            .from(Outbox::Table, Outbox::ContactId)
                            .to(Contacts::Table, Contacts::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::State)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_thread")
                    .table(Outbox::Table)
                    .col(Outbox::ThreadId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Outbox {
    Table,
    Id,
    MessageId,
    Kind,
    ThreadId,
    Recipient,
    ContactId,
    FromHeader,
    ReplyTo,
    Subject,
    TextBody,
    HtmlBody,
    InReplyTo,
    References,
    AutoSubmitted,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}
