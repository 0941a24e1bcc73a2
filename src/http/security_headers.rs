//! Security headers on every response, in one place: a strict Content-Security-Policy (opened
//! only for the captcha's hosts when the captcha is on, for this site's own scripts and workers
//! on a page that loads the proof-of-work widget, and for the API explorer's inline assets on
//! its own page), no sniffing, no referrer, no framing, and HSTS when configured.

use poem::http::HeaderValue;
use poem::http::header::{self, HeaderName};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");
const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

const HCAPTCHA_HOSTS: &str = "https://hcaptcha.com https://*.hcaptcha.com";

/// What a page that runs this site's own scripts puts in its response's extensions: the form
/// with the proof-of-work widget. It gets the policy that lets scripts and workers from this
/// site run and fetch from it; every other page keeps the script-free one.
#[derive(Debug, Clone, Copy)]
pub struct OwnScripts;

pub struct SecurityHeaders {
    page_csp: HeaderValue,
    /// For a response marked [`OwnScripts`] when the proof of work is on.
    scripts_csp: Option<HeaderValue>,
    docs_csp: HeaderValue,
    hsts: bool,
}

impl SecurityHeaders {
    pub fn new(captcha: bool, pow: bool, hsts: bool) -> Self {
        let page_csp = if captcha {
            format!(
                "default-src 'none'; script-src {h}; frame-src {h}; connect-src {h}; \
                 style-src 'self' {h}; img-src 'self' data:; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
                h = HCAPTCHA_HOSTS
            )
        } else {
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
                .to_owned()
        };
        // The widget's script and its PBKDF2 worker come from this site, and it fetches its
        // challenge from this site: nothing else, and nothing inline.
        let h = if captcha {
            format!(" {HCAPTCHA_HOSTS}")
        } else {
            String::new()
        };
        let frames = if captcha {
            format!(" frame-src {HCAPTCHA_HOSTS};")
        } else {
            String::new()
        };
        let scripts_csp = pow.then(|| {
            format!(
                "default-src 'none'; script-src 'self'{h}; worker-src 'self';{frames} \
                 connect-src 'self'{h}; style-src 'self'{h}; img-src 'self' data:; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            )
        });
        // The Swagger UI page is one HTML document with its script and styles inline.
        let docs_csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
        Self {
            page_csp: HeaderValue::from_str(&page_csp)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
            scripts_csp: scripts_csp.map(|csp| {
                HeaderValue::from_str(&csp)
                    .unwrap_or(HeaderValue::from_static("default-src 'none'"))
            }),
            docs_csp: HeaderValue::from_static(docs_csp),
            hsts,
        }
    }
}

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint {
            inner: ep,
            page_csp: self.page_csp.clone(),
            scripts_csp: self.scripts_csp.clone(),
            docs_csp: self.docs_csp.clone(),
            hsts: self.hsts,
        }
    }
}

pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    page_csp: HeaderValue,
    scripts_csp: Option<HeaderValue>,
    docs_csp: HeaderValue,
    hsts: bool,
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let is_docs = req.uri().path() == "/api/docs" || req.uri().path().starts_with("/api/docs/");
        let mut resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let own_scripts = resp.extensions().get::<OwnScripts>().is_some();
        let headers = resp.headers_mut();
        let csp = match (&self.scripts_csp, own_scripts) {
            _ if is_docs => &self.docs_csp,
            (Some(scripts_csp), true) => scripts_csp,
            _ => &self.page_csp,
        };
        // Header names as constants: a name given as a string is parsed on every insert.
        headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            CROSS_ORIGIN_OPENER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            PERMISSIONS_POLICY,
            HeaderValue::from_static(
                "camera=(), microphone=(), geolocation=(), interest-cohort=()",
            ),
        );
        if self.hsts {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            );
        }
        Ok(resp)
    }
}
