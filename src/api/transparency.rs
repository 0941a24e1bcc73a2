//! `GET /api/v1/transparency`: the public transparency report, as the `/transparency` page
//! shows it. A count above zero but below `legal.transparency_threshold` is
//! `{"count": null, "fewer_than": N}`; zero is `{"count": 0, "fewer_than": null}`.

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::errors::{ApiError, UNAVAILABLE};
use super::tags::ApiTags;
use crate::legal::transparency::{self, Counted};
use crate::state::App;

#[derive(Default)]
pub struct TransparencyApi;

/// A published count: the number, or only that it is above zero but below the threshold.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Count {
    /// The number (0 when there were none); `null` when it is above zero but below the threshold.
    #[oai(nullable)]
    pub count: Option<i64>,
    /// The threshold, when the number is above zero but below it ("fewer than N"); otherwise
    /// `null`.
    #[oai(nullable)]
    pub fewer_than: Option<i64>,
}

impl From<Counted> for Count {
    fn from(c: Counted) -> Self {
        match c {
            Counted::Exact(n) => Count {
                count: Some(n),
                fewer_than: None,
            },
            Counted::FewerThan(n) => Count {
                count: None,
                fewer_than: Some(n),
            },
        }
    }
}

/// Requests by legal basis.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct ByInstrument {
    /// Subpoenas.
    pub subpoena: Count,
    /// Court orders.
    pub court_order: Count,
    /// Warrants.
    pub warrant: Count,
    /// Emergency requests.
    pub emergency: Count,
    /// Requests resting on the user's consent.
    pub user_consent: Count,
}

/// What became of the requests.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct Outcomes {
    /// Executed with the whole scope asked for.
    pub fully_disclosed: Count,
    /// Executed with a narrower scope than asked for (fewer categories or fewer subjects).
    pub partly_disclosed: Count,
    /// Rejected.
    pub rejected: Count,
    /// Withdrawn.
    pub withdrawn: Count,
    /// Not decided or not executed yet.
    pub pending: Count,
}

/// One half-year.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct TransparencyPeriod {
    /// `YYYY-H1` or `YYYY-H2`, by the day requests arrived.
    pub period: String,
    /// Requests received.
    pub received: Count,
    /// Requests by legal basis.
    pub by_instrument: ByInstrument,
    /// What became of them.
    pub outcomes: Outcomes,
    /// Conversations whose data was disclosed.
    pub subjects_affected: Count,
}

/// The report.
#[derive(Debug, Object)]
#[oai(rename_all = "snake_case")]
pub struct TransparencyReport {
    /// Counts above zero but below this are reported as "fewer than" it; zero is reported as 0.
    pub threshold: i64,
    /// Half-years with requests, newest first.
    pub periods: Vec<TransparencyPeriod>,
}

#[derive(ApiResponse)]
pub enum TransparencyResponse {
    /// The report.
    #[oai(status = 200)]
    Ok(Json<TransparencyReport>),
}

#[OpenApi(tag = "ApiTags::Visitor")]
impl TransparencyApi {
    /// Read the transparency report
    ///
    /// Disclosure requests per half-year: received, by legal basis, by outcome, and the people
    /// affected. Public.
    #[oai(
        path = "/v1/transparency",
        method = "get",
        operation_id = "getTransparency"
    )]
    async fn report(
        &self,
        req: &Request,
        app: poem::web::Data<&App>,
    ) -> Result<TransparencyResponse, ApiError<UNAVAILABLE>> {
        match transparency::report(&app).await {
            Ok(report) => Ok(TransparencyResponse::Ok(Json(TransparencyReport {
                threshold: report.threshold,
                periods: report
                    .periods
                    .into_iter()
                    .map(|p| {
                        let by = |i: crate::domain::Instrument| {
                            p.by_instrument
                                .iter()
                                .find(|(x, _)| *x == i)
                                .map(|(_, c)| Count::from(*c))
                                .unwrap_or(Count {
                                    count: Some(0),
                                    fewer_than: None,
                                })
                        };
                        use crate::domain::Instrument as I;
                        TransparencyPeriod {
                            by_instrument: ByInstrument {
                                subpoena: by(I::Subpoena),
                                court_order: by(I::CourtOrder),
                                warrant: by(I::Warrant),
                                emergency: by(I::Emergency),
                                user_consent: by(I::UserConsent),
                            },
                            period: p.label,
                            received: p.received.into(),
                            outcomes: Outcomes {
                                fully_disclosed: p.fully.into(),
                                partly_disclosed: p.partly.into(),
                                rejected: p.rejected.into(),
                                withdrawn: p.withdrawn.into(),
                                pending: p.pending.into(),
                            },
                            subjects_affected: p.subjects.into(),
                        }
                    })
                    .collect(),
            }))),
            Err(e) => Err(ApiError::unavailable(
                req,
                "the transparency report failed",
                &e,
                "The report cannot be read right now; try again later.",
            )),
        }
    }
}
