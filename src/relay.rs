//! The relay between visitors and staff: mail to a relay alias, from either side, arriving
//! over SMTP or HTTP, goes through [`receive`] — one path for both. What it stores goes on to
//! the other side through the message use cases and the mailers.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::domain::MessageBody;
use crate::entities::outbox as outbox_rows;
use crate::mail::authentication::Client;
use crate::mail::relay_token::{Direction, RelayToken};
use crate::mail::scrub::Scrub;
use crate::mailers::{self, NotPassedOn};
use crate::outbox::Kind;
use crate::state::AppState;

/// Mail arriving for the relay domain, from the SMTP listener or `POST /api/v1/inbound`.
pub struct Inbound<'a> {
    /// The envelope sender; `None` or empty for the null reverse path `<>`.
    pub envelope_from: Option<&'a str>,
    /// The envelope recipients (or, over HTTP, the addresses the caller names).
    pub recipients: Vec<String>,
    pub raw: &'a [u8],
    /// The client that handed the mail to the first MTA, when known: for SPF.
    pub client: Option<Client>,
    /// Handed over by the site's own MTA, which accepted it already: a refusal cannot reach
    /// the sender, so a staff member whose answer is not passed on is told by mail.
    pub relayed: bool,
}

/// What became of an inbound mail that was not refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Stored in the thread and relayed to the other side.
    Relayed { thread_id: Uuid },
    /// A visitor's reply that failed authentication: stored for staff to review, not relayed.
    Held { thread_id: Uuid },
    /// A bounce, recorded against the mail it reports on.
    BounceRecorded,
    /// Automatic mail (auto-reply, list, daemon): accepted and dropped, so that no loop starts.
    Dropped,
}

/// Why an inbound mail is refused. Over SMTP each is a 5xx during the dialogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such recipient")]
    UnknownRecipient,
    #[error("relay token is forged or altered")]
    ForgedToken,
    #[error("the sender may not write to this address")]
    StrangerSender,
    #[error("the sender's domain did not authenticate this mail ({0})")]
    Unauthenticated(String),
    #[error("the mail has no readable text")]
    Empty,
    #[error(
        "the mail's HTML is too large or too deeply nested to read and it has no plain-text part"
    )]
    Unreadable,
    #[error("the mail cannot be parsed")]
    Malformed,
    #[error("the mail is larger than mail.inbound.max_message_bytes")]
    TooLarge,
    #[error("the new text is longer than a message may be (20,000 characters)")]
    TooLong,
}

