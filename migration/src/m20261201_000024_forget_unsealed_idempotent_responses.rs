//! Idempotent responses are sealed from now on; the ones kept before were stored in clear, and
//! the first answer to a submission holds the conversation's private link. They are only a
//! replay cache of a day: forgotten here, so that no bearer secret stays in clear at rest.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM idempotency_keys")
            .await
            .map(|_| ())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Nothing to restore: the responses are gone by design.
        Ok(())
    }
}
