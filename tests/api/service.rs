//! Health, readiness, and the API's own description.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestAppBuilder, spawn_app};

/// The headings of `/api/docs`, one per kind of caller.
const TAGS: [&str; 5] = ["visitor", "staff", "legal", "admin", "mail"];

async fn openapi_document(app: &TestApp) -> Value {
    let resp = app.get("/api/openapi.json").await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

/// Every operation as (path, method, operation).
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            all.push((path.clone(), method.clone(), op.clone()));
        }
    }
    all
}

/// The schema itself, when `schema` is a `$ref` to a component.
fn resolved<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().expect("a name");
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn has_example_or_default(schema: &Value) -> bool {
    schema.get("example").is_some() || schema.get("default").is_some()
}

db_test!(health_and_readiness_answer);
async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;

    let health = app.get("/healthz").await;
    let ready = app.get("/readyz").await;

    assert_eq!(health.status(), 200);
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(ready["database"], "ok");
}

db_test!(readiness_fails_with_503_when_the_database_is_gone);
async fn readiness_fails_with_503_when_the_database_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;

    app.db().clone().close().await.expect("close pool");
    let ready = app.get("/readyz").await;
    let health = app.get("/healthz").await;

    assert_eq!(ready.status(), 503);
    assert_eq!(
        health.status(),
        200,
        "liveness does not depend on the database"
    );
}

db_test!(the_openapi_document_describes_the_submit_operation);
async fn the_openapi_document_describes_the_submit_operation(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app.get("/api/openapi.json").await;

    assert_eq!(resp.status(), 200);
    let spec: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(spec["servers"][0]["url"], "/api");
    let op = &spec["paths"]["/v1/messages"]["post"];
    assert_eq!(op["operationId"], "submitMessage");
    for status in ["201", "400", "413", "415", "422", "429", "503"] {
        assert!(
            op["responses"][status].is_object(),
            "status {status} documented"
        );
    }
    assert!(op["responses"]["422"]["content"]["application/problem+json"].is_object());
    let headers = op["responses"]["429"]["headers"]
        .as_object()
        .expect("headers");
    assert!(
        headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("retry-after")),
        "{headers:?}"
    );
    let schema = &spec["components"]["schemas"]["SubmitMessage"];
    assert!(
        schema["properties"]["email"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Sealed"))
    );
}

db_test!(every_operation_sits_under_exactly_one_declared_tag);
async fn every_operation_sits_under_exactly_one_declared_tag(backend: Backend) {
    let app = spawn_app(backend).await;

    let spec = openapi_document(&app).await;

    let declared: BTreeSet<&str> = spec["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|tag| {
            let name = tag["name"].as_str().expect("a name");
            assert!(
                tag["description"].as_str().is_some_and(|d| d.len() > 20),
                "tag {name} has no description: {tag}"
            );
            name
        })
        .collect();
    assert_eq!(declared, BTreeSet::from(TAGS));
    let mut used = BTreeSet::new();
    let ops = operations(&spec);
    assert!(ops.len() >= 22, "{} operations", ops.len());
    for (path, method, op) in &ops {
        let tags: Vec<&str> = op["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(
            tags.len() == 1 && TAGS.contains(&tags[0]),
            "{method} {path} has the tags {tags:?}"
        );
        used.insert(tags[0]);
    }
    assert_eq!(used, declared, "a declared tag has no operation");
    assert_eq!(spec["paths"]["/v1/messages"]["post"]["tags"][0], "visitor");
    assert_eq!(spec["paths"]["/v1/messages"]["get"]["tags"][0], "staff");
    assert_eq!(spec["paths"]["/v1/inbound"]["post"]["tags"][0], "mail");
}

db_test!(every_request_body_and_parameter_has_an_example_with_its_format);
async fn every_request_body_and_parameter_has_an_example_with_its_format(backend: Backend) {
    let app = spawn_app(backend).await;

    let spec = openapi_document(&app).await;

    let mut bodies = 0;
    let mut parameters = 0;
    for (path, method, op) in operations(&spec) {
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().expect("a name");
            assert!(
                has_example_or_default(&parameter["schema"]) || parameter.get("example").is_some(),
                "{method} {path}: parameter {name} has neither an example nor a default"
            );
            if parameter["in"] == "path" {
                assert_eq!(
                    parameter["schema"]["format"], "uuid",
                    "{method} {path}: {name}"
                );
            }
            parameters += 1;
        }
        if let Some(content) = op["requestBody"]["content"].as_object() {
            for (media_type, media) in content {
                let schema = resolved(&spec, &media["schema"]);
                assert!(
                    has_example_or_default(schema),
                    "{method} {path}: the {media_type} body has no example: {schema}"
                );
                bodies += 1;
            }
        }
    }
    assert!(
        bodies >= 9 && parameters >= 20,
        "{bodies} bodies, {parameters} parameters"
    );
    let stats = &spec["paths"]["/v1/stats"]["get"]["parameters"];
    for parameter in stats.as_array().expect("parameters") {
        assert_eq!(parameter["schema"]["format"], "date", "{parameter}");
    }
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["SubmitMessage"]["properties"]["email"]["format"],
        "email"
    );
    assert_eq!(
        schemas["NewApiKey"]["properties"]["role"]["enum"],
        serde_json::json!(["agent", "legal", "admin"])
    );
    assert_eq!(
        schemas["ThreadUpdate"]["properties"]["status"]["enum"],
        serde_json::json!(["new", "open", "answered", "closed", "spam"])
    );
    assert_eq!(
        schemas["NewDisclosure"]["properties"]["order_date"]["format"],
        "date"
    );
    assert!(
        schemas["NewDisclosure"]["properties"]["instrument"]["enum"]
            .as_array()
            .is_some_and(|values| values.len() == 5)
    );
}

