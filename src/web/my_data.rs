//! `/t/{token}/export` and `/t/{token}/erase`: from their private link a visitor downloads
//! everything held about their conversation, or withdraws consent and erases it. The link is
//! the credential, as for the conversation itself.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};

use super::{App, Chrome, not_found, render, request_locale, unavailable};
use crate::domain::ThreadToken;
use crate::privacy::{self, Erasure};

#[handler]
pub async fn export(Data(app): Data<&App>, Path(token): Path<String>) -> poem::Result<Response> {
    let token = ThreadToken::parse(&token).ok_or_else(not_found)?;
    let export = privacy::export(app, &token)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    let body = serde_json::to_string_pretty(&export).map_err(unavailable)?;
    Ok(body
        .with_content_type("application/json; charset=utf-8")
        .with_header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"sealpost-{}.json\"",
                export.reference
            ),
        )
        .with_header(header::CACHE_CONTROL, "no-store")
        .into_response())
}

#[derive(Template)]
#[template(path = "erase.html")]
struct ErasePage {
    chrome: Chrome,
    /// `confirm`, `held` or `erased`.
    state: &'static str,
    action: String,
    back: String,
}

#[handler]
pub async fn confirm(
    req: &Request,
    Data(app): Data<&App>,
    Path(token): Path<String>,
) -> poem::Result<Response> {
    let token = ThreadToken::parse(&token).ok_or_else(not_found)?;
    crate::messages::thread_by_token(app, &token)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    let chrome = Chrome::new(app, request_locale(req, app, None));
    Ok(render(
        StatusCode::OK,
        &ErasePage {
            action: format!("/t/{}/erase{}", token.as_str(), chrome.lang_query()),
            back: format!("/t/{}{}", token.as_str(), chrome.lang_query()),
            chrome,
            state: "confirm",
        },
    ))
}

#[handler]
pub async fn erase(
    req: &Request,
    Data(app): Data<&App>,
    Path(token): Path<String>,
) -> poem::Result<Response> {
    let token = ThreadToken::parse(&token).ok_or_else(not_found)?;
    let chrome = Chrome::new(app, request_locale(req, app, None));
    let (status, state) = match privacy::erase_thread(app, &token)
        .await
        .map_err(unavailable)?
    {
        Erasure::Erased => (StatusCode::OK, "erased"),
        // Said plainly, without saying why.
        Erasure::Held => (StatusCode::CONFLICT, "held"),
        Erasure::NotFound => return Err(not_found()),
    };
    Ok(render(
        status,
        &ErasePage {
            action: String::new(),
            back: format!("/t/{}{}", token.as_str(), chrome.lang_query()),
            chrome,
            state,
        },
    ))
}
