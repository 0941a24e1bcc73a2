//! hCaptcha verification through the `hcaptcha` crate against a configurable endpoint (tests run
//! a verifier of their own on 127.0.0.1). Fails closed: if the verifier cannot be reached, the
//! submission is not accepted.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::config::CaptchaSettings;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptchaError {
    #[error("no captcha answer was sent")]
    Missing,
    #[error("the captcha answer was refused")]
    Rejected,
    #[error("the captcha verifier is unavailable: {0}")]
    Unavailable(String),
}

pub struct CaptchaVerifier {
    client: hcaptcha::Client,
    secret: SecretString,
    site_key: String,
}

impl CaptchaVerifier {
    pub fn from_settings(settings: &CaptchaSettings) -> Result<Option<Self>, url::ParseError> {
        if !settings.enabled {
            return Ok(None);
        }
        let client = hcaptcha::Client::new_with(&settings.verify_url)?;
        Ok(Some(Self {
            client,
            secret: settings.secret.clone(),
            site_key: settings.site_key.clone(),
        }))
    }

    pub fn site_key(&self) -> &str {
        &self.site_key
    }

    pub async fn verify(
        &self,
        answer: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<(), CaptchaError> {
        let answer = answer
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .ok_or(CaptchaError::Missing)?;
        let mut request = hcaptcha::Request::new_from_response(self.secret.expose_secret(), answer)
            .map_err(|_| CaptchaError::Rejected)?;
        request = request
            .set_sitekey(&self.site_key)
            .map_err(|e| CaptchaError::Unavailable(format!("site key: {e}")))?;
        if let Some(ip) = ip {
            request = request
                .set_remoteip(&ip.to_string())
                .map_err(|e| CaptchaError::Unavailable(format!("remote ip: {e}")))?;
        }
        let verification =
            tokio::time::timeout(Duration::from_secs(10), self.client.verify_request(request))
                .await
                .map_err(|_| CaptchaError::Unavailable("timed out after 10 s".into()))?;
        match verification {
            Ok(response) if response.success() => Ok(()),
            Ok(_) => Err(CaptchaError::Rejected),
            Err(hcaptcha::Error::Codes(codes)) => {
                use hcaptcha::Code;
                let misconfigured = codes.iter().any(|c| {
                    matches!(
                        c,
                        Code::MissingSecret
                            | Code::InvalidSecret
                            | Code::SiteSecretMismatch
                            | Code::MissingSiteKey
                            | Code::InvalidSiteKey
                    )
                });
                if misconfigured {
                    Err(CaptchaError::Unavailable(format!(
                        "verifier refused our configuration: {codes:?}"
                    )))
                } else {
                    Err(CaptchaError::Rejected)
                }
            }
            Err(other) => Err(CaptchaError::Unavailable(other.to_string())),
        }
    }
}
