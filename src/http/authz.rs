//! Who may use which route — in one place. Every route of the app (pages, API, health) has a
//! rule in [`RULES`]; the [`Authorize`] middleware looks each request up there before any
//! handler runs, and a request that matches no rule is answered 404 or 405 without reaching a
//! handler. A route added without a rule is therefore unreachable, and the authorization test
//! walks this table with every role.
//!
//! The middleware also resolves the caller (a session cookie, or on `/api` a bearer API key),
//! and checks CSRF tokens on every state-changing staff request: the session's token for
//! signed-in forms and cookie-authenticated API calls (`X-CSRF-Token`), a double-submit cookie
//! for the signed-out forms (sign-in, asking for a reset link, password reset).

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::cookie::{Cookie, SameSite};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};
use subtle::ConstantTimeEq;

use super::{ErrorCode, problem_response};
use crate::auth::session::{self, Session, Stage};
use crate::auth::{Credential, Principal, api_key, random_token};
use crate::domain::Role;
use crate::state::AppState;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Not a person's door: the handler checks a token of its own (the MTA's
    /// `mail.inbound.token`); sessions and API keys mean nothing there.
    OwnToken,
    /// A sign-in that is waiting for its second factor.
    SecondFactor,
    /// Any signed-in person, even one who still has to set up a required second factor.
    Enrolling,
    /// Any fully signed-in person, whatever the role.
    AnyRole,
    /// A fully signed-in person, or an API key, with one of these roles.
    Roles(&'static [Role]),
}

/// One route's rule. `path` segments starting with `:` match any one segment; a final `*`
/// matches the rest of the path.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> Rule {
    Rule {
        method,
        path,
        access,
    }
}

/// Who reads and answers messages.
pub const MESSAGES: &[Role] = &[Role::Agent, Role::Admin];
/// Who manages accounts and API keys.
pub const ADMIN: &[Role] = &[Role::Admin];
/// Who reads the audit log.
pub const AUDIT: &[Role] = &[Role::Legal, Role::Admin];
/// Who runs the disclosure workflow and legal holds. Administrators do not: they manage the
/// accounts that may, and read the audit log of what was done.
pub const LEGAL: &[Role] = &[Role::Legal];

use Access::{AnyRole, Enrolling, OwnToken, Public, Roles, SecondFactor};

