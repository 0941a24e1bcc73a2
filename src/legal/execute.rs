//! Executing an approved request, once: the approved categories of the approved subjects are
//! read (sealed values opened, each opening audited first, so that a failed audit write means
//! nothing is opened or kept), written as JSON files into a ZIP package with a `manifest.json`
//! that lists the request, its history, the scope and the SHA-256 of every file, and stored
//! with the request. The data subjects who gave an address are told through the outbox — after
//! the gag order ends, when there is one. Downloads of the package and of the order copy are
//! audited too.

use std::collections::HashSet;
use std::io::{Cursor, Write};
use std::net::IpAddr;

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zip::write::SimpleFileOptions;

use super::views::{ORDER, PACKAGE, documents, thread_ids};
use super::{Caller, LegalError, hex, load_for_update, state_of};
use crate::domain::{
    Categories, Category, DisclosureState, EmailAddress, Instrument, Locale, MessageBody,
    VisitorName,
};
use crate::entities::{
    contacts, disclosure_documents, disclosure_events, disclosure_subjects, disclosures, messages,
    threads,
};
use crate::mailers::{self, ComposeError, DisclosureNotice};
use crate::seal::Sealed;
use crate::state::AppState;

/// What an execution produced.
#[derive(Debug, Clone)]
pub struct Executed {
    /// SHA-256 (hex) of the package.
    pub sha256: String,
    pub size: usize,
    /// Notices queued for data subjects.
    pub notices: usize,
    /// When the notices will go out, if a gag order holds them back.
    pub notices_held_until: Option<DateTime<Utc>>,
}

/// A file of the package.
struct PackageFile {
    path: String,
    bytes: Vec<u8>,
}

impl PackageFile {
    fn json(path: String, value: &Value) -> Self {
        let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
        bytes.push(b'\n');
        Self { path, bytes }
    }
}

fn at(t: &DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc).to_rfc3339()
}

/// Someone to tell about the disclosure.
struct Notice {
    contact_id: Uuid,
    thread_id: Uuid,
    reference: String,
    locale: Locale,
}

