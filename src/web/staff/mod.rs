//! The staff pages under `/staff`: signing in and out, one's own account, the inbox and a
//! thread, administration. Who may open which page is decided in `crate::http::authz` before a
//! handler runs; handlers find the caller's [`Session`] in the request. Every page works
//! without JavaScript and uses the public form's stylesheet.

mod account;
mod admin;
mod inbox;
mod legal;
mod signin;
mod stats;

use poem::http::{StatusCode, header};
use poem::web::cookie::Cookie;
use poem::{EndpointExt, IntoEndpoint, Request, Response, Route, get, post};

use super::{App, WebErrors};
use super::{not_found, see_other, unavailable};
use crate::auth::session::{self, NewSession, Session, Stage};
use crate::http::BodyLimit;
use crate::http::authz::{self, FormToken};

pub fn routes(max_request_bytes: usize) -> impl IntoEndpoint {
    Route::new()
        .at("/", get(inbox::list))
        .at("/threads/:id", get(inbox::show))
        .at("/threads/:id/replies", post(inbox::reply))
        .at("/threads/:id/status", post(inbox::set_status))
        .at(
            "/threads/:id/messages/:message_id/:decision",
            post(inbox::decide_held),
        )
        .at("/signin", get(signin::form).post(signin::submit))
        .at(
            "/signin/second-factor",
            get(signin::second_factor_form).post(signin::second_factor_submit),
        )
        .at("/signout", post(signin::sign_out))
        .at(
            "/forgot",
            get(signin::forgot_form).post(signin::forgot_submit),
        )
        .at(
            "/reset/:token",
            get(signin::reset_form).post(signin::reset_submit),
        )
        .at("/account", get(account::show))
        .at("/account/password", post(account::change_password))
        .at("/account/mail", post(account::mail_identity))
        .at("/account/email", post(account::set_email))
        .at("/account/sessions/end-others", post(account::end_others))
        .at("/account/sessions/:handle/end", post(account::end_session))
        .at(
            "/account/second-factor",
            get(account::enrol_form).post(account::enrol_confirm),
        )
        .at(
            "/account/second-factor/disable",
            post(account::disable_totp),
        )
        .at("/account/recovery-codes", post(account::new_recovery_codes))
        .at("/stats", get(stats::show))
        .at("/stats.csv", get(stats::csv))
        .at("/admin", get(admin::show))
        .at("/admin/erase", post(admin::erase_by_address))
        .at("/admin/api-keys", post(admin::create_key))
        .at("/admin/api-keys/:id/revoke", post(admin::revoke_key))
        .at("/admin/accounts/:login/reset", post(admin::reset_account))
        .at(
            "/admin/accounts/:login/disable",
            post(admin::disable_account),
        )
        .at("/admin/accounts/:login/enable", post(admin::enable_account))
        .at("/legal", get(legal::list))
        .at("/legal/new", get(legal::new_form))
        .at("/legal/requests", post(legal::file))
        .at("/legal/requests/:id", get(legal::show))
        .at("/legal/requests/:id/transitions", post(legal::decide))
        .at("/legal/requests/:id/execute", post(legal::execute))
        .at("/legal/requests/:id/package", get(legal::package))
        .at("/legal/requests/:id/order", get(legal::order_copy))
        .at(
            "/legal/holds",
            get(legal::list_holds).post(legal::place_hold),
        )
        .at("/legal/holds/:id/release", post(legal::release_hold))
        .with(BodyLimit::new(max_request_bytes).allow(
            "/staff/legal/requests",
            crate::legal::request_limit("/staff/legal/requests", max_request_bytes),
        ))
        .with(WebErrors)
}

/// The signed-in person in the top bar.
pub struct Nav {
    pub login: String,
    pub role: String,
    pub csrf: String,
    pub can_read: bool,
    pub is_admin: bool,
    pub is_legal: bool,
}

