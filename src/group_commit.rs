//! Group commit for new conversations. A `201` means the message is on disk (SQLite runs with
//! `synchronous=FULL`), and one commit per request would spend most of a submission waiting
//! for its own fsync. Instead, submissions hand their prepared rows to a writer task, which
//! takes everything that is waiting, writes it with one multi-row INSERT per table in one
//! transaction, and answers each submission once that transaction is durable. Under load the
//! batches grow on their own (everything that arrived during the last commit goes into the
//! next one); a lone request is written at once, never held back for company.
//!
//! If a batch fails, its submissions are written again one by one, so that one bad row (a
//! reference that collided) fails only its own request.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect,
};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::entities::{contacts, messages, outbox, threads};
use crate::tally::{EventKind, TechEvent};

/// Everything a new conversation writes, prepared (sealed, cleaned and rendered) before it
/// reaches the writer, so that the writer only talks to the database.
pub struct NewConversation {
    pub contact: Option<contacts::ActiveModel>,
    pub thread: threads::ActiveModel,
    pub message: messages::ActiveModel,
    pub notification: outbox::ActiveModel,
    /// The visitor's acknowledgement and their address's blind index: it is left out when the
    /// address has bounced `mail.max_bounces` times.
    pub acknowledgement: Option<(Vec<u8>, outbox::ActiveModel)>,
    /// Counted in the daily statistics.
    pub tech: Option<TechEvent>,
    /// Held for spam review (counted as such; its mails are held rows).
    pub held: bool,
}

struct Job {
    conversation: NewConversation,
    done: oneshot::Sender<Result<(), DbErr>>,
}

/// The handle submissions write through; cheap to share.
pub struct GroupCommit {
    jobs: mpsc::UnboundedSender<Job>,
}

/// How the writers run.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Writer tasks: one suits SQLite, which has one writer anyway; PostgreSQL gains from a
    /// few, each gathering while another commits.
    pub writers: usize,
    /// The most conversations in one transaction.
    pub max_batch: usize,
    /// Acknowledgements stop for an address with this many bounces.
    pub max_bounces: i64,
}

/// Why the submission writer could not take or write a conversation.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("starting the submission writer: {0}")]
    Start(#[source] std::io::Error),
    #[error("connecting the submission writer: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the submission writer did not start")]
    NotStarted,
    #[error("the submission writer has stopped")]
    Stopped,
    #[error("the submission writer stopped before answering")]
    NoAnswer,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl GroupCommit {
    /// Starts the writer tasks on a thread and runtime of their own, with a connection pool of
    /// their own: `connect(n)` opens it there, with `settings.writers` connections and one for
    /// checkpointing SQLite's WAL. On a busy server the request handlers keep the shared
    /// runtime's threads full, and a writer should not wait its turn behind them between
    /// statements while its transaction is open. They end when this handle is dropped and
    /// every queued submission is written.
    pub async fn start<F, Fut, E>(connect: F, settings: WriterSettings) -> Result<Self, WriterError>
    where
        F: FnOnce(u32) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<DatabaseConnection, E>>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (ready, started) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(WriterError::Start)?;
        let writers = settings.writers.max(1);
        // One more connection than writers, for the checkpointer.
        std::thread::Builder::new()
            .name("sealpost-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let db = match connect(u32::try_from(writers + 1).unwrap_or(u32::MAX)).await {
                        Ok(db) => db,
                        Err(err) => {
                            let _ = ready.send(Err(WriterError::Connect(Box::new(err))));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    let queue = Arc::new(Mutex::new(queue));
                    let tasks: Vec<_> = (0..writers)
                        .map(|_| tokio::spawn(write_batches(db.clone(), queue.clone(), settings)))
                        .collect();
                    let checkpointer = tokio::spawn(checkpoint_beside(db.clone()));
                    for task in tasks {
                        let _ = task.await;
                    }
                    checkpointer.abort();
                    let _ = crate::db::checkpoint(&db).await;
                    let _ = db.close().await;
                });
            })
            .map_err(WriterError::Start)?;
        started.await.map_err(|_| WriterError::NotStarted)??;
        Ok(Self { jobs })
    }

    /// Writes one conversation; returns once it is committed (or failed).
    pub async fn store(&self, conversation: NewConversation) -> Result<(), WriterError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { conversation, done })
            .map_err(|_| WriterError::Stopped)?;
        Ok(answer.await.map_err(|_| WriterError::NoAnswer)??)
    }
}

