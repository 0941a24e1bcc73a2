//! `GET /api/v1/stats` (administrators): the dashboard's figures as JSON — every count above zero
//! but below the minimum group size k is `{"count": null, "fewer_than": k}`; zero is
//! `{"count": 0, "fewer_than": null}`.

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::errors::{ApiError, STAFF_READ};
use super::formats::DateText;
use super::staff_auth::StaffAuth;
use super::tags::ApiTags;
use crate::http::ErrorCode;
use crate::http::{Problem, problem};
use crate::state::App;
use crate::stats;

#[derive(Default)]
pub struct StatsApi;

fn example_from() -> Option<DateText> {
    Some("2026-11-01".into())
}

fn example_to() -> Option<DateText> {
    Some("2026-11-30".into())
}

#[derive(ApiResponse)]
pub enum StatsResponse {
    /// The report: `from`, `to`, `min_group_size`, `conversations`, `messages_per_day`,
    /// `by_status`, `median_first_answer_secs`, `answered`, `breakdowns` (browser, os,
    /// referrer, language, page, network: `[{value, count, fewer_than}]`, largest first) and
    /// `form_views`, and the spam review: `spam_review` (`held`, `approved`, `spam` in the
    /// period) and `spam_review_per_day` (for each of them, every day). A count is exact when it is 0 or from `min_group_size` on; above zero but
    /// below it `count` is null and `fewer_than` holds k. Every count comes from the daily
    /// counts, which outlive a conversation's erasure or deletion: `conversations`,
    /// `messages_per_day` and the breakdowns include deleted conversations, and `by_status`
    /// gives them as `deleted`.
    #[oai(status = 200)]
    Ok(Json<serde_json::Value>),
    /// `from` or `to` is not a YYYY-MM-DD date, `from` is after `to`, or the period is longer
    /// than two years.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
}

#[OpenApi(tag = "ApiTags::Admin")]
impl StatsApi {
    /// Statistics for a period
    ///
    /// Conversations per day and by status, time to first answer, and the technical data in
    /// aggregate (browser and OS families, referring hosts, languages, pages, networks). For
    /// staff with the role `admin`.
    #[oai(path = "/v1/stats", method = "get", operation_id = "getStats")]
    async fn get(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
        _auth: StaffAuth,
        /// The first day (YYYY-MM-DD, UTC); 29 days before `to` by default.
        #[oai(example = "example_from")]
        from: Query<Option<DateText>>,
        /// The last day (YYYY-MM-DD, UTC); today by default.
        #[oai(example = "example_to")]
        to: Query<Option<DateText>>,
    ) -> Result<StatsResponse, ApiError<STAFF_READ>> {
        let (from, to) = match stats::period(
            from.0.as_ref().map(|d| d.0.as_str()),
            to.0.as_ref().map(|d| d.0.as_str()),
        ) {
            Ok(period) => period,
            Err(e) => {
                return Ok(StatsResponse::BadRequest(problem(
                    req,
                    ErrorCode::MalformedRequest,
                    e,
                )));
            }
        };
        let report = stats::report(&app.db, from, to, app.settings.stats.min_group_size)
            .await
            .map_err(|e| {
                ApiError::unavailable(
                    req,
                    "statistics are unavailable",
                    &e,
                    "The statistics cannot be read right now; try again later.",
                )
            })?;
        let value = serde_json::to_value(&report).map_err(|e| {
            ApiError::unavailable(
                req,
                "serializing statistics failed",
                &e,
                "The statistics cannot be shown right now.",
            )
        })?;
        Ok(StatsResponse::Ok(Json(value)))
    }
}