/// Executes an approved request; refuses a second execution.
pub async fn execute(app: &AppState, id: Uuid, caller: &Caller) -> Result<Executed, LegalError> {
    let txn = crate::db::begin_write(&app.db).await?;
    let row = load_for_update(&txn, id).await?;
    match state_of(&row)? {
        DisclosureState::Approved => {}
        DisclosureState::Executed => return Err(LegalError::AlreadyExecuted),
        other => return Err(LegalError::NotApproved(other)),
    }
    if documents(&txn, id).await?.iter().any(|(k, _)| k == PACKAGE) {
        return Err(LegalError::AlreadyExecuted);
    }
    let corrupt = |what: &'static str| LegalError::Corrupt { id, what };
    let requested =
        Categories::from_stored(&row.requested_categories).ok_or_else(|| corrupt("categories"))?;
    let approved = row
        .approved_categories
        .as_deref()
        .and_then(Categories::from_stored)
        .ok_or_else(|| corrupt("approved categories"))?;
    let subjects = disclosure_subjects::Entity::find()
        .filter(disclosure_subjects::Column::DisclosureId.eq(id))
        .order_by_asc(disclosure_subjects::Column::Position)
        .all(&txn)
        .await?;

    let mut files = Vec::new();
    let mut scope_subjects = Vec::new();
    let mut notices: Vec<Notice> = Vec::new();
    let mut done: HashSet<Uuid> = HashSet::new();
    for subject in subjects.iter().filter(|s| s.approved) {
        let mut references = Vec::new();
        let mut erased = Vec::new();
        for thread_id in thread_ids(subject) {
            let Some(thread) = threads::Entity::find_by_id(thread_id).one(&txn).await? else {
                erased.push(thread_id);
                continue;
            };
            references.push(thread.reference.clone());
            if !done.insert(thread_id) {
                continue;
            }
            let opened = disclose_thread(app, &txn, id, caller, &approved, &thread).await?;
            files.extend(opened.files);
            if let Some(contact_id) = opened.notify
                && !notices.iter().any(|n| n.contact_id == contact_id)
            {
                notices.push(Notice {
                    contact_id,
                    thread_id,
                    reference: thread.reference.clone(),
                    locale: Locale::parse(&thread.locale).unwrap_or(app.default_locale()),
                });
            }
        }
        scope_subjects.push(json!({
            "kind": subject.kind,
            "label": subject.label,
            "threads": references,
            "erased_since_intake": erased,
        }));
    }

    let history: Vec<Value> = disclosure_events::Entity::find()
        .filter(disclosure_events::Column::DisclosureId.eq(id))
        .order_by_asc(disclosure_events::Column::At)
        .order_by_asc(disclosure_events::Column::Id)
        .all(&txn)
        .await?
        .iter()
        .map(|e| {
            json!({
                "from": e.from_state,
                "to": e.to_state,
                "reason": e.reason,
                "actor": e.actor,
                "at": at(&e.at),
            })
        })
        .collect();
    let approvals: Vec<&Value> = history.iter().filter(|e| e["to"] == "approved").collect();
    let order = documents(&txn, id)
        .await?
        .into_iter()
        .find(|(k, _)| k == ORDER)
        .map(|(_, info)| info);
    let now = Utc::now();
    let manifest = json!({
        "format": "sealpost-disclosure/v1",
        "request": {
            "id": id,
            "authority": row.authority,
            "court": row.court,
            "case_number": row.case_number,
            "order_date": row.order_date.to_string(),
            "instrument": row.instrument,
            "deadline": row.deadline.to_string(),
            "gag_until": row.gag_until.as_ref().map(at),
            "received_at": at(&row.created_at),
            "filed_by": row.filed_by,
            "requested_categories": requested.names(),
            "requested_subjects": subjects.iter().map(|s| json!({"kind": s.kind, "label": s.label})).collect::<Vec<_>>(),
            "order_copy": order.map(|o| json!({"file_name": o.file_name, "sha256": o.sha256, "size": o.size})),
        },
        "approvals": approvals,
        "history": history,
        "scope": {
            "categories": approved.names(),
            "subjects": scope_subjects,
        },
        "executed_at": now.to_rfc3339(),
        "executed_by": caller.actor,
        "files": files.iter().map(|f| json!({
            "path": f.path,
            "sha256": hex(&Sha256::digest(&f.bytes)),
            "size": f.bytes.len(),
        })).collect::<Vec<_>>(),
    });
    let package = zip_package(&manifest, &files)?;
    let sha256 = Sha256::digest(&package).to_vec();
    let size = package.len();
    let now_fixed = now.fixed_offset();
    let document_id = Uuid::now_v7();
    disclosure_documents::ActiveModel {
        id: Set(document_id),
        disclosure_id: Set(id),
        kind: Set(PACKAGE.to_owned()),
        file_name: Set(format!("disclosure-{id}.zip")),
        content_type: Set("application/zip".to_owned()),
        sha256: Set(sha256.clone()),
        size: Set(size as i64),
        // The package holds what was unsealed for the authority: sealed again at rest.
        content: Set(app
            .sealer
            .seal(&crate::seal::Document(package), document_id)
            .into_bytes()),
        created_at: Set(now_fixed),
    }
    .insert(&txn)
    .await?;
    let gag = row.gag_until.filter(|g| g.with_timezone(&Utc) > now);
    let mut active: disclosures::ActiveModel = row.clone().into();
    active.state = Set(DisclosureState::Executed.as_str().to_owned());
    active.executed_at = Set(Some(now_fixed));
    active.updated_at = Set(now_fixed);
    active.update(&txn).await?;
    disclosure_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        disclosure_id: Set(id),
        from_state: Set(Some(DisclosureState::Approved.as_str().to_owned())),
        to_state: Set(DisclosureState::Executed.as_str().to_owned()),
        reason: Set("Executed: the export package was built.".to_owned()),
        actor: Set(caller.actor.clone()),
        staff_id: Set(caller.staff_id),
        at: Set(now_fixed),
    }
    .insert(&txn)
    .await?;
    let instrument = Instrument::parse(&row.instrument).ok_or_else(|| corrupt("instrument"))?;
    for notice in &notices {
        enqueue_notice(app, &txn, &row, instrument, &approved, notice, gag).await?;
    }
    crate::audit::record(
        &txn,
        &caller.actor,
        "disclosure.executed",
        Some(&id.to_string()),
        json!({
            "package_sha256": hex(&sha256),
            "package_size": size,
            "files": files.len(),
            "threads": done.len(),
            "categories": approved.names(),
            "notices": notices.len(),
            "notices_held_until": gag.as_ref().map(at),
        }),
    )
    .await?;
    txn.commit().await?;
    if !notices.is_empty() {
        app.outbox_wakeup.notify_one();
    }
    tracing::info!(disclosure_id = %id, actor = %caller.actor, files = files.len(), notices = notices.len(), "disclosure executed");
    Ok(Executed {
        sha256: hex(&sha256),
        size,
        notices: notices.len(),
        notices_held_until: gag.map(|g| g.with_timezone(&Utc)),
    })
}

