//! Integration tests: one binary, each test through the real HTTP surface of a server on
//! 127.0.0.1 with a real database — SQLite always, PostgreSQL when
//! `SEALPOST_TEST_DATABASE_URL` names one.

#[macro_use]
mod helpers;

mod api_messages;
mod audit;
mod authorization;
mod captcha;
mod cli;
mod faults;
mod form;
mod group_commit;
mod header_injection;
mod hostile_input;
mod idempotency;
mod inbound_auth;
mod instances;
mod leak;
mod legal;
mod logs;
mod metrics;
mod outbox;
mod policy;
mod postfix;
mod pow;
mod privacy;
mod rate_limit;
mod relay;
mod reply_corpus;
mod rspamd;
mod rspamd_server;
mod second_factor;
mod security;
mod service;
mod sessions;
mod spam;
mod staff;
mod staff_api;
mod stats;
mod thread;
mod xss_browser;
