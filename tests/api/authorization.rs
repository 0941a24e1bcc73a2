//! Walks every route with every kind of caller — nobody, an expired session, each role signed
//! in, an API key of each role, a session still enrolling its second factor, a sign-in still
//! waiting for its second factor — and checks each answer against [`MATRIX`], written here by
//! hand from the roles' documented rights (README "Staff", "Disclosures", "The staff API";
//! DESIGN.md "Users and their front doors"). The expectations never come from
//! `sealpost::http::authz::RULES`, so a wrong rule there is caught instead of expected; RULES is read
//! only to demand that both list the same routes, so a route added without a row here fails.

use std::collections::BTreeSet;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sealpost::auth::session::{self, Stage};
use sealpost::domain::Role;
use sealpost::entities::staff_sessions;
use sealpost::http::authz::RULES;

use crate::helpers::{Backend, TestApp, TestAppBuilder, csrf_of, spawn_app};

/// Who calls, in the order of the matrix's columns.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Nobody,
    Expired,
    Session(Role),
    Key(Role),
    /// An administrator signed in with the password, who must still set up the second factor.
    Enrolling,
    /// An administrator whose password was right and whose second factor is still to come.
    Pending,
}

const CALLERS: [Caller; 10] = [
    Caller::Nobody,
    Caller::Expired,
    Caller::Session(Role::Agent),
    Caller::Session(Role::Legal),
    Caller::Session(Role::Admin),
    Caller::Key(Role::Agent),
    Caller::Key(Role::Legal),
    Caller::Key(Role::Admin),
    Caller::Enrolling,
    Caller::Pending,
];

