//! Sealpost: a self-hosted feedback and contact-form service that never shows a visitor's address.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod captcha;
pub mod config;
pub mod db;
pub mod domain;
pub mod entities;
pub mod group_commit;
pub mod http;
pub mod i18n;
pub mod inbox;
pub mod legal;
pub mod mail;
pub mod mailers;
pub mod messages;
pub mod metrics;
pub mod moderation;
pub mod outbox;
pub mod policy_text;
pub mod privacy;
pub mod rate_limit;
pub mod relay;
pub mod seal;
pub mod smtp;
pub mod spam;
pub mod startup;
pub mod state;
pub mod stats;
pub mod tally;
pub mod telemetry;
pub mod web;