struct Disclosed {
    files: Vec<PackageFile>,
    /// The contact to tell, when they gave an address.
    notify: Option<Uuid>,
}

/// Reads the approved categories of one thread into package files, auditing any unsealing
/// before it happens.
async fn disclose_thread<C: ConnectionTrait>(
    app: &AppState,
    conn: &C,
    request_id: Uuid,
    caller: &Caller,
    categories: &Categories,
    thread: &threads::Model,
) -> Result<Disclosed, LegalError> {
    let contact = match thread.contact_id {
        Some(cid) => contacts::Entity::find_by_id(cid).one(conn).await?,
        None => None,
    };
    let contact_data = categories.contains(Category::ContactData);
    let technical = categories.contains(Category::TechnicalData);
    let mut fields = Vec::new();
    if let Some(c) = &contact {
        if contact_data && c.email_sealed.is_some() {
            fields.push("email");
        }
        if contact_data && c.name_sealed.is_some() {
            fields.push("name");
        }
        if (contact_data || technical) && c.ip_sealed.is_some() {
            fields.push("ip");
        }
    }
    let (mut email, mut name, mut ip) = (None, None, None);
    if let (Some(c), false) = (&contact, fields.is_empty()) {
        // Recorded before anything is opened; if it cannot be written, nothing is.
        crate::audit::record(
            conn,
            &caller.actor,
            "contact.unsealed",
            Some(&c.id.to_string()),
            json!({
                "purpose": "disclosure",
                "request_id": request_id,
                "thread_id": thread.id,
                "fields": fields,
            }),
        )
        .await?;
        let seal_error = |e: crate::seal::SealError| LegalError::Seal(e.to_string());
        if fields.contains(&"email")
            && let Some(bytes) = c.email_sealed.clone()
        {
            let opened: EmailAddress = app
                .sealer
                .open(&Sealed::from_stored(bytes), c.id)
                .map_err(seal_error)?;
            email = Some(opened.as_str().to_owned());
        }
        if fields.contains(&"name")
            && let Some(bytes) = c.name_sealed.clone()
        {
            let opened: VisitorName = app
                .sealer
                .open(&Sealed::from_stored(bytes), c.id)
                .map_err(seal_error)?;
            name = Some(opened.as_str().to_owned());
        }
        if fields.contains(&"ip")
            && let Some(bytes) = c.ip_sealed.clone()
        {
            let opened: IpAddr = app
                .sealer
                .open(&Sealed::from_stored(bytes), c.id)
                .map_err(seal_error)?;
            ip = Some(opened.to_string());
        }
    }
    let dir = format!("threads/{}", thread.reference);
    let mut files = Vec::new();
    if contact_data {
        files.push(PackageFile::json(
            format!("{dir}/contact_data.json"),
            &json!({
                "reference": thread.reference,
                "email": email,
                "name": name,
                "ip": ip,
            }),
        ));
    }
    let rows = if categories.contains(Category::MessageContent) || technical {
        messages::Entity::find()
            .filter(messages::Column::ThreadId.eq(thread.id))
            .order_by_asc(messages::Column::CreatedAt)
            .order_by_asc(messages::Column::Id)
            .all(conn)
            .await?
    } else {
        Vec::new()
    };
    if categories.contains(Category::MessageContent) {
        files.push(PackageFile::json(
            format!("{dir}/message_content.json"),
            &json!({
                "reference": thread.reference,
                "subject": thread.subject,
                // Who among staff wrote an answer is not part of a disclosure about the visitor.
                "messages": rows.iter().map(|m| json!({
                    "author": m.author,
                    "at": at(&m.created_at),
                    "text": MessageBody::from_stored(m.body_html.clone()).to_text(),
                })).collect::<Vec<_>>(),
            }),
        ));
    }
    if technical {
        files.push(PackageFile::json(
            format!("{dir}/technical_data.json"),
            &json!({
                "reference": thread.reference,
                "ip": ip,
                "thread_created_at": at(&thread.created_at),
                "locale": thread.locale,
                "consent_policy_version": thread.consent_policy_version,
                "message_times": rows.iter().map(|m| json!({
                    "author": m.author,
                    "at": at(&m.created_at),
                })).collect::<Vec<_>>(),
            }),
        ));
    }
    Ok(Disclosed {
        files,
        notify: contact.filter(|c| c.email_sealed.is_some()).map(|c| c.id),
    })
}