/// Every route and the answer each caller must get, one letter per column of [`CALLERS`]:
///
/// - `A` admitted: the handler answers (no 401, no 403, no redirect to sign-in, enrolment or
///   second factor; a 404 for the made-up id or a 422 for the empty body is the handler's);
/// - `S` must sign in: 303 to `/staff/signin` on a page, 401 on the API;
/// - `F` forbidden: 403, signed in with a role that may not;
/// - `E` must first set up the second factor: 303 to `/staff/account/second-factor`;
/// - `P` must first finish the second factor: 303 to `/staff/signin/second-factor`;
/// - `T` not a person's door: 401 to everyone without the door's own token.
///
/// What the columns follow: agents read and answer messages; legal runs disclosures and
/// legal holds (not admin, not agent) and reads the audit log; admins manage accounts, API
/// keys, retention and statistics, read the audit log, and may read and answer messages. An
/// API key has its role on the API and means nothing on a page. Until a required second factor
/// is set up only enrolment and sign-out open; until a sign-in's second factor is given only
/// the second-factor page does.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str)] = &[
    //                                                        nobody
    //                                                        | expired session
    //                                                        | | agent, legal, admin signed in
    //                                                        | | |     API keys: agent, legal, admin
    //                                                        | | |     |     enrolling, pending
    // The public form, the visitor's pages and data (the private link is the credential).
    ("GET",    "/",                                          "A A A A A A A A A A"),
    ("POST",   "/",                                          "A A A A A A A A A A"),
    ("GET",    "/sent/:token",                               "A A A A A A A A A A"),
    ("GET",    "/t/:token",                                  "A A A A A A A A A A"),
    ("POST",   "/t/:token",                                  "A A A A A A A A A A"),
    ("GET",    "/t/:token/export",                           "A A A A A A A A A A"),
    ("GET",    "/t/:token/erase",                            "A A A A A A A A A A"),
    ("POST",   "/t/:token/erase",                            "A A A A A A A A A A"),
    ("GET",    "/privacy",                                   "A A A A A A A A A A"),
    ("GET",    "/transparency",                              "A A A A A A A A A A"),
    ("GET",    "/static/sealpost.css",                       "A A A A A A A A A A"),
    ("GET",    "/static/altcha/:file",                       "A A A A A A A A A A"),
    ("GET",    "/static/pow.js",                             "A A A A A A A A A A"),
    ("GET",    "/favicon.svg",                               "A A A A A A A A A A"),
    ("GET",    "/healthz",                                   "A A A A A A A A A A"),
    ("GET",    "/readyz",                                    "A A A A A A A A A A"),
    // The scraper's door (`metrics.token`) and the MTA's (`mail.inbound.token`).
    ("GET",    "/metrics",                                   "T T T T T T T T T T"),
    ("POST",   "/api/v1/inbound",                            "T T T T T T T T T T"),
    // The API description and the public operations.
    ("GET",    "/api/openapi.json",                          "A A A A A A A A A A"),
    ("GET",    "/api/docs",                                  "A A A A A A A A A A"),
    ("GET",    "/api/docs/*",                                "A A A A A A A A A A"),
    ("POST",   "/api/v1/messages",                           "A A A A A A A A A A"),
    ("GET",    "/api/v1/challenge",                          "A A A A A A A A A A"),
    ("GET",    "/api/v1/transparency",                       "A A A A A A A A A A"),
    // The staff API on messages: agent, admin.
    ("GET",    "/api/v1/messages",                           "S S A F A A F A S S"),
    ("GET",    "/api/v1/messages/:id",                       "S S A F A A F A S S"),
    ("PATCH",  "/api/v1/messages/:id",                       "S S A F A A F A S S"),
    ("POST",   "/api/v1/messages/:id/replies",               "S S A F A A F A S S"),
    // API keys and statistics: admin.
    ("GET",    "/api/v1/api-keys",                           "S S F F A F F A S S"),
    ("POST",   "/api/v1/api-keys",                           "S S F F A F F A S S"),
    ("DELETE", "/api/v1/api-keys/:id",                       "S S F F A F F A S S"),
    ("GET",    "/api/v1/stats",                              "S S F F A F F A S S"),
    // The audit log: legal, admin.
    ("GET",    "/api/v1/audit",                              "S S F A A F A A S S"),
    ("GET",    "/api/v1/audit/verify",                       "S S F A A F A A S S"),
    // Disclosures and legal holds: legal only.
    ("GET",    "/api/v1/disclosures",                        "S S F A F F A F S S"),
    ("POST",   "/api/v1/disclosures",                        "S S F A F F A F S S"),
    ("GET",    "/api/v1/disclosures/:id",                    "S S F A F F A F S S"),
    ("POST",   "/api/v1/disclosures/:id/transitions",        "S S F A F F A F S S"),
    ("POST",   "/api/v1/disclosures/:id/execute",            "S S F A F F A F S S"),
    ("GET",    "/api/v1/disclosures/:id/package",            "S S F A F F A F S S"),
    ("GET",    "/api/v1/legal-holds",                        "S S F A F F A F S S"),
    ("POST",   "/api/v1/legal-holds",                        "S S F A F F A F S S"),
    ("POST",   "/api/v1/legal-holds/:id/release",            "S S F A F F A F S S"),
    // Signing in and out, and a forced reset's one-time link.
    ("GET",    "/staff/signin",                              "A A A A A A A A A A"),
    ("POST",   "/staff/signin",                              "A A A A A A A A A A"),
    ("GET",    "/staff/signin/second-factor",                "S S S S S S S S S A"),
    ("POST",   "/staff/signin/second-factor",                "S S S S S S S S S A"),
    ("GET",    "/staff/reset/:token",                        "A A A A A A A A A A"),
    ("POST",   "/staff/reset/:token",                        "A A A A A A A A A A"),
    ("POST",   "/staff/signout",                             "S S A A A S S S A S"),
    // Asking for a reset link: anyone (the answer never says whether the login exists).
    ("GET",    "/staff/forgot",                              "A A A A A A A A A A"),
    ("POST",   "/staff/forgot",                              "A A A A A A A A A A"),
    // One's own account: anyone signed in; setting up the second factor opens while enrolling.
    ("GET",    "/staff/account",                             "S S A A A S S S E P"),
    ("POST",   "/staff/account/password",                    "S S A A A S S S E P"),
    ("POST",   "/staff/account/mail",                        "S S A A A S S S E P"),
    ("POST",   "/staff/account/email",                       "S S A A A S S S E P"),
    ("POST",   "/staff/account/sessions/end-others",         "S S A A A S S S E P"),
    ("POST",   "/staff/account/sessions/:handle/end",        "S S A A A S S S E P"),
    ("GET",    "/staff/account/second-factor",               "S S A A A S S S A S"),
    ("POST",   "/staff/account/second-factor",               "S S A A A S S S A S"),
    ("POST",   "/staff/account/second-factor/disable",       "S S A A A S S S E P"),
    ("POST",   "/staff/account/recovery-codes",              "S S A A A S S S E P"),
    // The inbox: agent, admin.
    ("GET",    "/staff",                                     "S S A F A S S S E P"),
    ("GET",    "/staff/threads/:id",                         "S S A F A S S S E P"),
    ("POST",   "/staff/threads/:id/replies",                 "S S A F A S S S E P"),
    ("POST",   "/staff/threads/:id/status",                  "S S A F A S S S E P"),
    ("POST",   "/staff/threads/:id/messages/:message_id/:decision",
                                                             "S S A F A S S S E P"),
    // Administration: admin.
    ("GET",    "/staff/stats",                               "S S F F A S S S E P"),
    ("GET",    "/staff/stats.csv",                           "S S F F A S S S E P"),
    ("GET",    "/staff/admin",                               "S S F F A S S S E P"),
    ("POST",   "/staff/admin/erase",                         "S S F F A S S S E P"),
    ("POST",   "/staff/admin/api-keys",                      "S S F F A S S S E P"),
    ("POST",   "/staff/admin/api-keys/:id/revoke",           "S S F F A S S S E P"),
    ("POST",   "/staff/admin/accounts/:login/reset",         "S S F F A S S S E P"),
    ("POST",   "/staff/admin/accounts/:login/disable",       "S S F F A S S S E P"),
    ("POST",   "/staff/admin/accounts/:login/enable",        "S S F F A S S S E P"),
    // Disclosure requests and legal holds: legal only.
    ("GET",    "/staff/legal",                               "S S F A F S S S E P"),
    ("GET",    "/staff/legal/new",                           "S S F A F S S S E P"),
    ("POST",   "/staff/legal/requests",                      "S S F A F S S S E P"),
    ("GET",    "/staff/legal/requests/:id",                  "S S F A F S S S E P"),
    ("POST",   "/staff/legal/requests/:id/transitions",      "S S F A F S S S E P"),
    ("POST",   "/staff/legal/requests/:id/execute",          "S S F A F S S S E P"),
    ("GET",    "/staff/legal/requests/:id/package",          "S S F A F S S S E P"),
    ("GET",    "/staff/legal/requests/:id/order",            "S S F A F S S S E P"),
    ("GET",    "/staff/legal/holds",                         "S S F A F S S S E P"),
    ("POST",   "/staff/legal/holds",                         "S S F A F S S S E P"),
    ("POST",   "/staff/legal/holds/:id/release",             "S S F A F S S S E P"),
];

