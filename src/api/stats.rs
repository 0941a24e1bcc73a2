//! `GET /api/v1/stats` (administrators): the dashboard's figures as JSON — every count below the
//! minimum group size k is `{"count": null, "fewer_than": k}`.

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::staff_auth::StaffAuth;
use crate::http::ErrorCode;
use crate::http::{Problem, problem};
use crate::state::App;
use crate::stats;

pub struct StatsApi;

#[derive(ApiResponse)]
pub enum StatsResponse {
    /// The report: `from`, `to`, `min_group_size`, `conversations`, `messages_per_day`,
    /// `by_status`, `median_first_answer_secs`, `answered`, `breakdowns` (browser, os,
    /// referrer, language, page, network: `[{value, count, fewer_than}]`, largest first) and
    /// `form_views`. A count is exact from `min_group_size` on; below it `count` is null and
    /// `fewer_than` holds k.
    #[oai(status = 200)]
    Ok(Json<serde_json::Value>),
    /// `from` or `to` is not a YYYY-MM-DD date, `from` is after `to`, or the period is longer
    /// than two years.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No credentials, or an unknown or revoked API key.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// Only administrators read the statistics.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// The database is unavailable; try again later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

#[OpenApi]
impl StatsApi {
    /// Statistics for a period
    ///
    /// Conversations per day and by status, time to first answer, and the technical data in
    /// aggregate (browser and OS families, referring hosts, languages, pages, networks).
    #[oai(path = "/v1/stats", method = "get", operation_id = "getStats")]
    async fn get(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
        /// The first day (YYYY-MM-DD, UTC); 29 days before `to` by default.
        from: Query<Option<String>>,
        /// The last day (YYYY-MM-DD, UTC); today by default.
        to: Query<Option<String>>,
    ) -> StatsResponse {
        let (from, to) = match stats::period(from.0.as_deref(), to.0.as_deref()) {
            Ok(period) => period,
            Err(e) => {
                return StatsResponse::BadRequest(problem(req, ErrorCode::MalformedRequest, e));
            }
        };
        match stats::report(&app.db, from, to, app.settings.stats.min_group_size).await {
            Ok(report) => match serde_json::to_value(&report) {
                Ok(value) => StatsResponse::Ok(Json(value)),
                Err(e) => {
                    tracing::error!(error = %e, "serializing statistics failed");
                    StatsResponse::Unavailable(problem(
                        req,
                        ErrorCode::ServiceUnavailable,
                        "The statistics cannot be shown right now.",
                    ))
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "statistics are unavailable");
                StatsResponse::Unavailable(problem(
                    req,
                    ErrorCode::ServiceUnavailable,
                    "The statistics cannot be read right now; try again later.",
                ))
            }
        }
    }
}
