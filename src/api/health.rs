//! Liveness and readiness for load balancers and orchestrators.

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use crate::state::App;

/// `GET /healthz`: the process is up and serving.
#[handler]
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: the database answers; 503 otherwise.
#[handler]
pub async fn readyz(Data(app): Data<&App>) -> Response {
    if crate::db::ready(&app.db).await {
        Json(json!({ "status": "ready", "database": "ok" })).into_response()
    } else {
        Json(json!({ "status": "unavailable", "database": "unreachable" }))
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
    }
}