/// What every staff page's frame shows.
pub struct Frame {
    pub site_name: String,
    pub nav: Option<Nav>,
    pub current: &'static str,
    pub wide: bool,
    /// Where the brand in the top bar leads: the person's own start page.
    pub home: &'static str,
}

impl Frame {
    pub fn signed_out(app: &App) -> Self {
        Self {
            site_name: app.settings.site.name.clone(),
            nav: None,
            current: "",
            wide: false,
            home: "/staff/signin",
        }
    }

    pub fn new(app: &App, session: &Session, current: &'static str) -> Self {
        let full = session.stage == Stage::Full;
        let role = crate::domain::Role::parse(&session.staff.role);
        Self {
            site_name: app.settings.site.name.clone(),
            nav: Some(Nav {
                login: session.staff.login.clone(),
                role: session.staff.role.clone(),
                csrf: session.csrf.clone(),
                can_read: full && role.is_some_and(|r| authz::MESSAGES.contains(&r)),
                is_admin: full && role.is_some_and(|r| authz::ADMIN.contains(&r)),
                is_legal: full && role.is_some_and(|r| authz::LEGAL.contains(&r)),
            }),
            current,
            wide: matches!(current, "inbox" | "admin" | "stats" | "legal"),
            home: if full {
                landing(&session.staff.role)
            } else {
                "/staff/account"
            },
        }
    }

    /// The CSRF token for this page's forms.
    pub fn csrf(&self) -> &str {
        self.nav
            .as_ref()
            .map(|n| n.csrf.as_str())
            .unwrap_or_default()
    }
}

/// The caller's session; the authorization layer guarantees one on every signed-in route.
fn session(req: &Request) -> poem::Result<&Session> {
    req.extensions()
        .get::<Session>()
        .ok_or_else(|| poem::Error::from_status(StatusCode::UNAUTHORIZED))
}

/// The double-submit token of a signed-out form.
fn form_token(req: &Request) -> String {
    req.extensions()
        .get::<FormToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default()
}

/// The session cookie of a fresh session: without `Max-Age` it ends with the browser; a
/// remembered session's is kept as long as the session lasts.
fn session_cookie(app: &App, new: &NewSession) -> Cookie {
    let mut cookie = authz::cookie(app, session::COOKIE, new.cookie.clone(), "/");
    if let Some(keep_for) = new.keep_for {
        cookie.set_max_age(keep_for);
    }
    cookie
}

/// A session cookie that tells the browser to forget the one it holds.
fn gone_session_cookie(app: &App) -> Cookie {
    let mut gone = authz::cookie(app, session::COOKIE, String::new(), "/");
    gone.set_max_age(std::time::Duration::ZERO);
    gone
}

/// Adds a `Set-Cookie` to a response.
fn with_cookie(mut resp: Response, cookie: Cookie) -> Response {
    if let Ok(value) = header::HeaderValue::from_str(&cookie.to_string()) {
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
    resp
}

/// A safe place to go after signing in: only a path on this site under `/staff`.
fn safe_next(next: &str) -> Option<&str> {
    let ok = (next == "/staff" || next.starts_with("/staff/") || next.starts_with("/staff?"))
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.starts_with("/staff/signin")
        && !next.chars().any(char::is_control);
    ok.then_some(next)
}

/// Where a person lands after signing in.
fn landing(session_role: &str) -> &'static str {
    match crate::domain::Role::parse(session_role) {
        Some(role) if authz::MESSAGES.contains(&role) => "/staff",
        Some(role) if authz::LEGAL.contains(&role) => "/staff/legal",
        _ => "/staff/account",
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_staff_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/staff/threads/x"), Some("/staff/threads/x"));
        assert_eq!(safe_next("/staff?status=new"), Some("/staff?status=new"));
        assert_eq!(safe_next("//evil.example/staff"), None);
        assert_eq!(safe_next("https://evil.example/staff"), None);
        assert_eq!(safe_next("/staff/\\evil"), None);
        assert_eq!(safe_next("/staffevil"), None);
        assert_eq!(safe_next("/staff/signin"), None);
    }
}
