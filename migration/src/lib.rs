//! Schema migrations for Sealpost, one file per step, applied in order by `sealpost serve`
//! and `sealpost migrate`. A migration that has landed is never edited; add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_contacts;
mod m20261124_000002_create_threads;
mod m20261124_000003_create_messages;
mod m20261124_000004_create_outbox;
mod m20261124_000005_add_contact_bounces;
mod m20261124_000006_create_staff;
mod m20261124_000007_create_staff_auth;
mod m20261124_000008_create_audit_log;
mod m20261124_000009_create_disclosures;
mod m20261124_000010_add_outbox_not_before;
mod m20261124_000020_create_daily_stats;
mod m20261124_000021_create_idempotency_keys;
mod m20261124_000022_index_bounced_contacts;
mod m20261201_000023_add_relay_identity;
mod m20261201_000024_forget_unsealed_idempotent_responses;
mod m20261201_000025_add_session_devices_and_account_email;
mod m20261201_000026_add_legal_reminders;
mod m20261201_000027_create_pow_spent;
mod m20261201_000028_add_spam_verdicts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_contacts::Migration),
            Box::new(m20261124_000002_create_threads::Migration),
            Box::new(m20261124_000003_create_messages::Migration),
            Box::new(m20261124_000004_create_outbox::Migration),
            Box::new(m20261124_000005_add_contact_bounces::Migration),
            Box::new(m20261124_000006_create_staff::Migration),
            Box::new(m20261124_000007_create_staff_auth::Migration),
            Box::new(m20261124_000008_create_audit_log::Migration),
            Box::new(m20261124_000009_create_disclosures::Migration),
            Box::new(m20261124_000010_add_outbox_not_before::Migration),
            Box::new(m20261124_000020_create_daily_stats::Migration),
            Box::new(m20261124_000021_create_idempotency_keys::Migration),
            Box::new(m20261124_000022_index_bounced_contacts::Migration),
            Box::new(m20261201_000023_add_relay_identity::Migration),
            Box::new(m20261201_000024_forget_unsealed_idempotent_responses::Migration),
            Box::new(m20261201_000025_add_session_devices_and_account_email::Migration),
            Box::new(m20261201_000026_add_legal_reminders::Migration),
            Box::new(m20261201_000027_create_pow_spent::Migration),
            Box::new(m20261201_000028_add_spam_verdicts::Migration),
        ]
    }
}