/// Every route of the application and who may use it.
pub const RULES: &[Rule] = &[
    // The public form, the visitor's pages, health checks.
    rule("GET", "/", Public),
    rule("POST", "/", Public),
    rule("GET", "/sent/:token", Public),
    rule("GET", "/t/:token", Public),
    rule("POST", "/t/:token", Public),
    // The visitor's own data: the private link is the credential.
    rule("GET", "/t/:token/export", Public),
    rule("GET", "/t/:token/erase", Public),
    rule("POST", "/t/:token/erase", Public),
    rule("GET", "/privacy", Public),
    rule("GET", "/transparency", Public),
    rule("GET", "/static/sealpost.css", Public),
    // The vendored proof-of-work widget and the script that starts it.
    rule("GET", "/static/altcha/:file", Public),
    rule("GET", "/static/pow.js", Public),
    rule("GET", "/favicon.svg", Public),
    rule("GET", "/healthz", Public),
    rule("GET", "/readyz", Public),
    // Checks its own token (`metrics.token`): it is the scraper's door.
    rule("GET", "/metrics", OwnToken),
    // The API description and the public operations.
    rule("GET", "/api/openapi.json", Public),
    rule("GET", "/api/docs", Public),
    rule("GET", "/api/docs/*", Public),
    rule("POST", "/api/v1/messages", Public),
    rule("GET", "/api/v1/challenge", Public),
    rule("POST", "/api/v1/inbound", OwnToken),
    // The staff API.
    rule("GET", "/api/v1/messages", Roles(MESSAGES)),
    rule("GET", "/api/v1/messages/:id", Roles(MESSAGES)),
    rule("PATCH", "/api/v1/messages/:id", Roles(MESSAGES)),
    rule("POST", "/api/v1/messages/:id/replies", Roles(MESSAGES)),
    rule("GET", "/api/v1/api-keys", Roles(ADMIN)),
    rule("POST", "/api/v1/api-keys", Roles(ADMIN)),
    rule("DELETE", "/api/v1/api-keys/:id", Roles(ADMIN)),
    rule("GET", "/api/v1/stats", Roles(ADMIN)),
    rule("GET", "/api/v1/audit", Roles(AUDIT)),
    rule("GET", "/api/v1/audit/verify", Roles(AUDIT)),
    rule("GET", "/api/v1/transparency", Public),
    rule("GET", "/api/v1/disclosures", Roles(LEGAL)),
    rule("POST", "/api/v1/disclosures", Roles(LEGAL)),
    rule("GET", "/api/v1/disclosures/:id", Roles(LEGAL)),
    rule("POST", "/api/v1/disclosures/:id/transitions", Roles(LEGAL)),
    rule("POST", "/api/v1/disclosures/:id/execute", Roles(LEGAL)),
    rule("GET", "/api/v1/disclosures/:id/package", Roles(LEGAL)),
    rule("GET", "/api/v1/legal-holds", Roles(LEGAL)),
    rule("POST", "/api/v1/legal-holds", Roles(LEGAL)),
    rule("POST", "/api/v1/legal-holds/:id/release", Roles(LEGAL)),
    // Signing in and out.
    rule("GET", "/staff/signin", Public),
    rule("POST", "/staff/signin", Public),
    rule("GET", "/staff/signin/second-factor", SecondFactor),
    rule("POST", "/staff/signin/second-factor", SecondFactor),
    rule("GET", "/staff/reset/:token", Public),
    rule("POST", "/staff/reset/:token", Public),
    rule("POST", "/staff/signout", Enrolling),
    // "Forgot your password?": asks for a reset link to the account's own address.
    rule("GET", "/staff/forgot", Public),
    rule("POST", "/staff/forgot", Public),
    // One's own account.
    rule("GET", "/staff/account", AnyRole),
    rule("POST", "/staff/account/password", AnyRole),
    rule("POST", "/staff/account/mail", AnyRole),
    rule("POST", "/staff/account/email", AnyRole),
    rule("POST", "/staff/account/sessions/end-others", AnyRole),
    rule("POST", "/staff/account/sessions/:handle/end", AnyRole),
    rule("GET", "/staff/account/second-factor", Enrolling),
    rule("POST", "/staff/account/second-factor", Enrolling),
    rule("POST", "/staff/account/second-factor/disable", AnyRole),
    rule("POST", "/staff/account/recovery-codes", AnyRole),
    // The inbox.
    rule("GET", "/staff", Roles(MESSAGES)),
    rule("GET", "/staff/threads/:id", Roles(MESSAGES)),
    rule("POST", "/staff/threads/:id/replies", Roles(MESSAGES)),
    rule("POST", "/staff/threads/:id/status", Roles(MESSAGES)),
    rule(
        "POST",
        "/staff/threads/:id/messages/:message_id/:decision",
        Roles(MESSAGES),
    ),
    // Administration.
    rule("GET", "/staff/stats", Roles(ADMIN)),
    rule("GET", "/staff/stats.csv", Roles(ADMIN)),
    rule("GET", "/staff/admin", Roles(ADMIN)),
    rule("POST", "/staff/admin/erase", Roles(ADMIN)),
    rule("POST", "/staff/admin/api-keys", Roles(ADMIN)),
    rule("POST", "/staff/admin/api-keys/:id/revoke", Roles(ADMIN)),
    rule("POST", "/staff/admin/accounts/:login/reset", Roles(ADMIN)),
    rule("POST", "/staff/admin/accounts/:login/disable", Roles(ADMIN)),
    rule("POST", "/staff/admin/accounts/:login/enable", Roles(ADMIN)),
    // Disclosure requests and legal holds.
    rule("GET", "/staff/legal", Roles(LEGAL)),
    rule("GET", "/staff/legal/new", Roles(LEGAL)),
    rule("POST", "/staff/legal/requests", Roles(LEGAL)),
    rule("GET", "/staff/legal/requests/:id", Roles(LEGAL)),
    rule(
        "POST",
        "/staff/legal/requests/:id/transitions",
        Roles(LEGAL),
    ),
    rule("POST", "/staff/legal/requests/:id/execute", Roles(LEGAL)),
    rule("GET", "/staff/legal/requests/:id/package", Roles(LEGAL)),
    rule("GET", "/staff/legal/requests/:id/order", Roles(LEGAL)),
    rule("GET", "/staff/legal/holds", Roles(LEGAL)),
    rule("POST", "/staff/legal/holds", Roles(LEGAL)),
    rule("POST", "/staff/legal/holds/:id/release", Roles(LEGAL)),
];

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.split('/').skip(1);
    let mut path = path.split('/').skip(1);
    loop {
        match (pattern.next(), path.next()) {
            (Some("*"), _) => return true,
            (Some(p), Some(s)) if p.starts_with(':') => {
                if s.is_empty() {
                    return false;
                }
            }
            (Some(p), Some(s)) if p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The rule for a request, or the status to answer when there is none (404, or 405 when the
/// path exists with other methods).
pub fn rule_for(method: &Method, path: &str) -> Result<&'static Rule, StatusCode> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let mut path_known = false;
    for rule in RULES {
        if path_matches(rule.path, path) {
            if rule.method == method {
                return Ok(rule);
            }
            path_known = true;
        }
    }
    Err(if path_known {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        StatusCode::NOT_FOUND
    })
}

/// The rule a request matched (or the status for none), looked up once per request by the
/// outermost layer that needs it and kept in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct Matched(pub Result<&'static Rule, StatusCode>);

impl Matched {
    /// The rule of `req`, from its extensions or looked up now.
    pub fn of(req: &Request) -> Self {
        req.extensions()
            .get::<Matched>()
            .copied()
            .unwrap_or_else(|| Matched(rule_for(req.method(), req.uri().path())))
    }
}

/// The CSRF token of a signed-out staff form, from its double-submit cookie.
#[derive(Debug, Clone)]
pub struct FormToken(pub String);

/// The name of the double-submit cookie of signed-out staff forms.
pub const CSRF_COOKIE: &str = "sealpost_csrf";
/// The form field every state-changing staff form carries.
pub const CSRF_FIELD: &str = "csrf";
/// The header cookie-authenticated API calls carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub struct Authorize;

impl<E: Endpoint> Middleware<E> for Authorize {
    type Output = AuthorizeEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        AuthorizeEndpoint { inner: ep }
    }
}

pub struct AuthorizeEndpoint<E> {
    inner: E,
}

enum Denial {
    Status(ErrorCode, &'static str),
    SignIn,
    Redirect(&'static str),
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

fn state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie for the session or the CSRF double-submit, with the flags every cookie here gets.
pub fn cookie(app: &AppState, name: &str, value: String, path: &str) -> Cookie {
    let mut cookie = Cookie::new_with_str(name, value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(app.settings.base_url().starts_with("https://"));
    cookie.set_path(path);
    cookie
}

/// A cookie sent with the request, read from the headers (no cookie-jar middleware needed).
fn cookie_value(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn tokens_equal(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Reads a posted form body (URL-encoded or multipart, bounded) for one field, and puts the
/// body back for the handler. A body of another type has no field to read: it is refused as
/// such (415) rather than as a missing token, since no form of that type is ever accepted.
async fn form_field(
    req: &mut Request,
    limit: usize,
    name: &str,
) -> std::result::Result<Option<String>, Denial> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let multipart_boundary = multer::parse_boundary(&content_type).ok();
    if multipart_boundary.is_none() && content_type.starts_with("multipart/") {
        return Err(Denial::Status(
            ErrorCode::MalformedRequest,
            "A multipart form needs a boundary.",
        ));
    }
    let body = req.take_body();
    let bytes = body
        .into_bytes_limit(limit)
        .await
        .map_err(|_| Denial::Status(ErrorCode::PayloadTooLarge, "The form is too large."))?;
    if multipart_boundary.is_none()
        && !content_type.starts_with("application/x-www-form-urlencoded")
    {
        let empty = bytes.is_empty();
        req.set_body(Body::from(bytes));
        return if empty {
            Ok(None)
        } else {
            Err(Denial::Status(
                ErrorCode::UnsupportedMediaType,
                "A form must be sent as application/x-www-form-urlencoded or multipart/form-data.",
            ))
        };
    }
    let value = match multipart_boundary {
        None => serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)),
        Some(boundary) => {
            let stream = futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(
                bytes.clone(),
            )));
            let mut parts = multer::Multipart::new(stream, boundary);
            let mut found = None;
            while let Ok(Some(field)) = parts.next_field().await {
                if field.name() == Some(name) {
                    found = field.text().await.ok();
                    break;
                }
            }
            found
        }
    };
    req.set_body(Body::from(bytes));
    Ok(value)
}

impl<E: Endpoint> AuthorizeEndpoint<E> {
    fn refuse(&self, app: &AppState, req: &Request, denial: Denial) -> Response {
        let path = req.uri().path();
        match denial {
            Denial::Redirect(to) => super::page::see_other(to),
            Denial::SignIn if !is_api(path) => {
                let next = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .filter(|_| req.method() == Method::GET)
                    .unwrap_or("/staff");
                let to = format!(
                    "/staff/signin?next={}",
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                );
                super::page::see_other(&to)
            }
            Denial::SignIn => {
                let mut resp = problem(
                    req,
                    ErrorCode::Unauthorized,
                    "Send an API key as `Authorization: Bearer spk_...`, or sign in.",
                );
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sealpost\""),
                );
                resp
            }
            Denial::Status(code, detail) if is_api(path) => problem(req, code, detail),
            Denial::Status(code, _) => super::error_response(app, req, code),
        }
    }
}

