//! Security headers on every response, in one place: a strict Content-Security-Policy (opened
//! only for the captcha's hosts when the captcha is on, and for the API explorer's inline assets
//! on its own page), no sniffing, no referrer, no framing, and HSTS when configured.

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

const HCAPTCHA_HOSTS: &str = "https://hcaptcha.com https://*.hcaptcha.com";

pub struct SecurityHeaders {
    page_csp: HeaderValue,
    docs_csp: HeaderValue,
    hsts: bool,
}

impl SecurityHeaders {
    pub fn new(captcha: bool, hsts: bool) -> Self {
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
        // The Swagger UI page is one HTML document with its script and styles inline.
        let docs_csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
        Self {
            page_csp: HeaderValue::from_str(&page_csp)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
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
            docs_csp: self.docs_csp.clone(),
            hsts: self.hsts,
        }
    }
}

pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    page_csp: HeaderValue,
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
        let headers = resp.headers_mut();
        let csp = if is_docs {
            &self.docs_csp
        } else {
            &self.page_csp
        };
        headers.insert("content-security-policy", csp.clone());
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "cross-origin-opener-policy",
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            "permissions-policy",
            HeaderValue::from_static(
                "camera=(), microphone=(), geolocation=(), interest-cohort=()",
            ),
        );
        if self.hsts {
            headers.insert(
                "strict-transport-security",
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            );
        }
        Ok(resp)
    }
}
