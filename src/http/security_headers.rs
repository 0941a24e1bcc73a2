//! Security headers on every response, in one place: a strict Content-Security-Policy (opened
//! only for the captcha's hosts when the captcha is on, and for the API explorer's inline assets
//! on its own page), no sniffing, no referrer, no framing, and HSTS when configured.

use poem::http::HeaderValue;
use poem::http::header::{self, HeaderName};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");
const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

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