struct Credentials {
    cookie: Option<String>,
    csrf: String,
    bearer: Option<String>,
}

async fn session_of(app: &TestApp, login: &str, stage: Stage) -> Credentials {
    let id = app.staff_id(login).await;
    let opening = session::Opening {
        remember: false,
        device: session::Device::from_user_agent(None),
    };
    let new = session::create(app.db(), &app.state.settings.staff, id, stage, &opening)
        .await
        .unwrap();
    Credentials {
        cookie: Some(new.cookie),
        csrf: new.csrf,
        bearer: None,
    }
}

/// Fresh credentials for one call (a session through the session service, not the form, to
/// keep this fast; sign-out ends it, so none is reused). Each kind of session has an account
/// of its own, so that expiring one touches no other.
async fn credentials(app: &TestApp, caller: Caller) -> Credentials {
    match caller {
        Caller::Nobody => Credentials {
            cookie: None,
            csrf: String::new(),
            bearer: None,
        },
        Caller::Expired => {
            let creds = session_of(app, "m-expired", Stage::Full).await;
            let past = (chrono::Utc::now() - chrono::Duration::hours(1)).fixed_offset();
            staff_sessions::Entity::update_many()
                .col_expr(staff_sessions::Column::ExpiresAt, Expr::value(past))
                .filter(staff_sessions::Column::StaffId.eq(app.staff_id("m-expired").await))
                .exec(app.db())
                .await
                .unwrap();
            creds
        }
        Caller::Session(role) => {
            session_of(app, &format!("m-{}", role.as_str()), Stage::Full).await
        }
        Caller::Enrolling => session_of(app, "m-enrolling", Stage::Enrol).await,
        Caller::Pending => session_of(app, "m-pending", Stage::SecondFactor).await,
        Caller::Key(role) => {
            let key =
                sealpost::auth::api_key::create(app.db(), "system:test", "matrix", role, None)
                    .await
                    .unwrap();
            Credentials {
                cookie: None,
                csrf: String::new(),
                bearer: Some(key.key),
            }
        }
    }
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            ":id" | ":message_id" => uuid::Uuid::now_v7().to_string(),
            ":token" => "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            ":login" => "nobody-here".to_owned(),
            ":decision" => "release".to_owned(),
            ":handle" => "0".repeat(24),
            "*" => String::new(),
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(app: &TestApp, method: &str, path: &str, creds: &Credentials) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = app.url(path);
    let is_api = path.starts_with("/api/");
    let mut cookies = Vec::new();
    // A staff form carries a CSRF token in its `csrf` field: the double-submit one of the
    // signed-out forms. A session's own token goes in the header, which signed-in forms and
    // the API read first; so each route is judged by its rule, never by a missing token.
    let mut form_csrf = String::new();
    if path.starts_with("/staff") && method != "GET" {
        let page = client.get(app.url("/staff/signin")).send().await.unwrap();
        let set = page
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_owned();
        form_csrf = csrf_of(&page.text().await.unwrap()).unwrap_or_default();
        cookies.push(set);
    }
    if let Some(cookie) = &creds.cookie {
        cookies.push(format!("sealpost_session={cookie}"));
    }
    let mut request = client.request(method.parse().unwrap(), url);
    if !cookies.is_empty() {
        request = request.header("cookie", cookies.join("; "));
    }
    if let Some(key) = &creds.bearer {
        request = request.bearer_auth(key);
    }
    if method != "GET" {
        if creds.cookie.is_some() {
            request = request.header("x-csrf-token", creds.csrf.as_str());
        }
        if is_api {
            request = request
                .header("content-type", "application/json")
                .body("{}");
        } else {
            request = request.form(&[("csrf", form_csrf.as_str())]);
        }
    }
    request.send().await.unwrap()
}