/// How often the checkpointer looks at SQLite's WAL.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Checkpoints SQLite's WAL beside the writers, so that the checkpoint inside their commits
/// finds little left to copy (see [`crate::db::checkpoint`]); returns at once on PostgreSQL.
async fn checkpoint_beside(db: DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = crate::db::checkpoint(&db).await {
            tracing::warn!(error = %e, "checkpointing the WAL failed; trying again shortly");
        }
    }
}

async fn write_batches(
    db: DatabaseConnection,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    settings: WriterSettings,
) {
    let max_batch = settings.max_batch.max(1);
    loop {
        let mut batch = Vec::new();
        {
            let mut queue = queue.lock().await;
            match queue.recv().await {
                Some(job) => batch.push(job),
                None => return,
            }
            while batch.len() < max_batch {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        let (conversations, answers): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|job| (job.conversation, job.done))
            .unzip();
        match write(&db, &conversations, settings.max_bounces).await {
            Ok(()) => {
                for answer in answers {
                    let _ = answer.send(Ok(()));
                }
            }
            Err(err) if answers.len() == 1 => {
                let _ = answers.into_iter().next().map(|a| a.send(Err(err)));
            }
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    size = answers.len(),
                    "a batch of submissions failed; writing them one by one"
                );
                for (conversation, answer) in conversations.iter().zip(answers) {
                    let one = write(
                        &db,
                        std::slice::from_ref(conversation),
                        settings.max_bounces,
                    );
                    let _ = answer.send(one.await);
                }
            }
        }
    }
}

/// Writes the conversations in one transaction.
async fn write(
    db: &DatabaseConnection,
    batch: &[NewConversation],
    max_bounces: i64,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write_as(db, crate::db::Writer::Submissions).await?;
    insert_all(&txn, batch.iter().filter_map(|c| c.contact.clone())).await?;
    insert_all(&txn, batch.iter().map(|c| c.thread.clone())).await?;
    insert_all(&txn, batch.iter().map(|c| c.message.clone())).await?;
    let indexes: HashSet<&[u8]> = batch
        .iter()
        .filter_map(|c| {
            c.acknowledgement
                .as_ref()
                .map(|(index, _)| index.as_slice())
        })
        .collect();
    let bounced = bounced(&txn, &indexes, max_bounces).await?;
    let mails = batch.iter().flat_map(|c| {
        let ack = c
            .acknowledgement
            .as_ref()
            .filter(|(index, _)| !bounced.contains(index.as_slice()))
            .map(|(_, row)| row.clone());
        std::iter::once(c.notification.clone()).chain(ack)
    });
    insert_all(&txn, mails).await?;
    crate::tally::count_many(
        &txn,
        EventKind::Submission,
        batch.iter().filter_map(|c| c.tech.as_ref()),
    )
    .await?;
    crate::tally::count_outcome(
        &txn,
        crate::tally::Outcome::Held,
        batch.iter().filter(|c| c.held).count() as i64,
    )
    .await?;
    txn.commit().await
}

/// Multi-row INSERTs, in chunks that stay under SQLite's 32,766 bound parameters.
async fn insert_all<A, C>(conn: &C, rows: impl Iterator<Item = A>) -> Result<(), DbErr>
where
    A: sea_orm::ActiveModelTrait,
    C: ConnectionTrait,
{
    let per_statement = match conn.get_database_backend() {
        DbBackend::Sqlite => 500,
        _ => 1000,
    };
    let mut rows: Vec<A> = rows.collect();
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(per_statement));
        <A::Entity as EntityTrait>::insert_many(std::mem::replace(&mut rows, rest))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Which of these address indexes have bounced `max_bounces` times or more, over all their
/// contacts. Only contacts with a bounce are read (a partial index holds just those).
async fn bounced<C: ConnectionTrait>(
    conn: &C,
    indexes: &HashSet<&[u8]>,
    max_bounces: i64,
) -> Result<HashSet<Vec<u8>>, DbErr> {
    if indexes.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<(Option<Vec<u8>>, i64)> = contacts::Entity::find()
        .select_only()
        .column(contacts::Column::EmailIndex)
        .column(contacts::Column::Bounces)
        // A literal, not a bound parameter, so that the planner may use the partial index.
        .filter(Expr::cust("bounces > 0"))
        .filter(contacts::Column::EmailIndex.is_in(indexes.iter().map(|i| i.to_vec())))
        .into_tuple()
        .all(conn)
        .await?;
    let mut totals: HashMap<Vec<u8>, i64> = HashMap::new();
    for (index, bounces) in rows {
        if let Some(index) = index {
            *totals.entry(index).or_default() += bounces;
        }
    }
    Ok(totals
        .into_iter()
        .filter(|(_, total)| *total >= max_bounces)
        .map(|(index, _)| index)
        .collect())
}
