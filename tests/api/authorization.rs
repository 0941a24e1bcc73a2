//! Walks every route of the authorization table (`sealpost::authz::RULES`) with every kind of
//! caller — nobody, an expired session, each role signed in, API keys of each role — and checks
//! the answer: allowed (anything but 401/403 and a redirect to sign-in) or refused (303 to the
//! sign-in page or 401 on the API; 403 for a role without the right). A route added without a
//! rule is unreachable (404/405); one added with a rule is walked here.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sealpost::auth::session::{self, Stage};
use sealpost::authz::{Access, RULES};
use sealpost::domain::Role;
use sealpost::entities::staff_sessions;

use crate::helpers::{Backend, TestApp, TestAppBuilder, csrf_of, spawn_app};

#[derive(Debug, Clone)]
enum Caller {
    Nobody,
    Expired,
    Session(Role),
    Key(Role),
}

struct Credentials {
    cookie: Option<String>,
    csrf: String,
    bearer: Option<String>,
}

/// A fresh session (created through the session service, not the form, to keep this fast).
async fn credentials(app: &TestApp, caller: &Caller) -> Credentials {
    let settings = &app.state.settings.staff;
    match caller {
        Caller::Nobody => Credentials {
            cookie: None,
            csrf: String::new(),
            bearer: None,
        },
        Caller::Expired => {
            let id = app.staff_id("m-admin").await;
            let new = session::create(app.db(), settings, id, Stage::Full)
                .await
                .unwrap();
            let past = (chrono::Utc::now() - chrono::Duration::hours(1)).fixed_offset();
            staff_sessions::Entity::update_many()
                .col_expr(staff_sessions::Column::ExpiresAt, Expr::value(past))
                .filter(staff_sessions::Column::StaffId.eq(id))
                .exec(app.db())
                .await
                .unwrap();
            Credentials {
                cookie: Some(new.cookie),
                csrf: new.csrf,
                bearer: None,
            }
        }
        Caller::Session(role) => {
            let id = app.staff_id(&format!("m-{}", role.as_str())).await;
            let new = session::create(app.db(), settings, id, Stage::Full)
                .await
                .unwrap();
            Credentials {
                cookie: Some(new.cookie),
                csrf: new.csrf,
                bearer: None,
            }
        }
        Caller::Key(role) => {
            let key =
                sealpost::auth::api_key::create(app.db(), "system:test", "matrix", *role, None)
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
            ":id" => uuid::Uuid::now_v7().to_string(),
            ":token" => "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            ":login" => "nobody-here".to_owned(),
            "*" => String::new(),
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    public: bool,
    creds: &Credentials,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = app.url(path);
    let is_api = path.starts_with("/api/");
    // The double-submit cookie of signed-out staff forms.
    let mut cookies = Vec::new();
    let mut form_csrf = creds.csrf.clone();
    if path.starts_with("/staff") && (creds.cookie.is_none() || public) {
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
        if is_api {
            request = request
                .header("x-csrf-token", creds.csrf.as_str())
                .header("content-type", "application/json")
                .body("{}");
        } else {
            request = request.form(&[("csrf", form_csrf.as_str())]);
        }
    }
    request.send().await.unwrap()
}

fn to_sign_in(resp: &reqwest::Response) -> bool {
    resp.status() == 303
        && resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.starts_with("/staff/signin") && !l.contains("done="))
}

db_test!(every_route_answers_every_caller_as_its_rule_says);
async fn every_route_answers_every_caller_as_its_rule_says(backend: Backend) {
    // Inbound mail over HTTP on, so that its door is really closed to everyone without its token.
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
    for role in ["agent", "legal", "admin"] {
        app.add_staff(&format!("m-{role}"), role).await;
    }
    let callers = [
        Caller::Nobody,
        Caller::Expired,
        Caller::Session(Role::Agent),
        Caller::Session(Role::Legal),
        Caller::Session(Role::Admin),
        Caller::Key(Role::Agent),
        Caller::Key(Role::Legal),
        Caller::Key(Role::Admin),
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in RULES {
        let path = concrete(rule.path);
        let is_api = path.starts_with("/api/");
        for caller in &callers {
            let creds = credentials(&app, caller).await;
            let resp = call(
                &app,
                rule.method,
                &path,
                rule.access == Access::Public,
                &creds,
            )
            .await;
            let status = resp.status().as_u16();
            let signed_out = to_sign_in(&resp);
            // API keys are credentials on the API only.
            let effective = match caller {
                Caller::Key(_) if !is_api => &Caller::Nobody,
                other => other,
            };
            let role = match effective {
                Caller::Session(r) | Caller::Key(r) => Some(*r),
                _ => None,
            };
            let session = matches!(effective, Caller::Session(_));
            let ok = match rule.access {
                Access::Public => !signed_out && status != 401 && status != 403,
                // Only the MTA's token opens it; no person's credentials do.
                Access::OwnToken => status == 401,
                Access::SecondFactor => signed_out,
                Access::Enrolling | Access::AnyRole => match role {
                    Some(_) if session => !signed_out && status != 401 && status != 403,
                    _ if is_api => status == 401,
                    _ => signed_out,
                },
                Access::Roles(roles) => match role {
                    Some(r) if roles.contains(&r) => !signed_out && status != 401 && status != 403,
                    Some(_) => status == 403,
                    None if is_api => status == 401,
                    None => signed_out,
                },
            };
            checked += 1;
            if !ok {
                failures.push(format!(
                    "{} {} as {caller:?}: {status} (rule {:?})",
                    rule.method, rule.path, rule.access
                ));
            }
            assert!(
                status < 500,
                "{} {path} as {caller:?}: {status}",
                rule.method
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= RULES.len() * callers.len());
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
            if sealpost::authz::rule_for(&parsed, &path).is_err() {
                missing.push(format!("{method} {full}"));
            }
        }
    }
    assert!(missing.is_empty(), "operations without a rule: {missing:?}");
}