fn problem(req: &Request, code: ErrorCode, detail: &str) -> Response {
    problem_response(super::problem(req, code, detail).0)
}

impl<E: Endpoint> Endpoint for AuthorizeEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let Some(app) = req.extensions().get::<Arc<AppState>>().cloned() else {
            return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
        };
        let path = req.uri().path().to_owned();
        let rule = match Matched::of(&req).0 {
            Ok(rule) => rule,
            Err(status) => {
                let code = ErrorCode::from_status(status);
                drain_unread(&app, &mut req).await;
                return Ok(self.refuse(
                    &app,
                    &req,
                    Denial::Status(code, "There is no such operation."),
                ));
            }
        };
        let staff_area = path == "/staff" || path.starts_with("/staff/");
        if matches!(rule.access, Access::Public | Access::OwnToken) && !staff_area {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        match self.authorize(&app, &mut req, rule, staff_area).await {
            Ok(set_cookie) => {
                let mut resp = self.inner.call(req).await?.into_response();
                if let Some(cookie) = set_cookie
                    && let Ok(value) = HeaderValue::from_str(&cookie.to_string())
                {
                    resp.headers_mut().append(header::SET_COOKIE, value);
                }
                Ok(resp)
            }
            Err(denial) => {
                drain_unread(&app, &mut req).await;
                Ok(self.refuse(&app, &req, denial))
            }
        }
    }
}

