//! PLACEHOLDER for the interface of the Rspamd client being written on the `rspamd` branch;
//! replaced by that branch's file when it is merged. It never reaches a release: it answers
//! nothing and `from_settings` builds none.

use crate::config::RspamdSettings;

pub struct Rspamd;

pub struct Scan<'a> {
    pub subject: Option<&'a str>,
    pub text: &'a str,
    pub language: &'a str,
}

#[derive(Debug, Clone)]
pub struct RspamdVerdict {
    pub score: f64,
    pub action: String,
    pub symbols: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub enum Learn {
    Spam,
    Ham,
}

#[derive(Debug, thiserror::Error)]
pub enum RspamdError {
    #[error("Rspamd is unavailable: {0}")]
    Unavailable(String),
    #[error("Rspamd refused: {0}")]
    Refused(String),
}

impl Rspamd {
    pub fn from_settings(_settings: &RspamdSettings) -> Option<Rspamd> {
        None
    }

    pub async fn check(&self, _scan: &Scan<'_>) -> Result<RspamdVerdict, RspamdError> {
        Err(RspamdError::Unavailable("placeholder".into()))
    }

    pub async fn learn(&self, _learn: Learn, _scan: &Scan<'_>) -> Result<(), RspamdError> {
        Err(RspamdError::Unavailable("placeholder".into()))
    }
}