/// Whether an answer is what a cell of [`MATRIX`] says.
fn fits(cell: &str, resp: &reqwest::Response, is_api: bool) -> bool {
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let see_other = |to: &str| status == 303 && location == to;
    let to_sign_in = see_other("/staff/signin")
        || (status == 303 && location.starts_with("/staff/signin?next="));
    let to_enrol = see_other("/staff/account/second-factor");
    let to_second_factor = see_other("/staff/signin/second-factor");
    match cell {
        "A" => !matches!(status, 401 | 403) && !to_sign_in && !to_enrol && !to_second_factor,
        "S" if is_api => status == 401,
        "S" => to_sign_in,
        "F" => status == 403,
        "E" => to_enrol,
        "P" => to_second_factor,
        "T" => status == 401,
        other => panic!("{other:?} is no cell of the matrix"),
    }
}

fn routes_of(rows: impl Iterator<Item = (&'static str, &'static str)>) -> BTreeSet<String> {
    rows.map(|(method, path)| format!("{method} {path}"))
        .collect()
}

#[test]
fn the_matrix_lists_exactly_the_routes_of_the_table() {
    let ruled = routes_of(RULES.iter().map(|r| (r.method, r.path)));
    let expected = routes_of(MATRIX.iter().map(|(m, p, _)| (*m, *p)));

    let without_row: Vec<_> = ruled.difference(&expected).collect();
    let without_rule: Vec<_> = expected.difference(&ruled).collect();
    assert!(
        without_row.is_empty(),
        "routes in authz::RULES with no row in this test's MATRIX (add one, from the documented rights): {without_row:?}"
    );
    assert!(
        without_rule.is_empty(),
        "rows in MATRIX for routes that have no rule: {without_rule:?}"
    );
    assert_eq!(MATRIX.len(), expected.len(), "a route has two rows");
    for (method, path, cells) in MATRIX {
        assert_eq!(
            cells.split_whitespace().count(),
            CALLERS.len(),
            "{method} {path}: one cell per caller"
        );
        assert!(
            cells
                .split_whitespace()
                .all(|c| "ASFEPT".contains(c) && c.len() == 1),
            "{method} {path}: cells are A, S, F, E, P or T"
        );
    }
}