db_test!(swaggers_try_it_out_with_the_examples_is_accepted_by_every_json_operation);
/// Swagger's "Try it out" sends the examples as they stand: each operation must take them as
/// well-formed. On a fresh database the example id names no row (404) and the example hold
/// names no conversation (422 `no_match`); everything else succeeds.
async fn swaggers_try_it_out_with_the_examples_is_accepted_by_every_json_operation(
    backend: Backend,
) {
    // With the proof of work on, so that `GET /v1/challenge` has a challenge to give (off, it
    // answers 404); the example message, sent without one, is then held, and still stored.
    let app = TestAppBuilder::new(backend)
        .set("SEALPOST__SPAM__POW__ENABLED", "true")
        .spawn()
        .await;
    let spec = openapi_document(&app).await;
    let mut keys = std::collections::HashMap::new();
    for role in ["admin", "legal"] {
        keys.insert(role, app.api_key(role).await);
    }
    let client = reqwest::Client::new();
    let mut tried = 0;

    for (path, method, op) in operations(&spec) {
        if op["tags"][0] == "mail" {
            continue; // a raw mail, not JSON; off unless mail.inbound.token is set
        }
        let mut url_path = path.clone();
        let mut query = Vec::new();
        let mut has_id = false;
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            let schema = &parameter["schema"];
            let value = schema
                .get("example")
                .or(schema.get("default"))
                .expect("example");
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            let name = parameter["name"].as_str().expect("name");
            if parameter["in"] == "path" {
                url_path = url_path.replace(&format!("{{{name}}}"), &text);
                has_id = true;
            } else {
                query.push((name.to_owned(), text));
            }
        }
        let role = if op["tags"][0] == "legal" {
            "legal"
        } else {
            "admin"
        };
        let mut request = client
            .request(
                method.to_uppercase().parse().expect("a method"),
                app.url(&format!("/api{url_path}")),
            )
            .query(&query)
            .bearer_auth(&keys[role]);
        if let Some(media) = op["requestBody"]["content"]
            .as_object()
            .and_then(|c| c.values().next())
        {
            request = request.json(&resolved(&spec, &media["schema"])["example"]);
        }
        let resp = request.send().await.expect("request");
        let status = resp.status().as_u16();
        let body = resp.text().await.expect("body");

        let expected: &[u16] = if has_id {
            &[404]
        } else if op["operationId"] == "placeLegalHold" {
            &[422]
        } else {
            &[200, 201]
        };
        assert!(
            expected.contains(&status),
            "{method} {url_path} {query:?} with the examples: {status} {body}"
        );
        if status == 422 {
            assert!(body.contains("no_match"), "{body}");
        }
        tried += 1;
    }
    assert!(tried >= 20, "{tried} operations tried");
}

db_test!(the_swagger_ui_is_served_at_api_docs);
async fn the_swagger_ui_is_served_at_api_docs(backend: Backend) {
    let app = spawn_app(backend).await;

    let resp = app.get("/api/docs").await;

    assert_eq!(resp.status(), 200);
    let page = resp.text().await.expect("body");
    assert!(page.contains("swagger"), "Swagger UI page");
    assert!(page.contains("submitMessage"), "it carries our document");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_runs_in_wal_mode_with_foreign_keys() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(Backend::Sqlite).await;
    let pragma = |sql: &'static str| {
        let db = app.db().clone();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Sqlite,
                    sql,
                ))
                .await
                .expect("pragma")
                .expect("row");
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .expect("value")
        }
    };

    assert_eq!(pragma("PRAGMA journal_mode").await, "wal");
    assert_eq!(pragma("PRAGMA foreign_keys").await, "1");
    assert_eq!(
        pragma("PRAGMA synchronous").await,
        "2",
        "FULL: a 201 means the message is on disk"
    );
}
