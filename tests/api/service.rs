//! Health, readiness, and the API's own description.

use crate::helpers::{Backend, spawn_app};

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