impl Refusal {
    /// A short name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::UnknownRecipient => "unknown_recipient",
            Refusal::ForgedToken => "forged_token",
            Refusal::StrangerSender => "stranger_sender",
            Refusal::Unauthenticated(_) => "unauthenticated",
            Refusal::Empty => "empty",
            Refusal::Unreadable => "unreadable",
            Refusal::Malformed => "malformed",
            Refusal::TooLarge => "too_large",
            Refusal::TooLong => "too_long",
        }
    }

    /// The SMTP reply for this refusal (code, enhanced status and text).
    pub fn smtp_reply(&self) -> (u16, &'static str) {
        match self {
            Refusal::UnknownRecipient => (550, "5.1.1 No such recipient here"),
            Refusal::ForgedToken => (550, "5.7.1 This reply address is not valid"),
            Refusal::StrangerSender => (550, "5.7.1 Sender may not write to this address"),
            Refusal::Unauthenticated(_) => (
                550,
                "5.7.1 Sender authentication (DMARC) failed for a staff address",
            ),
            Refusal::Empty => (554, "5.6.0 The message has no readable text"),
            Refusal::Unreadable => (
                554,
                "5.6.0 The message's HTML is too large or too deeply nested to read",
            ),
            Refusal::Malformed => (554, "5.6.0 The message cannot be parsed"),
            Refusal::TooLarge => (552, "5.3.4 Message too big"),
            Refusal::TooLong => (
                552,
                "5.3.4 The new text is longer than 20000 characters; send it in parts",
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    Store(#[from] crate::messages::StoreError),
}

/// The local part of the relay domain's address a client may leave when it drops the token
/// (`reply@relay-domain`); such mail is routed by its headers, and only from staff.
const BARE_ALIAS: &str = "reply";

fn is_bare_alias(app: &AppState, recipient: &str) -> bool {
    let address = recipient.trim().trim_matches(['<', '>']);
    address.rsplit_once('@').is_some_and(|(local, domain)| {
        local.eq_ignore_ascii_case(BARE_ALIAS)
            && domain.eq_ignore_ascii_case(&app.settings.mail.relay_domain)
    })
}

/// Checks one envelope recipient: it must be a relay alias with a valid token for a thread
/// that exists.
pub async fn check_recipient(app: &AppState, recipient: &str) -> Result<RelayToken, ReceiveError> {
    use crate::mail::relay_token::TokenError;
    let token = RelayToken::from_address(recipient, &app.sealer, &app.settings.mail.relay_domain)
        .map_err(|e| match e {
        TokenError::NotAnAlias => Refusal::UnknownRecipient,
        TokenError::Forged => Refusal::ForgedToken,
    })?;
    let exists = crate::entities::threads::Entity::find_by_id(token.thread_id)
        .one(&app.db)
        .await?
        .is_some();
    if !exists {
        return Err(Refusal::UnknownRecipient.into());
    }
    Ok(token)
}

/// Whether `address` is the visitor of the thread whose contact is `contact`.
fn is_thread_visitor(
    app: &AppState,
    contact: Option<&crate::entities::contacts::Model>,
    address: &str,
) -> bool {
    let Some(index) = contact.and_then(|c| c.email_index.as_ref()) else {
        return false;
    };
    crate::domain::EmailAddress::parse(address.trim().trim_matches(['<', '>']))
        .ok()
        .flatten()
        .is_some_and(|e| &app.sealer.email_index(&e) == index)
}

/// Whether an envelope sender may write to a thread's alias of `direction`: staff addresses
/// to the staff side, the thread's own visitor to theirs, and the null sender (a bounce) to
/// either.
async fn sender_may_write(
    app: &AppState,
    token: &RelayToken,
    sender: &str,
) -> Result<bool, ReceiveError> {
    let sender = sender.trim().trim_matches(['<', '>']);
    if sender.is_empty() {
        return Ok(true);
    }
    Ok(match token.direction {
        Direction::FromStaff => app.settings.mail.is_staff_address(sender),
        Direction::FromVisitor => {
            let contact = thread_contact(app, token.thread_id).await?;
            is_thread_visitor(app, contact.as_ref(), sender)
        }
    })
}

async fn thread_contact(
    app: &AppState,
    thread_id: Uuid,
) -> Result<Option<crate::entities::contacts::Model>, DbErr> {
    use crate::entities::{contacts, threads};
    let Some(thread) = threads::Entity::find_by_id(thread_id).one(&app.db).await? else {
        return Ok(None);
    };
    match thread.contact_id {
        Some(id) => contacts::Entity::find_by_id(id).one(&app.db).await,
        None => Ok(None),
    }
}

/// What an envelope is allowed to do, decided before any of the mail is read: the SMTP
/// listener asks at `RCPT TO`, the Postfix policy service for its client at `RCPT TO` too, so
/// that every refusal happens in the sender's own SMTP dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// To a valid alias, from a sender who may write to it.
    Alias(RelayToken),
    /// To the bare `reply@` address, from a staff address: routed by the headers at DATA.
    Bare,
}

pub async fn check_envelope(
    app: &AppState,
    sender: Option<&str>,
    recipient: &str,
) -> Result<Envelope, ReceiveError> {
    let sender = sender.unwrap_or_default();
    if is_bare_alias(app, recipient) {
        return if app.settings.mail.is_staff_address(sender) {
            Ok(Envelope::Bare)
        } else {
            Err(Refusal::UnknownRecipient.into())
        };
    }
    let token = check_recipient(app, recipient).await?;
    if !sender_may_write(app, &token, sender).await? {
        tracing::warn!(thread_id = %token.thread_id, "relay mail from a sender not on this thread refused at RCPT");
        return Err(Refusal::StrangerSender.into());
    }
    Ok(Envelope::Alias(token))
}

/// The thread and side a mail is for: from its recipients; when the alias was lost, from the
/// Message-IDs it answers, or from the reference in its subject (taken as staff's).
async fn route(
    app: &AppState,
    mail: &Inbound<'_>,
    parsed: &crate::mail::inbound::Parsed<'_>,
) -> Result<RelayToken, ReceiveError> {
    let mut refusal = Refusal::UnknownRecipient;
    for recipient in &mail.recipients {
        match check_recipient(app, recipient).await {
            Ok(token) => return Ok(token),
            Err(ReceiveError::Refused(Refusal::ForgedToken)) => refusal = Refusal::ForgedToken,
            Err(ReceiveError::Refused(_)) => {}
            Err(other) => return Err(other),
        }
    }
    if refusal == Refusal::ForgedToken {
        return Err(refusal.into());
    }
    let ids = parsed.referenced_ids();
    if !ids.is_empty() {
        let row = outbox_rows::Entity::find()
            .filter(outbox_rows::Column::MessageId.is_in(ids))
            .one(&app.db)
            .await?;
        if let Some(row) = row
            && let Some(thread_id) = row.thread_id
        {
            let direction = if row.kind == Kind::NewMessage.as_str() {
                Direction::FromStaff
            } else {
                Direction::FromVisitor
            };
            return Ok(RelayToken::new(thread_id, direction));
        }
    }
    // Clients that lose every header still keep the subject, and ours carries the reference.
    if let Some(reference) = parsed.subject().and_then(crate::domain::Reference::find_in) {
        let thread = crate::entities::threads::Entity::find()
            .filter(crate::entities::threads::Column::Reference.eq(reference.as_str()))
            .one(&app.db)
            .await?;
        if let Some(thread) = thread {
            return Ok(RelayToken::new(thread.id, Direction::FromStaff));
        }
    }
    Err(refusal.into())
}

/// Records a bounce against the mail it reports on; an address that keeps bouncing gets no
/// more acknowledgements.
async fn record_bounce(
    app: &AppState,
    parsed: &crate::mail::inbound::Parsed<'_>,
) -> Result<(), DbErr> {
    let text = parsed.all_text();
    let suffix = format!("@{}>", app.settings.mail.relay_domain);
    let ids: Vec<String> = text
        .split(|c: char| c.is_whitespace())
        .filter(|w| w.starts_with('<') && w.ends_with(&suffix))
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        tracing::info!("bounce for no mail of ours; dropped");
        return Ok(());
    }
    let rows = outbox_rows::Entity::find()
        .filter(outbox_rows::Column::MessageId.is_in(ids))
        .all(&app.db)
        .await?;
    for row in rows {
        tracing::warn!(outbox_id = %row.id, kind = %row.kind, "mail bounced");
        let contact_id = row.contact_id.filter(|_| row.recipient == "visitor");
        let mut active: outbox_rows::ActiveModel = row.into();
        active.last_error = Set(Some(
            "bounced: the receiving server sent a delivery failure report".into(),
        ));
        active.update(&app.db).await?;
        if let Some(contact_id) = contact_id {
            crate::entities::contacts::Entity::update_many()
                .col_expr(
                    crate::entities::contacts::Column::Bounces,
                    sea_orm::sea_query::ExprTrait::add(
                        sea_orm::sea_query::Expr::col(crate::entities::contacts::Column::Bounces),
                        1,
                    ),
                )
                .filter(crate::entities::contacts::Column::Id.eq(contact_id))
                .exec(&app.db)
                .await?;
        }
    }
    Ok(())
}

/// The staff account that answers from `address`, for its saved signature.
async fn staff_for_address(
    app: &AppState,
    address: &str,
) -> Result<Option<crate::entities::staff::Model>, DbErr> {
    crate::entities::staff::Entity::find()
        .filter(crate::entities::staff::Column::MailAddress.eq(address.trim().to_lowercase()))
        .filter(crate::entities::staff::Column::Disabled.eq(false))
        .one(&app.db)
        .await
}

/// Takes in a mail for the relay domain: one code path for SMTP and HTTP. A staff answer goes
/// to the visitor from the support address; a visitor's mail joins the thread and notifies
/// staff. Either way the mail is rebuilt from its new text, never forwarded, so none of the
/// sender's headers travel on.
pub async fn receive(app: &AppState, mail: Inbound<'_>) -> Result<Received, ReceiveError> {
    let outcome = receive_counted(app, mail).await;
    match &outcome {
        Ok(Received::Held { .. }) => app.metrics.inbound_mail("held"),
        Ok(_) => app.metrics.inbound_mail("accepted"),
        Err(ReceiveError::Refused(refusal)) => {
            app.metrics.inbound_mail("refused");
            app.metrics.inbound_refusal(refusal.reason());
        }
        Err(_) => app.metrics.inbound_mail("failed"),
    }
    outcome
}

async fn receive_counted(app: &AppState, mail: Inbound<'_>) -> Result<Received, ReceiveError> {
    use crate::entities::{contacts, threads};
    use crate::mail::inbound::{Automatic, Parsed};

    if mail.raw.len() > app.settings.mail.inbound.max_message_bytes {
        return Err(Refusal::TooLarge.into());
    }
    let parsed = Parsed::parse(mail.raw).ok_or(Refusal::Malformed)?;
    match parsed.automatic(mail.envelope_from) {
        Some(Automatic::Bounce) => {
            record_bounce(app, &parsed).await?;
            return Ok(Received::BounceRecorded);
        }
        Some(Automatic::Other) => {
            tracing::info!("automatic mail to the relay dropped");
            return Ok(Received::Dropped);
        }
        None => {}
    }
    let token = route(app, &mail, &parsed).await?;
    let thread = threads::Entity::find_by_id(token.thread_id)
        .one(&app.db)
        .await?
        .ok_or(Refusal::UnknownRecipient)?;
    let contact = match thread.contact_id {
        Some(id) => contacts::Entity::find_by_id(id).one(&app.db).await?,
        None => None,
    };
    let sender = parsed.from_address().unwrap_or_default();
    let envelope = mail.envelope_from.unwrap_or_default();
    let allowed = match token.direction {
        Direction::FromStaff => {
            app.settings.mail.is_staff_address(&sender)
                && (envelope.is_empty() || app.settings.mail.is_staff_address(envelope))
        }
        Direction::FromVisitor => is_thread_visitor(app, contact.as_ref(), &sender),
    };
    if !allowed {
        tracing::warn!(thread_id = %thread.id, "relay mail from a sender not on this thread refused");
        return Err(Refusal::StrangerSender.into());
    }
    let verdict = app
        .authenticator
        .check(mail.raw, mail.envelope_from, mail.client.as_ref())
        .await;
    if !verdict.passed() && token.direction == Direction::FromStaff {
        tracing::warn!(thread_id = %thread.id, verdict = verdict.summary(), "mail from a staff address failed authentication; refused");
        return Err(Refusal::Unauthenticated(verdict.summary().to_owned()).into());
    }

    let staff_row = match token.direction {
        Direction::FromStaff => staff_for_address(app, &sender).await?,
        Direction::FromVisitor => None,
    };
    let display_name = parsed.from_display_name();
    let author = crate::mail::reply::Author {
        display_name: match token.direction {
            Direction::FromStaff => display_name.as_deref(),
            Direction::FromVisitor => None,
        },
        saved_signature: staff_row.as_ref().and_then(|s| s.mail_signature.as_deref()),
    };
    let text = match parsed.new_text(&author) {
        Ok(text) => text,
        Err(_) => {
            return Err(not_passed_on(app, &mail, &token, &thread, Refusal::Unreadable).await);
        }
    };
    let reader_alias = match token.direction {
        Direction::FromStaff => RelayToken::new(thread.id, Direction::FromVisitor),
        Direction::FromVisitor => RelayToken::new(thread.id, Direction::FromStaff),
    }
    .alias(&app.sealer, &app.settings.mail.relay_domain);
    let text = scrub_for_reader(
        app,
        &text,
        &token,
        &parsed,
        envelope,
        display_name.as_deref(),
        contact.as_ref(),
        &reader_alias,
    );
    let body = match MessageBody::from_plain_text(&text) {
        Ok(body) => body,
        Err(problem) => {
            let refusal = match problem {
                crate::domain::FieldProblem::TooLong { .. } => Refusal::TooLong,
                _ => Refusal::Empty,
            };
            return Err(not_passed_on(app, &mail, &token, &thread, refusal).await);
        }
    };

    // A visitor's reply is scored like a message on their page, before the write begins. Mail
    // is never refused for its score (a refusal would bounce to a sender who may be forged):
    // what the form would refuse is held here.
    let spam = match token.direction {
        Direction::FromVisitor if verdict.passed() => {
            Some(crate::messages::assess_follow_up(app, &body).await?)
                .filter(|v| v.action != crate::spam::Action::Accept)
        }
        _ => None,
    };
    let txn = crate::db::begin_write(&app.db).await?;
    let thread_id = thread.id;
    let received = match token.direction {
        Direction::FromStaff => {
            crate::messages::record_staff_answer(
                app,
                &txn,
                thread,
                contact.as_ref(),
                staff_row.as_ref().map(|s| s.id),
                &body,
            )
            .await?;
            Received::Relayed { thread_id }
        }
        Direction::FromVisitor if !verdict.passed() => {
            crate::messages::insert_held_message(
                &txn,
                thread.id,
                &body,
                &format!(
                    "the sender's domain did not authenticate this mail: {}",
                    verdict.summary()
                ),
            )
            .await?;
            Received::Held { thread_id }
        }
        Direction::FromVisitor if spam.is_some() => {
            let reason = spam
                .as_ref()
                .map(crate::messages::spam_hold_reason)
                .unwrap_or_default();
            crate::messages::insert_held_message(&txn, thread.id, &body, &reason).await?;
            crate::tally::count_outcome(&txn, crate::tally::Outcome::Held, 1).await?;
            tracing::info!(%thread_id, reason, "visitor mail held by the spam defences");
            Received::Held { thread_id }
        }
        Direction::FromVisitor => {
            crate::messages::insert_message(
                &txn,
                thread.id,
                crate::domain::Author::Visitor,
                None,
                &body,
            )
            .await?;
            crate::messages::record_visitor_follow_up(app, &txn, thread, &body).await?;
            Received::Relayed { thread_id }
        }
    };
    txn.commit().await?;
    app.outbox_wakeup.notify_one();
    match &received {
        Received::Held { .. } if spam.is_none() => {
            tracing::warn!(%thread_id, verdict = verdict.summary(), "visitor mail failed authentication; held for staff review")
        }
        _ => tracing::info!(%thread_id, "relay mail stored"),
    }
    Ok(received)
}

/// A staff answer with nothing to pass on. Said in the SMTP dialogue when there is one; when
/// the site's MTA accepted the mail already, staff get a notice by mail instead, so that an
/// answer never vanishes unseen.
async fn not_passed_on(
    app: &AppState,
    mail: &Inbound<'_>,
    token: &RelayToken,
    thread: &crate::entities::threads::Model,
    refusal: Refusal,
) -> ReceiveError {
    if !(mail.relayed && token.direction == Direction::FromStaff) {
        return refusal.into();
    }
    let why = match refusal {
        Refusal::Unreadable => NotPassedOn::Unreadable,
        Refusal::TooLong => NotPassedOn::TooLong,
        _ => NotPassedOn::Empty,
    };
    if let Err(e) =
        mailers::notify_staff_not_passed_on(app, thread.id, &thread.reference, why).await
    {
        tracing::error!(error = %e, thread_id = %thread.id, "the notice of an answer not passed on could not be queued");
    }
    refusal.into()
}

/// Takes the writer's side out of the new text: for staff, every staff address and domain,
/// their name and closing-block phones; for the visitor, their addresses. Either way every
/// relay alias but the reader's own.
#[allow(clippy::too_many_arguments)] // each is one thing the scrub must know
fn scrub_for_reader(
    app: &AppState,
    text: &str,
    token: &RelayToken,
    parsed: &crate::mail::inbound::Parsed<'_>,
    envelope: &str,
    display_name: Option<&str>,
    contact: Option<&crate::entities::contacts::Model>,
    reader_alias: &str,
) -> String {
    let mail = &app.settings.mail;
    let mut addresses = parsed.sender_addresses();
    if !envelope.is_empty() {
        addresses.push(envelope.to_owned());
    }
    let support_name = mailers::support_name(app);
    let scrub = match token.direction {
        Direction::FromStaff => {
            addresses.extend(mail.staff_addresses.iter().cloned());
            Scrub {
                alias: reader_alias,
                relay_domain: &mail.relay_domain,
                addresses,
                domains: mail.staff_domains(),
                full_names: display_name.map(str::to_owned).into_iter().collect(),
                name_words: display_name
                    .map(crate::mail::reply::name_parts)
                    .unwrap_or_default(),
                name_replacement: &support_name,
                closing_phones: true,
            }
        }
        Direction::FromVisitor => Scrub {
            alias: reader_alias,
            relay_domain: &mail.relay_domain,
            addresses,
            ..Scrub::default()
        },
    };
    scrub.apply(text, |address| {
        token.direction == Direction::FromVisitor && is_thread_visitor(app, contact, address)
    })
}