db_test!(every_route_answers_every_caller_as_the_documented_rights_say);
async fn every_route_answers_every_caller_as_the_documented_rights_say(backend: Backend) {
    // The inbound door and the metrics are on, so that they are really closed to everyone
    // without their tokens.
    let app = TestAppBuilder::new(backend)
        .set(
            "SEALPOST__MAIL__INBOUND__TOKEN",
            "only-the-mta-knows-this-token",
        )
        .set(
            "SEALPOST__METRICS__TOKEN",
            "only-the-scraper-knows-this-token",
        )
        .spawn()
        .await;
    for (login, role) in [
        ("m-agent", "agent"),
        ("m-legal", "legal"),
        ("m-admin", "admin"),
        ("m-expired", "admin"),
        ("m-enrolling", "admin"),
        ("m-pending", "admin"),
    ] {
        app.add_staff(login, role).await;
    }

    let mut wrong = Vec::new();
    for (method, pattern, cells) in MATRIX {
        let path = concrete(pattern);
        let is_api = path.starts_with("/api/");
        for (caller, want) in CALLERS.iter().zip(cells.split_whitespace()) {
            let creds = credentials(&app, *caller).await;
            let resp = call(&app, method, &path, &creds).await;
            let status = resp.status();

            assert!(
                status.as_u16() < 500,
                "{method} {path} as {caller:?}: {status}"
            );
            if !fits(want, &resp, is_api) {
                let location = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                wrong.push(format!(
                    "{method} {pattern} as {caller:?}: expected {want}, got {status} {location}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

db_test!(a_route_without_a_rule_is_unreachable);
async fn a_route_without_a_rule_is_unreachable(backend: Backend) {
    let app = spawn_app(backend).await;

    assert_eq!(app.get("/staff/nothing-here").await.status(), 404);
    assert_eq!(app.get("/api/v1/nothing-here").await.status(), 404);
    let wrong_method = app.client.delete(app.url("/staff")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
}

db_test!(every_operation_in_the_api_description_has_a_rule);
async fn every_operation_in_the_api_description_has_a_rule(backend: Backend) {
    let app = spawn_app(backend).await;
    let spec: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();

    let mut missing = Vec::new();
    for (path, operations) in spec["paths"].as_object().expect("paths") {
        let full = format!("/api{}", path.replace('{', ":").replace('}', ""));
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let path = concrete(
                &full
                    .split('/')
                    .map(|s| if s.starts_with(':') { ":id" } else { s })
                    .collect::<Vec<_>>()
                    .join("/"),
            );
            let parsed: poem::http::Method = method.parse().unwrap();
            if sealpost::http::authz::rule_for(&parsed, &path).is_err() {
                missing.push(format!("{method} {full}"));
            }
        }
    }
    assert!(missing.is_empty(), "operations without a rule: {missing:?}");
}