/// The ZIP: `manifest.json` first, then the data files in a fixed order.
fn zip_package(manifest: &Value, files: &[PackageFile]) -> Result<Vec<u8>, LegalError> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let manifest = PackageFile::json("manifest.json".to_owned(), manifest);
    for file in std::iter::once(&manifest).chain(files.iter()) {
        writer.start_file(file.path.as_str(), options)?;
        writer
            .write_all(&file.bytes)
            .map_err(|e| LegalError::Package(e.to_string()))?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Queues the notice to one data subject, held until the gag ends when there is one.
async fn enqueue_notice<C: ConnectionTrait>(
    app: &AppState,
    conn: &C,
    row: &disclosures::Model,
    instrument: Instrument,
    categories: &Categories,
    notice: &Notice,
    gag: Option<DateTime<FixedOffset>>,
) -> Result<(), LegalError> {
    let notice = DisclosureNotice {
        contact_id: notice.contact_id,
        thread_id: notice.thread_id,
        reference: &notice.reference,
        locale: notice.locale,
        authority: &row.authority,
        instrument,
        categories,
    };
    mailers::enqueue_disclosure_notice(conn, app, &notice, gag)
        .await
        .map_err(|e| match e {
            ComposeError::Template(e) => LegalError::Package(format!("rendering the notice: {e}")),
            ComposeError::Config(e) => LegalError::Package(format!("mail configuration: {e}")),
            ComposeError::Db(e) => LegalError::Db(e),
        })?;
    Ok(())
}

/// A stored document's name, type and content.
pub struct Download {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

async fn download(
    app: &AppState,
    id: Uuid,
    caller: &Caller,
    kind: &'static str,
    action: &'static str,
) -> Result<Download, LegalError> {
    let txn = crate::db::begin_write(&app.db).await?;
    let exists = disclosures::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .is_some();
    if !exists {
        return Err(LegalError::NotFound);
    }
    let doc = disclosure_documents::Entity::find()
        .filter(disclosure_documents::Column::DisclosureId.eq(id))
        .filter(disclosure_documents::Column::Kind.eq(kind))
        .one(&txn)
        .await?;
    let Some(doc) = doc else {
        return Err(if kind == PACKAGE {
            LegalError::NoPackage
        } else {
            LegalError::NotFound
        });
    };
    crate::audit::record(
        &txn,
        &caller.actor,
        action,
        Some(&id.to_string()),
        json!({ "sha256": hex(&doc.sha256), "size": doc.size }),
    )
    .await?;
    txn.commit().await?;
    let crate::seal::Document(bytes) = app
        .sealer
        .open(&crate::seal::Sealed::from_stored(doc.content), doc.id)
        .map_err(|e| LegalError::Package(format!("opening the stored document: {e}")))?;
    if Sha256::digest(&bytes).as_slice() != doc.sha256.as_slice() {
        return Err(LegalError::Package(
            "the stored document does not match its recorded SHA-256".into(),
        ));
    }
    tracing::info!(disclosure_id = %id, actor = %caller.actor, kind, "disclosure document downloaded");
    Ok(Download {
        file_name: doc.file_name,
        content_type: doc.content_type,
        sha256: hex(&doc.sha256),
        bytes,
    })
}

/// Seals the documents stored in clear before documents were sealed at rest: a row whose
/// content still hashes to its recorded SHA-256 is the plain file. Run at start-up, after the
/// migrations; returns how many it sealed.
pub async fn seal_stored_documents(app: &AppState) -> Result<u64, sea_orm::DbErr> {
    let rows = disclosure_documents::Entity::find().all(&app.db).await?;
    let mut sealed = 0;
    for row in rows {
        if Sha256::digest(&row.content).as_slice() != row.sha256.as_slice() {
            continue;
        }
        let content = app
            .sealer
            .seal(&crate::seal::Document(row.content.clone()), row.id)
            .into_bytes();
        let mut active: disclosure_documents::ActiveModel = row.into();
        active.content = Set(content);
        active.update(&app.db).await?;
        sealed += 1;
    }
    Ok(sealed)
}

/// The export package of an executed request; each download is audited.
pub async fn package(app: &AppState, id: Uuid, caller: &Caller) -> Result<Download, LegalError> {
    download(app, id, caller, PACKAGE, "disclosure.package_downloaded").await
}

/// The copy of the order; each download is audited.
pub async fn order_copy(app: &AppState, id: Uuid, caller: &Caller) -> Result<Download, LegalError> {
    download(app, id, caller, ORDER, "disclosure.order_downloaded").await
}
