//! What staff decisions about spam teach: a conversation marked as spam, or taken back out of
//! spam, and a held reply approved or discarded, are learned by Rspamd (`learnspam`,
//! `learnham`) when one is configured, so that its Bayes classifier follows the site's own
//! mail. Learning happens after the decision is committed and never undoes it: an Rspamd that
//! does not answer is logged and counted, and the decision stands.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::domain::{Author, MessageBody};
use crate::entities::{messages, threads};
use crate::state::AppState;

/// Teaches Rspamd a conversation's first message (with its subject) as spam or as ham.
pub async fn teach(app: &AppState, thread_id: Uuid, spam: bool) {
    if app.rspamd.is_none() {
        return;
    }
    let thread = threads::Entity::find_by_id(thread_id).one(&app.db).await;
    let first = messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread_id))
        .filter(messages::Column::Author.eq(Author::Visitor.as_str()))
        .order_by_asc(messages::Column::CreatedAt)
        .order_by_asc(messages::Column::Id)
        .one(&app.db)
        .await;
    match (thread, first) {
        (Ok(Some(thread)), Ok(Some(first))) => {
            let body = MessageBody::from_stored(first.body_html);
            teach_text(app, thread.subject.as_deref(), &body, spam).await;
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, %thread_id, "reading a conversation to teach Rspamd failed");
        }
        _ => {}
    }
}

/// Teaches Rspamd one text as spam or as ham.
pub async fn teach_text(app: &AppState, subject: Option<&str>, body: &MessageBody, spam: bool) {
    let Some(rspamd) = &app.rspamd else {
        return;
    };
    let text = body.to_text();
    let scan = crate::spam::rspamd::Scan {
        subject,
        text: &text,
        language: "",
    };
    let learn = if spam {
        crate::spam::rspamd::Learn::Spam
    } else {
        crate::spam::rspamd::Learn::Ham
    };
    match rspamd.learn(learn, &scan).await {
        Ok(()) => tracing::info!(?learn, "Rspamd learned a staff decision"),
        Err(e) => tracing::warn!(error = %e, ?learn, "Rspamd did not learn a staff decision"),
    }
}
