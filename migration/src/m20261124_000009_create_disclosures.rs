//! The disclosure workflow: requests from authorities (one row each, with their state), the
//! subjects each names, every state change with its reason, the documents that belong to a
//! request (the order copy, and once executed the export package, at most one of each), and
//! legal holds on threads. Nothing here is ever deleted: the rows are the record the
//! transparency report counts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Disclosures::Table)
                    .if_not_exists()
                    .col(pk_uuid(Disclosures::Id))
                    .col(string_len(Disclosures::Authority, 200))
                    .col(string_len_null(Disclosures::Court, 200))
                    .col(string_len(Disclosures::CaseNumber, 100))
                    .col(date(Disclosures::OrderDate))
                    .col(string_len(Disclosures::Instrument, 16))
                    .col(string_len(Disclosures::RequestedCategories, 64))
                    .col(string_len_null(Disclosures::ApprovedCategories, 64))
                    .col(date(Disclosures::Deadline))
                    .col(timestamp_with_time_zone_null(Disclosures::GagUntil))
                    .col(string_len(Disclosures::State, 16))
                    .col(string_len(Disclosures::FiledBy, 80))
                    .col(uuid_null(Disclosures::FiledByStaff))
                    .col(timestamp_with_time_zone(Disclosures::CreatedAt))
                    .col(timestamp_with_time_zone(Disclosures::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Disclosures::ExecutedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_disclosures_created")
                    .table(Disclosures::Table)
                    .col(Disclosures::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisclosureSubjects::Table)
                    .if_not_exists()
                    .col(pk_uuid(DisclosureSubjects::Id))
                    .col(uuid(DisclosureSubjects::DisclosureId))
                    .col(big_integer(DisclosureSubjects::Position))
                    .col(string_len(DisclosureSubjects::Kind, 16))
                    .col(string_len(DisclosureSubjects::Label, 200))
                    .col(text(DisclosureSubjects::ThreadIds))
                    .col(boolean(DisclosureSubjects::Approved).default(false))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_disclosure_subjects_disclosure")
                            .from(DisclosureSubjects::Table, DisclosureSubjects::DisclosureId)
                            .to(Disclosures::Table, Disclosures::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_disclosure_subjects_disclosure")
                    .table(DisclosureSubjects::Table)
                    .col(DisclosureSubjects::DisclosureId)
                    .col(DisclosureSubjects::Position)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisclosureEvents::Table)
                    .if_not_exists()
                    .col(pk_uuid(DisclosureEvents::Id))
                    .col(uuid(DisclosureEvents::DisclosureId))
                    .col(string_len_null(DisclosureEvents::FromState, 16))
                    .col(string_len(DisclosureEvents::ToState, 16))
                    .col(text(DisclosureEvents::Reason))
                    .col(string_len(DisclosureEvents::Actor, 80))
                    .col(uuid_null(DisclosureEvents::StaffId))
                    .col(timestamp_with_time_zone(DisclosureEvents::At))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_disclosure_events_disclosure")
                            .from(DisclosureEvents::Table, DisclosureEvents::DisclosureId)
                            .to(Disclosures::Table, Disclosures::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_disclosure_events_disclosure")
                    .table(DisclosureEvents::Table)
                    .col(DisclosureEvents::DisclosureId)
                    .col(DisclosureEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisclosureDocuments::Table)
                    .if_not_exists()
                    .col(pk_uuid(DisclosureDocuments::Id))
                    .col(uuid(DisclosureDocuments::DisclosureId))
                    .col(string_len(DisclosureDocuments::Kind, 16))
                    .col(string_len(DisclosureDocuments::FileName, 255))
                    .col(string_len(DisclosureDocuments::ContentType, 128))
                    .col(binary_len(DisclosureDocuments::Sha256, 32))
                    .col(big_integer(DisclosureDocuments::Size))
                    .col(blob(DisclosureDocuments::Content))
                    .col(timestamp_with_time_zone(DisclosureDocuments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_disclosure_documents_disclosure")
                            .from(
                                DisclosureDocuments::Table,
                                DisclosureDocuments::DisclosureId,
                            )
                            .to(Disclosures::Table, Disclosures::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // One order copy and one package per request: a second execution cannot store another.
        manager
            .create_index(
                Index::create()
                    .name("idx_disclosure_documents_one_per_kind")
                    .table(DisclosureDocuments::Table)
                    .col(DisclosureDocuments::DisclosureId)
                    .col(DisclosureDocuments::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // No foreign key to threads: a hold's record outlives the thread, and erasure must
        // check `legal::is_held` before it deletes anything.
        manager
            .create_table(
                Table::create()
                    .table(LegalHolds::Table)
                    .if_not_exists()
                    .col(pk_uuid(LegalHolds::Id))
                    .col(uuid(LegalHolds::ThreadId))
                    .col(uuid_null(LegalHolds::ContactId))
                    .col(text(LegalHolds::Reason))
                    .col(string_len(LegalHolds::PlacedBy, 80))
                    .col(timestamp_with_time_zone(LegalHolds::PlacedAt))
                    .col(timestamp_with_time_zone_null(LegalHolds::ReleasedAt))
                    .col(string_len_null(LegalHolds::ReleasedBy, 80))
                    .col(text_null(LegalHolds::ReleaseReason))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_holds_thread")
                    .table(LegalHolds::Table)
                    .col(LegalHolds::ThreadId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_holds_contact")
                    .table(LegalHolds::Table)
                    .col(LegalHolds::ContactId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LegalHolds::Table.into_iden(),
            DisclosureDocuments::Table.into_iden(),
            DisclosureEvents::Table.into_iden(),
            DisclosureSubjects::Table.into_iden(),
            Disclosures::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Disclosures {
    Table,
    Id,
    Authority,
    Court,
    CaseNumber,
    OrderDate,
    Instrument,
    RequestedCategories,
    ApprovedCategories,
    Deadline,
    GagUntil,
    State,
    FiledBy,
    FiledByStaff,
    CreatedAt,
    UpdatedAt,
    ExecutedAt,
}

#[derive(DeriveIden)]
enum DisclosureSubjects {
    Table,
    Id,
    DisclosureId,
    Position,
    Kind,
    Label,
    ThreadIds,
    Approved,
}

#[derive(DeriveIden)]
enum DisclosureEvents {
    Table,
    Id,
    DisclosureId,
    FromState,
    ToState,
    Reason,
    Actor,
    StaffId,
    At,
}

#[derive(DeriveIden)]
enum DisclosureDocuments {
    Table,
    Id,
    DisclosureId,
    Kind,
    FileName,
    ContentType,
    Sha256,
    Size,
    Content,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LegalHolds {
    Table,
    Id,
    ThreadId,
    ContactId,
    Reason,
    PlacedBy,
    PlacedAt,
    ReleasedAt,
    ReleasedBy,
    ReleaseReason,
}
