//! `/t/{token}`: the visitor's private view of their conversation, where they read answers and
//! write again.

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Redirect};
use poem::{Body, IntoResponse, Request, Response, handler};

use super::form::{problem_text, retry_after_value};
use super::form_data::FormData;
use super::{App, Chrome, not_found, render, request_locale, unavailable};
use crate::domain::{Author, Locale, MessageBody, ThreadStatus, ThreadToken};
use crate::http::client_ip;
use crate::messages::{self, FollowUpError, Origin, SubmitError, ThreadView};

pub struct Entry {
    pub from_staff: bool,
    pub author: String,
    pub when: String,
    pub body_html: String,
}

#[derive(Template)]
#[template(path = "thread.html")]
pub struct ThreadPage {
    pub chrome: Chrome,
    pub reference: String,
    pub subject: Option<String>,
    pub status_class: &'static str,
    pub status_label: String,
    pub started: String,
    pub entries: Vec<Entry>,
    pub awaiting_answer: bool,
    pub action: String,
    pub draft: String,
    pub error: Option<String>,
    pub body_limit: usize,
    /// Links to the visitor's download and erasure (HTML from the translations).
    pub your_data: String,
}

fn thread_page(
    app: &App,
    locale: Locale,
    token: &ThreadToken,
    view: ThreadView,
    draft: String,
    error: Option<String>,
) -> ThreadPage {
    let chrome = Chrome::new(app, locale);
    let t = chrome.t;
    // A held conversation is, for its visitor, one that was received: the hold is staff's.
    let shown_status = match view.status {
        ThreadStatus::Held => ThreadStatus::New,
        other => other,
    };
    let entries: Vec<Entry> = view
        .messages
        .into_iter()
        .map(|m| Entry {
            from_staff: m.author == Author::Staff,
            author: match m.author {
                Author::Visitor => t.get("author-visitor"),
                Author::Staff => t.arg("author-staff", "site", &app.settings.site.name),
            },
            when: m.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            body_html: m.body.html().to_owned(),
        })
        .collect();
    ThreadPage {
        reference: view.reference.to_string(),
        subject: view.subject.map(|s| s.as_str().to_owned()),
        status_class: shown_status.as_str(),
        status_label: t.get(&format!("thread-status-{}", shown_status.as_str())),
        started: view.created_at.format("%Y-%m-%d").to_string(),
        awaiting_answer: !entries.iter().any(|e| e.from_staff)
            && view.status != ThreadStatus::Closed,
        entries,
        action: format!("/t/{}{}", token.as_str(), chrome.lang_query()),
        your_data: t.arg("thread-your-data", "base", format!("/t/{}", token.as_str())),
        draft,
        error,
        body_limit: MessageBody::MAX_CHARS,
        chrome,
    }
}

#[handler]
pub async fn show(
    req: &Request,
    Data(app): Data<&App>,
    Path(token): Path<String>,
) -> poem::Result<Response> {
    let token = ThreadToken::parse(&token).ok_or_else(not_found)?;
    let view = messages::thread_by_token(app, &token)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    let locale = request_locale(req, app, None);
    Ok(render(
        StatusCode::OK,
        &thread_page(app, locale, &token, view, String::new(), None),
    ))
}

/// The thread page again, with the visitor's text kept and the reason it was refused.
async fn refuse(
    app: &App,
    locale: Locale,
    token: &ThreadToken,
    status: StatusCode,
    error: String,
    draft: String,
) -> poem::Result<Response> {
    let view = messages::thread_by_token(app, token)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    Ok(render(
        status,
        &thread_page(app, locale, token, view, draft, Some(error)),
    ))
}

#[handler]
pub async fn write_again(
    req: &Request,
    Data(app): Data<&App>,
    Path(token): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    let token = ThreadToken::parse(&token).ok_or_else(not_found)?;
    let posted = FormData::read(req, body).await?;
    let typed = posted.get("body").to_owned();
    let locale = request_locale(req, app, None);
    let t = crate::i18n::Tr::new(locale);
    let refuse = |status, error, draft| refuse(app, locale, &token, status, error, draft);
    let body = match MessageBody::parse(&typed) {
        Ok(body) => body,
        Err(problem) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                problem_text(&t, "body", problem),
                typed,
            )
            .await;
        }
    };
    let origin = Origin {
        ip: client_ip(req, &app.settings.server.trusted_proxies),
        captcha_answer: None,
        tech: None,
        ..Origin::default()
    };
    match messages::add_visitor_message(app, origin, &token, body).await {
        Ok(_) => Ok(
            Redirect::see_other(format!("/t/{}?lang={}", token.as_str(), locale.code()))
                .into_response(),
        ),
        Err(FollowUpError::NotFound) => Err(not_found()),
        Err(FollowUpError::Submit(SubmitError::RateLimited(wait))) => {
            let mut resp = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                t.arg("error-rate-limited", "seconds", wait.as_secs().max(1)),
                typed,
            )
            .await?;
            resp.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_value(wait));
            Ok(resp)
        }
        Err(FollowUpError::Submit(other)) => Err(unavailable(other)),
    }
}