/// A refusal is answered before the handler would have read the body: read what the client is
/// still sending first (bounded like an accepted request), or the connection closes with data
/// unread and the client, mid-upload, sees a reset instead of the 401, 403 or 404.
async fn drain_unread(app: &AppState, req: &mut Request) {
    let limit =
        crate::legal::request_limit(req.uri().path(), app.settings.server.max_request_bytes);
    super::body_limit::drain(req.take_body(), limit).await;
}

impl<E: Endpoint> AuthorizeEndpoint<E> {
    /// Resolves the caller and applies the rule; on success the request carries the
    /// [`Principal`] (or the [`FormToken`] of a signed-out form), and a cookie may be returned
    /// to set on the response.
    async fn authorize(
        &self,
        app: &AppState,
        req: &mut Request,
        rule: &Rule,
        staff_area: bool,
    ) -> std::result::Result<Option<Cookie>, Denial> {
        let unavailable = || Denial::Status(ErrorCode::ServiceUnavailable, "Try again shortly.");
        // The intake of a disclosure request carries the order copy.
        let limit =
            crate::legal::request_limit(req.uri().path(), app.settings.server.max_request_bytes);
        let changing = state_changing(req.method());
        let api = is_api(req.uri().path());
        // An API key is a credential only on the API.
        let mut principal = None;
        if api && let Some(token) = bearer(req) {
            let key = api_key::lookup(&app.db, token)
                .await
                .map_err(|_| unavailable())?
                .ok_or(Denial::SignIn)?;
            let role = Role::parse(&key.role).ok_or(Denial::SignIn)?;
            principal = Some(Principal {
                staff_id: None,
                role,
                credential: Credential::ApiKey {
                    id: key.id,
                    name: key.name,
                },
            });
        }
        if principal.is_none()
            && let Some(cookie) = cookie_value(req, session::COOKIE)
            && let Some(session) = session::lookup(&app.db, &app.settings.staff, &cookie)
                .await
                .map_err(|_| unavailable())?
        {
            principal = Role::parse(&session.staff.role).map(|role| Principal {
                staff_id: Some(session.staff.id),
                role,
                credential: Credential::Session(Box::new(session)),
            });
        }
        let stage = principal
            .as_ref()
            .and_then(|p| p.session())
            .map(|s| s.stage);
        match rule.access {
            Access::Public | Access::OwnToken => {}
            Access::SecondFactor => {
                if stage != Some(Stage::SecondFactor) {
                    return Err(Denial::Redirect("/staff/signin"));
                }
            }
            Access::Enrolling => {
                if !matches!(stage, Some(Stage::Full | Stage::Enrol)) {
                    return Err(Denial::SignIn);
                }
            }
            Access::AnyRole | Access::Roles(_) => {
                let Some(p) = principal.as_ref() else {
                    return Err(Denial::SignIn);
                };
                match stage {
                    Some(Stage::SecondFactor) if !api => {
                        return Err(Denial::Redirect("/staff/signin/second-factor"));
                    }
                    Some(Stage::Enrol) if !api => {
                        return Err(Denial::Redirect("/staff/account/second-factor"));
                    }
                    Some(Stage::SecondFactor | Stage::Enrol) => return Err(Denial::SignIn),
                    _ => {}
                }
                if let Access::Roles(roles) = rule.access
                    && !roles.contains(&p.role)
                {
                    return Err(Denial::Status(
                        ErrorCode::Forbidden,
                        "Your role may not use this operation.",
                    ));
                }
            }
        }
        let csrf_refused = Denial::Status(
            ErrorCode::Forbidden,
            "The CSRF token is missing or wrong: reload the page and try again.",
        );
        let mut set_cookie = None;
        match principal.as_ref().and_then(|p| p.session()) {
            // Signed in: the session's own token, in the form or (for the API) a header.
            Some(session) if changing && rule.access != Access::Public => {
                let sent = match req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
                    Some(header) => Some(header.to_owned()),
                    // The API reads its token from the header only (its bodies are JSON).
                    None if api => None,
                    None => form_field(req, limit, CSRF_FIELD).await?,
                };
                if !sent.is_some_and(|t| tokens_equal(&t, &session.csrf)) {
                    return Err(csrf_refused);
                }
            }
            _ if staff_area && rule.access == Access::Public => {
                // Signed-out forms: a double-submit cookie.
                let existing = cookie_value(req, CSRF_COOKIE).filter(|v| v.len() >= 32);
                if changing {
                    let sent = form_field(req, limit, CSRF_FIELD).await?;
                    match (&existing, sent) {
                        (Some(cookie), Some(sent)) if tokens_equal(&sent, cookie) => {}
                        _ => return Err(csrf_refused),
                    }
                }
                let token = match existing {
                    Some(token) => token,
                    None => {
                        let token = random_token(32);
                        set_cookie = Some(cookie(app, CSRF_COOKIE, token.clone(), "/staff"));
                        token
                    }
                };
                req.extensions_mut().insert(FormToken(token));
            }
            _ => {}
        }
        if let Some(principal) = principal {
            if let Some(session) = principal.session() {
                req.extensions_mut().insert(Session::clone(session));
            }
            req.extensions_mut().insert(principal);
        }
        Ok(set_cookie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        assert!(path_matches("/staff/threads/:id", "/staff/threads/abc"));
        assert!(!path_matches("/staff/threads/:id", "/staff/threads/"));
        assert!(!path_matches("/staff/threads/:id", "/staff/threads/a/b"));
        assert!(!path_matches("/staff", "/staffing"));
        assert!(path_matches("/api/docs/*", "/api/docs/"));
        assert!(path_matches("/api/docs/*", "/api/docs/x/y"));
        assert!(path_matches("/", "/"));
        assert!(!path_matches("/", "/x"));
    }

    #[test]
    fn unknown_paths_and_methods_have_no_rule() {
        assert_eq!(
            rule_for(&Method::GET, "/nope").unwrap_err(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            rule_for(&Method::DELETE, "/staff").unwrap_err(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(rule_for(&Method::HEAD, "/").unwrap().access, Access::Public);
    }
}
