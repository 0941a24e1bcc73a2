//! The contacts that ever bounced, by address index: before acknowledging a submission,
//! Sealpost sums the bounces of every contact with the same address, and only the few with
//! a bounce need reading, however often the address wrote.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A partial index; sea-query cannot state its WHERE, and both databases read this SQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_contacts_bounced ON contacts (email_index) \
                 WHERE bounces > 0",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_contacts_bounced")
            .await?;
        Ok(())
    }
}
