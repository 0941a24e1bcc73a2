//! Staff sessions as the privacy policy describes them: a session remembers whether its owner
//! ticked "Keep me signed in" and the browser and system family it was opened from (reduced
//! as in the statistics: never an IP or a whole User-Agent); an account may name its own
//! address, where a reset link it asks for is mailed; and an outbox row may be addressed to
//! one staff account (the reset link), whose address is read at delivery.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000004_create_outbox::Outbox;
use crate::m20261124_000006_create_staff::Staff;
use crate::m20261124_000007_create_staff_auth::StaffSessions;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .add_column(string_len_null(Added::Email, 254))
                    .to_owned(),
            )
            .await?;
        for column in [
            boolean(Added::Remember).default(false).to_owned(),
            string_len(Added::Browser, 64).default("unknown").to_owned(),
            string_len(Added::Os, 64).default("unknown").to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(StaffSessions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(uuid_null(Added::StaffId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Added::StaffId)
                    .to_owned(),
            )
            .await?;
        for column in [Added::Os, Added::Browser, Added::Remember] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StaffSessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .drop_column(Added::Email)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Added {
    Email,
    Remember,
    Browser,
    Os,
    StaffId,
}
