//! The embedded engine: durable queues in the SQLite file shared with the table
//! ([`mostrador_store::sqlite::Database`]), with the semantics of SQS.
//!
//! - Every queue and its dead-letter queue live in `queue_messages` (a `dead` flag marks dead letters),
//!   so a message survives a restart in whatever state it was: ready, in flight (until its visibility
//!   runs out) or dead. FIFO deduplication ids live in `queue_dedup` for five minutes after the first
//!   send, also after the message itself was deleted (as in SQS).
//! - Receipts: only the receipt of the latest receive is valid. An older receipt is rejected with
//!   [`QueueError::StaleReceipt`] and does nothing, so a consumer whose visibility ran out cannot delete
//!   a delivery that now belongs to someone else. SQS (and moto) are more lenient: they accept an older
//!   receipt of a message that is still in the queue and act on the message. Consumers must therefore
//!   treat `StaleReceipt` as "someone else has the message now", and rely on idempotent effects either way.
//! - Redrive: a message received `max_receives` times is moved to the dead-letter queue by the receive
//!   that would hand it out once more (`max_receives == 0` disables redrive).
//! - FIFO: messages are handed out in send order per group; a group with a message in flight gives out
//!   nothing until that message is deleted or visible again; one batch may hold several messages of a
//!   group, in order.
//! - At rest: every body is sealed with the file's row key (`mostrador_store::sqlite::RowKey`), bound
//!   to its queue, so a waiting message (a customer's words, their number) is not readable in the file;
//!   bodies an earlier version stored in clear are sealed when the queue tables are first used.
//! - Cost: a standard receive reads the batch through the `(queue, dead, visible_at_ms, seq)` index; a
//!   FIFO receive walks live messages in send order and also steps over in-flight messages and messages
//!   of blocked groups (what SQS does too, in its own way), with one indexed lookup per group.

use crate::port::{
    validate_receive, validate_visibility, OutgoingMessage, Queue, QueueDepth, QueueError,
    QueueSpec, ReceivedMessage, DEDUP_WINDOW,
};
use async_trait::async_trait;
use mostrador_core::Clock;
use mostrador_store::sqlite::{queue_place, Database, RowKey};
use mostrador_store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, OnceCell};

/// How often a long-polling receive looks at the database again when no send wakes it.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Rows read per step of a receive.
const PAGE: i64 = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    group_id TEXT,
    sent_at_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dead INTEGER NOT NULL DEFAULT 0,
    dead_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, dead, visible_at_ms, seq);
CREATE INDEX IF NOT EXISTS queue_messages_order ON queue_messages (queue, dead, seq);
CREATE INDEX IF NOT EXISTS queue_messages_group ON queue_messages (queue, group_id, visible_at_ms)
    WHERE dead = 0 AND group_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt)
    WHERE receipt IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_dedup_expiry ON queue_dedup (queue, expires_at_ms);
";

const COLUMNS: &str = "seq, message_id, body, group_id, sent_at_ms, visible_at_ms, receive_count";

/// A queue (and its dead-letter queue) in the embedded SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: Database,
    spec: QueueSpec,
    clock: Arc<dyn Clock>,
    /// Wakes long-polling receives of this handle (and its clones) when a message becomes visible.
    wake: Arc<Notify>,
    /// Set once the queue tables exist in `db`.
    schema: Arc<OnceCell<()>>,
}

/// The state of one embedded queue, for `mostrador check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueHealth {
    pub queue: String,
    /// Ready to be received now.
    pub ready: u64,
    /// Sent with a delay (or backing off) that has not run out.
    pub delayed: u64,
    /// Received and held by a consumer.
    pub in_flight: u64,
    /// In the dead-letter queue: failed `max_receives` times; need a person.
    pub dead: u64,
    /// Live messages received `max_receives` times or more: the next receive moves them to the
    /// dead-letter queue.
    pub exhausted: u64,
    /// Bodies that are not JSON (every body mostrador sends is).
    pub unreadable: u64,
    /// Milliseconds the oldest ready message has waited.
    pub oldest_ready_ms: Option<i64>,
}

impl SqliteQueue {
    /// Makes every live message visible now, delayed or held ones included; for moving the queue
    /// to another engine with the stack stopped. Returns how many changed.
    pub async fn make_visible_now(&self) -> Result<u64, QueueError> {
        let queue = self.spec.name.clone();
        let now = self.clock.now_ms();
        let changed = self
            .run(move |conn| {
                conn.execute(
                    "UPDATE queue_messages SET visible_at_ms = ?2, leased = 0
                     WHERE queue = ?1 AND dead = 0 AND visible_at_ms > ?2",
                    params![queue, now],
                )
                .map_err(sql)
            })
            .await?;
        Ok(changed as u64)
    }

    /// Counts what [`QueueHealth`] reports, judged at the clock's now.
    pub async fn health(&self) -> Result<QueueHealth, QueueError> {
        let queue = self.spec.name.clone();
        let max = i64::from(self.spec.max_receives);
        let now = self.clock.now_ms();
        let rows = self.db.row_key().clone();
        self.run(move |conn| {
            let count = |query: &str, args: &[&dyn rusqlite::ToSql]| -> Result<u64, StoreError> {
                conn.query_row(query, args, |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(sql)
            };
            let ready = count(
                "SELECT count(*) FROM queue_messages WHERE queue = ?1 AND dead = 0 AND visible_at_ms <= ?2",
                &[&queue, &now],
            )?;
            let delayed = count(
                "SELECT count(*) FROM queue_messages
                 WHERE queue = ?1 AND dead = 0 AND leased = 0 AND visible_at_ms > ?2",
                &[&queue, &now],
            )?;
            let in_flight = count(
                "SELECT count(*) FROM queue_messages
                 WHERE queue = ?1 AND dead = 0 AND leased = 1 AND visible_at_ms > ?2",
                &[&queue, &now],
            )?;
            let dead = count(
                "SELECT count(*) FROM queue_messages WHERE queue = ?1 AND dead = 1",
                &[&queue],
            )?;
            let exhausted = count(
                "SELECT count(*) FROM queue_messages
                 WHERE queue = ?1 AND dead = 0 AND ?2 > 0 AND receive_count >= ?2",
                &[&queue, &max],
            )?;
            let mut unreadable = 0;
            let mut stmt = conn
                .prepare("SELECT body FROM queue_messages WHERE queue = ?1")
                .map_err(sql)?;
            let mut bodies = stmt.query(params![queue]).map_err(sql)?;
            while let Some(row) = bodies.next().map_err(sql)? {
                let body = row.get_ref(0).map_err(sql)?;
                let json = rows
                    .open(&queue_place(&queue), body)
                    .ok()
                    .filter(|b| serde_json::from_str::<serde::de::IgnoredAny>(b).is_ok());
                if json.is_none() {
                    unreadable += 1;
                }
            }
            drop(bodies);
            drop(stmt);
            let oldest: Option<i64> = conn
                .query_row(
                    "SELECT min(visible_at_ms) FROM queue_messages WHERE queue = ?1 AND dead = 0 AND visible_at_ms <= ?2",
                    params![queue, now],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            Ok(QueueHealth {
                queue,
                ready,
                delayed,
                in_flight,
                dead,
                exhausted,
                unreadable,
                oldest_ready_ms: oldest.map(|t| now.saturating_sub(t)),
            })
        })
        .await
    }
}

impl SqliteQueue {
    /// The queue `spec.name` in `db`, with visibility, delays and dedup windows judged by `clock`.
    /// Several queues (different names) share one database.
    pub fn new(db: Database, spec: QueueSpec, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            spec,
            clock,
            wake: Arc::new(Notify::new()),
            schema: Arc::new(OnceCell::new()),
        }
    }

    /// Runs `f` on the database once the queue tables exist.
    async fn run<T, F>(&self, f: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let rows = self.db.row_key().clone();
        self.schema
            .get_or_try_init(|| self.db.call(move |conn| init_schema(conn, &rows)))
            .await
            .map_err(store_error)?;
        // Committed with the table's writes that arrive meanwhile (see Database::write).
        self.db.write(f).await.map_err(store_error)
    }

    /// One receive attempt, without waiting.
    async fn receive_now(
        &self,
        max: u32,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let spec = self.spec.clone();
        let now = self.clock.now_ms();
        let visible_at = now.saturating_add(millis(visibility));
        let rows = self.db.row_key().clone();
        let (received, redriven) = self
            .run(move |conn| receive_batch(conn, &rows, &spec, max as usize, now, visible_at))
            .await?;
        for message_id in &redriven {
            tracing::warn!(
                queue = %self.spec.name,
                message_id = %message_id,
                "message moved to the dead-letter queue"
            );
        }
        Ok(received)
    }
}

/// Creates the tables, adds `leased` to files made before it existed (1 while a message is
/// hidden by a receive, 0 while it is hidden by a deliberate delay), and seals the bodies an
/// earlier version stored in clear.
fn init_schema(conn: &mut Connection, rows: &RowKey) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA).map_err(sql)?;
    let has_leased: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('queue_messages') WHERE name = 'leased'",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    if has_leased == 0 {
        conn.execute_batch(
            "ALTER TABLE queue_messages ADD COLUMN leased INTEGER NOT NULL DEFAULT 0",
        )
        .map_err(sql)?;
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let clear: Vec<(i64, String, String)> = {
        let mut stmt = tx
            .prepare("SELECT seq, queue, body FROM queue_messages WHERE typeof(body) = 'text'")
            .map_err(sql)?;
        let found = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql)?;
        found.collect::<Result<_, _>>().map_err(sql)?
    };
    for (seq, queue, body) in &clear {
        let sealed = rows.seal(&queue_place(queue), body.as_bytes())?;
        tx.execute(
            "UPDATE queue_messages SET body = ?2 WHERE seq = ?1",
            params![seq, sealed],
        )
        .map_err(sql)?;
    }
    tx.commit().map_err(sql)
}

fn sql(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(format!("database busy: {f}"))
        }
        other => StoreError::Internal(other.to_string()),
    }
}

fn store_error(e: StoreError) -> QueueError {
    match e {
        StoreError::Unavailable(m) => QueueError::Unavailable(m),
        other => QueueError::Internal(other.to_string()),
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A live message as stored.
struct Stored {
    seq: i64,
    message_id: String,
    /// Sealed (or, from an earlier version, in clear); opened only when handed out.
    body: rusqlite::types::Value,
    group_id: Option<String>,
    sent_at_ms: i64,
    visible_at_ms: i64,
    receive_count: u32,
}

impl Stored {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get(0)?,
            message_id: r.get(1)?,
            body: r.get(2)?,
            group_id: r.get(3)?,
            sent_at_ms: r.get(4)?,
            visible_at_ms: r.get(5)?,
            receive_count: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(u32::MAX),
        })
    }

    fn into_received(
        self,
        rows: &RowKey,
        queue: &str,
        receipt: String,
        receive_count: u32,
    ) -> Result<ReceivedMessage, StoreError> {
        let body = rows.open(&queue_place(queue), (&self.body).into())?;
        Ok(ReceivedMessage {
            message_id: self.message_id,
            receipt,
            body,
            group_id: self.group_id,
            receive_count,
            sent_at_ms: self.sent_at_ms,
        })
    }
}

/// The next live messages of a FIFO queue in send order (in-flight ones included), after `after_seq`.
fn fifo_page(conn: &Connection, queue: &str, after_seq: i64) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM queue_messages
             WHERE queue = ?1 AND dead = 0 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![queue, after_seq, PAGE], Stored::from_row)
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

/// The next visible messages of a standard queue, by the time they became visible, after `after`.
fn ready_page(
    conn: &Connection,
    queue: &str,
    now: i64,
    after: (i64, i64),
) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM queue_messages
             WHERE queue = ?1 AND dead = 0 AND visible_at_ms <= ?2 AND (visible_at_ms, seq) > (?3, ?4)
             ORDER BY visible_at_ms, seq LIMIT ?5"
        ))
        .map_err(sql)?;
    let rows = stmt
        .query_map(
            params![queue, now, after.0, after.1, PAGE],
            Stored::from_row,
        )
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

/// Whether a FIFO group has a message in flight.
fn group_in_flight(
    conn: &Connection,
    queue: &str,
    group: &str,
    now: i64,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT 1 FROM queue_messages
         WHERE queue = ?1 AND group_id = ?2 AND dead = 0 AND visible_at_ms > ?3 LIMIT 1",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![queue, group, now], |_| Ok(()))
            .optional()
    })
    .map(|found| found.is_some())
    .map_err(sql)
}

/// Hands out up to `max` messages, hiding them until `visible_at`; moves exhausted messages to the
/// dead-letter queue on the way. Returns the batch and the ids of the messages moved.
fn receive_batch(
    tx: &Connection,
    rows: &RowKey,
    spec: &QueueSpec,
    max: usize,
    now: i64,
    visible_at: i64,
) -> Result<(Vec<ReceivedMessage>, Vec<String>), StoreError> {
    let mut batch = Vec::new();
    let mut redriven = Vec::new();
    // FIFO: whether each group met so far may give out messages in this batch. Decided once, on the
    // group's first message, so that messages handed out earlier in this batch do not block the rest.
    let mut open_groups: HashMap<String, bool> = HashMap::new();
    let mut after = (i64::MIN, 0_i64);
    'pages: loop {
        let page = if spec.fifo {
            fifo_page(tx, &spec.name, after.1)?
        } else {
            ready_page(tx, &spec.name, now, after)?
        };
        let exhausted = (page.len() as i64) < PAGE;
        for message in page {
            after = (message.visible_at_ms, message.seq);
            if spec.fifo {
                let group = message.group_id.clone().unwrap_or_default();
                let open = match open_groups.get(&group) {
                    Some(open) => *open,
                    None => {
                        let open = !group_in_flight(tx, &spec.name, &group, now)?;
                        open_groups.insert(group, open);
                        open
                    }
                };
                if !open {
                    continue;
                }
            }
            if message.visible_at_ms > now {
                continue;
            }
            if spec.max_receives > 0 && message.receive_count >= spec.max_receives {
                tx.execute(
                    "UPDATE queue_messages SET dead = 1, dead_at_ms = ?2, receipt = NULL WHERE seq = ?1",
                    params![message.seq, now],
                )
                .map_err(sql)?;
                redriven.push(message.message_id);
                continue;
            }
            let receipt = uuid::Uuid::new_v4().simple().to_string();
            let count = message.receive_count.saturating_add(1);
            tx.execute(
                "UPDATE queue_messages SET receive_count = ?2, visible_at_ms = ?3, receipt = ?4, leased = 1
                 WHERE seq = ?1",
                params![message.seq, count, visible_at, receipt],
            )
            .map_err(sql)?;
            batch.push(message.into_received(rows, &spec.name, receipt, count)?);
            if batch.len() >= max {
                break 'pages;
            }
        }
        if exhausted {
            break;
        }
    }
    Ok((batch, redriven))
}

/// Stores a message; for FIFO, a dedup id seen within the window returns the first message's id.
#[allow(clippy::too_many_arguments)]
fn insert(
    tx: &Connection,
    rows: &RowKey,
    queue: &str,
    message: &OutgoingMessage,
    dedup_id: Option<&str>,
    message_id: &str,
    now: i64,
    visible_at: i64,
) -> Result<String, StoreError> {
    if let Some(dedup_id) = dedup_id {
        tx.execute(
            "DELETE FROM queue_dedup WHERE queue = ?1 AND expires_at_ms <= ?2",
            params![queue, now],
        )
        .map_err(sql)?;
        let first: Option<String> = tx
            .query_row(
                "SELECT message_id FROM queue_dedup WHERE queue = ?1 AND dedup_id = ?2",
                params![queue, dedup_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(first) = first {
            return Ok(first);
        }
        tx.execute(
            "INSERT INTO queue_dedup (queue, dedup_id, message_id, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![queue, dedup_id, message_id, now.saturating_add(millis(DEDUP_WINDOW))],
        )
        .map_err(sql)?;
    }
    tx.execute(
        "INSERT INTO queue_messages (queue, message_id, body, group_id, sent_at_ms, visible_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            queue,
            message_id,
            rows.seal(&queue_place(queue), message.body.as_bytes())?,
            message.group_id,
            now,
            visible_at
        ],
    )
    .map_err(sql)?;
    Ok(message_id.to_owned())
}

/// Moves up to `max` dead letters, oldest first, to the back of the queue with a fresh receive count.
/// Message id, body, group and send time are kept.
fn replay(tx: &Connection, queue: &str, max: u32, now: i64) -> Result<u32, StoreError> {
    let seqs: Vec<i64> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT seq FROM queue_messages WHERE queue = ?1 AND dead = 1 ORDER BY seq LIMIT ?2",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![queue, max], |r| r.get(0))
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)?
    };
    for seq in &seqs {
        // A new row (new seq) puts the message behind everything already queued, as a re-send would.
        tx.execute(
            "INSERT INTO queue_messages (queue, message_id, body, group_id, sent_at_ms, visible_at_ms)
             SELECT queue, message_id, body, group_id, sent_at_ms, ?2 FROM queue_messages WHERE seq = ?1",
            params![seq, now],
        )
        .map_err(sql)?;
        tx.execute("DELETE FROM queue_messages WHERE seq = ?1", params![seq])
            .map_err(sql)?;
    }
    Ok(u32::try_from(seqs.len()).unwrap_or(u32::MAX))
}

#[async_trait]
impl Queue for SqliteQueue {
    fn spec(&self) -> &QueueSpec {
        &self.spec
    }

    async fn send(&self, message: OutgoingMessage) -> Result<String, QueueError> {
        message.validate(&self.spec)?;
        let now = self.clock.now_ms();
        let dedup_id = self.spec.fifo.then(|| message.dedup_id_or_body_hash());
        let delay = if self.spec.fifo {
            Duration::ZERO
        } else {
            message.delay.unwrap_or_default()
        };
        let visible_at = now.saturating_add(millis(delay));
        let queue = self.spec.name.clone();
        let message_id = uuid::Uuid::new_v4().to_string();
        let rows = self.db.row_key().clone();
        let id = self
            .run(move |conn| {
                insert(
                    conn,
                    &rows,
                    &queue,
                    &message,
                    dedup_id.as_deref(),
                    &message_id,
                    now,
                    visible_at,
                )
            })
            .await?;
        if delay.is_zero() {
            self.wake.notify_waiters();
        }
        Ok(id)
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Vec<Result<String, QueueError>> {
        let now = self.clock.now_ms();
        let fifo = self.spec.fifo;
        // Checked first: a message the queue refuses is answered without touching the file.
        let mut results: Vec<Option<Result<String, QueueError>>> = Vec::new();
        let mut accepted = Vec::new();
        let mut any_now = false;
        for message in messages {
            if let Err(e) = message.validate(&self.spec) {
                results.push(Some(Err(e)));
                continue;
            }
            let dedup_id = fifo.then(|| message.dedup_id_or_body_hash());
            let delay = if fifo {
                Duration::ZERO
            } else {
                message.delay.unwrap_or_default()
            };
            any_now |= delay.is_zero();
            let visible_at = now.saturating_add(millis(delay));
            let message_id = uuid::Uuid::new_v4().to_string();
            results.push(None);
            accepted.push((message, dedup_id, message_id, visible_at));
        }
        if accepted.is_empty() {
            return results.into_iter().flatten().collect();
        }
        let queue = self.spec.name.clone();
        let rows = self.db.row_key().clone();
        let count = accepted.len();
        let stored = self
            .run(move |tx| {
                let mut ids = Vec::with_capacity(accepted.len());
                for (message, dedup_id, message_id, visible_at) in &accepted {
                    ids.push(insert(
                        tx,
                        &rows,
                        &queue,
                        message,
                        dedup_id.as_deref(),
                        message_id,
                        now,
                        *visible_at,
                    )?);
                }
                Ok(ids)
            })
            .await;
        if any_now && stored.is_ok() {
            self.wake.notify_waiters();
        }
        // One commit: every message stored, or (the commit failed) none.
        let outcomes: Vec<Result<String, QueueError>> = match stored {
            Ok(ids) => ids.into_iter().map(Ok).collect(),
            Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
        };
        let mut outcomes = outcomes.into_iter();
        results
            .into_iter()
            .map(|r| {
                r.or_else(|| outcomes.next()).unwrap_or_else(|| {
                    Err(QueueError::Internal(
                        "a batch answered too few results".into(),
                    ))
                })
            })
            .collect()
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max, visibility, wait)?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so a send during the attempt still wakes the wait below.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let batch = self.receive_now(max, visibility).await?;
            let now = tokio::time::Instant::now();
            if !batch.is_empty() || now >= deadline {
                return Ok(batch);
            }
            let nap = POLL_INTERVAL.min(deadline - now);
            let _ = tokio::time::timeout(nap, woken).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let queue = self.spec.name.clone();
        let receipt = receipt.to_owned();
        let deleted = self
            .run(move |conn| {
                conn.execute(
                    "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2 AND dead = 0",
                    params![queue, receipt],
                )
                .map_err(sql)
            })
            .await?;
        if deleted == 0 {
            return Err(QueueError::StaleReceipt);
        }
        // A delete may unblock a FIFO group.
        self.wake.notify_waiters();
        Ok(())
    }

    async fn delete_batch(&self, receipts: Vec<String>) -> Vec<Result<(), QueueError>> {
        if receipts.is_empty() {
            return Vec::new();
        }
        let queue = self.spec.name.clone();
        let count = receipts.len();
        let deleted = self
            .run(move |tx| {
                let mut deleted = Vec::with_capacity(receipts.len());
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2 AND dead = 0",
                        )
                        .map_err(sql)?;
                    for receipt in &receipts {
                        deleted.push(stmt.execute(params![queue, receipt]).map_err(sql)? > 0);
                    }
                }
                Ok(deleted)
            })
            .await;
        match deleted {
            Ok(deleted) => {
                // A delete may unblock a FIFO group.
                self.wake.notify_waiters();
                deleted
                    .into_iter()
                    .map(|d| {
                        if d {
                            Ok(())
                        } else {
                            Err(QueueError::StaleReceipt)
                        }
                    })
                    .collect()
            }
            Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
        }
    }

    async fn recover_after_restart(&self) -> Result<u64, QueueError> {
        let queue = self.spec.name.clone();
        let now = self.clock.now_ms();
        let recovered = self
            .run(move |conn| {
                conn.execute(
                    "UPDATE queue_messages SET visible_at_ms = ?2, leased = 0
                     WHERE queue = ?1 AND dead = 0 AND leased = 1 AND visible_at_ms > ?2",
                    params![queue, now],
                )
                .map_err(sql)
            })
            .await?;
        if recovered > 0 {
            self.wake.notify_waiters();
        }
        Ok(recovered as u64)
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        validate_visibility(timeout)?;
        let queue = self.spec.name.clone();
        let receipt = receipt.to_owned();
        let visible_at = self.clock.now_ms().saturating_add(millis(timeout));
        let changed = self
            .run(move |conn| {
                conn.execute(
                    "UPDATE queue_messages SET visible_at_ms = ?3, leased = 0
                     WHERE queue = ?1 AND receipt = ?2 AND dead = 0",
                    params![queue, receipt, visible_at],
                )
                .map_err(sql)
            })
            .await?;
        if changed == 0 {
            return Err(QueueError::StaleReceipt);
        }
        if timeout.is_zero() {
            self.wake.notify_waiters();
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        receipt: &str,
        _body: &str,
        _group_id: Option<&str>,
    ) -> Result<(), QueueError> {
        let queue = self.spec.name.clone();
        let receipt = receipt.to_owned();
        let now = self.clock.now_ms();
        let moved = self
            .run(move |conn| {
                conn.execute(
                    "UPDATE queue_messages SET dead = 1, dead_at_ms = ?3
                     WHERE queue = ?1 AND receipt = ?2 AND dead = 0",
                    params![queue, receipt, now],
                )
                .map_err(sql)
            })
            .await?;
        if moved == 0 {
            return Err(QueueError::StaleReceipt);
        }
        // Its FIFO group is free again.
        self.wake.notify_waiters();
        Ok(())
    }

    /// Dead letters oldest first; their receipt is empty (they cannot be deleted through the port) and
    /// their receive count is the one they died with.
    async fn dead_letters(&self, max: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        let queue = self.spec.name.clone();
        let rows_key = self.db.row_key().clone();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM queue_messages
                         WHERE queue = ?1 AND dead = 1 ORDER BY seq LIMIT ?2"
                ))
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![queue, max], Stored::from_row)
                .map_err(sql)?;
            let mut out = Vec::new();
            for row in rows {
                let stored = row.map_err(sql)?;
                let count = stored.receive_count;
                out.push(stored.into_received(&rows_key, &queue, String::new(), count)?);
            }
            Ok(out)
        })
        .await
    }

    async fn replay_dead_letters(&self, max: u32) -> Result<u32, QueueError> {
        let queue = self.spec.name.clone();
        let now = self.clock.now_ms();
        let moved = self.run(move |conn| replay(conn, &queue, max, now)).await?;
        if moved > 0 {
            tracing::info!(queue = %self.spec.name, moved, "dead letters replayed");
            self.wake.notify_waiters();
        }
        Ok(moved)
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let queue = self.spec.name.clone();
        let now = self.clock.now_ms();
        self.run(move |conn| {
            conn.query_row(
                "SELECT
                        COALESCE(SUM(dead = 0 AND visible_at_ms <= ?2), 0),
                        COALESCE(SUM(dead = 0 AND visible_at_ms > ?2 AND receive_count > 0), 0),
                        COALESCE(SUM(dead = 1), 0)
                     FROM queue_messages WHERE queue = ?1",
                params![queue, now],
                |r| {
                    let count =
                        |i: usize| r.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
                    Ok(QueueDepth {
                        visible: count(0)?,
                        in_flight: count(1)?,
                        dead: count(2)?,
                    })
                },
            )
            .map_err(sql)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mostrador_core::FixedClock;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const HIDDEN: Duration = Duration::from_secs(30);

    fn clock() -> FixedClock {
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .unwrap_or_default();
        FixedClock::at(start)
    }

    fn queue(db: &Database, spec: QueueSpec, clock: &FixedClock) -> SqliteQueue {
        SqliteQueue::new(db.clone(), spec, Arc::new(clock.clone()))
    }

    async fn receive(q: &SqliteQueue, max: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        q.receive(max, HIDDEN, Duration::ZERO).await
    }

    #[tokio::test]
    async fn health_counts_ready_held_delayed_dead_and_unreadable_messages() -> TestResult {
        let clock = clock();
        let db = Database::in_memory()?;
        let q = queue(
            &db,
            QueueSpec {
                max_receives: 2,
                ..QueueSpec::standard("outbound")
            },
            &clock,
        );
        for body in [r#"{"a":1}"#, r#"{"b":2}"#, "not json", r#"{"c":3}"#] {
            q.send(OutgoingMessage::new(body)).await?;
        }
        let got = q.receive(2, HIDDEN, Duration::ZERO).await?;
        assert_eq!(got.len(), 2);
        q.change_visibility(&got[1].receipt, Duration::from_secs(300))
            .await?;
        clock.advance(chrono::Duration::seconds(5));
        let h = q.health().await?;
        assert_eq!(
            (h.queue.as_str(), h.ready, h.in_flight, h.unreadable, h.dead),
            ("outbound", 2, 1, 1, 0)
        );
        assert_eq!(h.oldest_ready_ms, Some(5_000));
        // Twice received and back: the next receive redrives it.
        clock.advance(chrono::Duration::seconds(31));
        let again = q.receive(10, HIDDEN, Duration::ZERO).await?;
        assert!(!again.is_empty());
        clock.advance(chrono::Duration::seconds(31));
        let h = q.health().await?;
        assert!(h.exhausted >= 1, "{h:?}");
        Ok(())
    }

    #[tokio::test]
    async fn a_restart_releases_what_the_dead_process_held_but_not_delayed_retries() -> TestResult {
        let clock = clock();
        let db = Database::in_memory()?;
        let q = queue(&db, QueueSpec::standard("invoicing"), &clock);
        q.send(OutgoingMessage::new("held")).await?;
        q.send(OutgoingMessage::new("delayed")).await?;
        let got = receive(&q, 10).await?;
        assert_eq!(got.len(), 2);
        let delayed = got.iter().find(|m| m.body == "delayed").ok_or("delayed")?;
        q.change_visibility(&delayed.receipt, Duration::from_secs(300))
            .await?;
        // The process died here; a new one opens the same queue.
        let after = queue(&db, QueueSpec::standard("invoicing"), &clock);
        assert_eq!(after.recover_after_restart().await?, 1);
        let again = receive(&after, 10).await?;
        let bodies: Vec<&str> = again.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["held"], "at once, not after the 30 s lease");
        after.delete(&again[0].receipt).await?;
        assert!(
            receive(&after, 10).await?.is_empty(),
            "nothing else before the delay"
        );
        clock.advance(chrono::Duration::seconds(301));
        let bodies: Vec<_> = receive(&after, 10)
            .await?
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, ["delayed"], "the delay is kept");
        Ok(())
    }

    #[tokio::test]
    async fn dedup_id_is_remembered_for_five_minutes_even_after_delete() -> TestResult {
        let clock = clock();
        let q = queue(&Database::in_memory()?, QueueSpec::fifo("inbound"), &clock);
        let first = q
            .send(OutgoingMessage::new("a").group("g").dedup("wamid.1"))
            .await?;
        let received = receive(&q, 10).await?;
        q.delete(&received[0].receipt).await?;

        clock.advance(chrono::Duration::seconds(299));
        let duplicate = q
            .send(OutgoingMessage::new("b").group("g").dedup("wamid.1"))
            .await?;
        assert_eq!(duplicate, first, "a duplicate gets the first send's id");
        assert_eq!(q.depth().await?, QueueDepth::default());

        clock.advance(chrono::Duration::seconds(1));
        let fresh = q
            .send(OutgoingMessage::new("c").group("g").dedup("wamid.1"))
            .await?;
        assert_ne!(fresh, first);
        let bodies: Vec<_> = receive(&q, 10).await?.into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, ["c"]);
        Ok(())
    }

    #[tokio::test]
    async fn content_hash_dedups_only_fifo_queues() -> TestResult {
        let clock = clock();
        let db = Database::in_memory()?;
        let fifo = queue(&db, QueueSpec::fifo("outbound"), &clock);
        let standard = queue(&db, QueueSpec::standard("invoicing"), &clock);
        for _ in 0..2 {
            fifo.send(OutgoingMessage::new("same").group("g")).await?;
            standard.send(OutgoingMessage::new("same")).await?;
        }
        assert_eq!(fifo.depth().await?.visible, 1);
        assert_eq!(standard.depth().await?.visible, 2);
        Ok(())
    }

    #[tokio::test]
    async fn visibility_runs_out_on_the_clock_and_old_receipt_goes_stale() -> TestResult {
        let clock = clock();
        let q = queue(
            &Database::in_memory()?,
            QueueSpec::standard("invoicing"),
            &clock,
        );
        q.send(OutgoingMessage::new("x")).await?;
        let first = receive(&q, 1).await?.remove(0);

        clock.advance(chrono::Duration::seconds(29));
        assert!(receive(&q, 1).await?.is_empty());
        assert_eq!(
            q.depth().await?,
            QueueDepth {
                visible: 0,
                in_flight: 1,
                dead: 0
            }
        );

        clock.advance(chrono::Duration::seconds(1));
        let second = receive(&q, 1).await?.remove(0);
        assert_eq!(
            (second.message_id.as_str(), second.receive_count),
            (first.message_id.as_str(), 2)
        );
        assert!(matches!(
            q.delete(&first.receipt).await,
            Err(QueueError::StaleReceipt)
        ));
        assert!(matches!(
            q.change_visibility(&first.receipt, Duration::ZERO).await,
            Err(QueueError::StaleReceipt)
        ));
        q.delete(&second.receipt).await?;
        assert!(matches!(
            q.delete(&second.receipt).await,
            Err(QueueError::StaleReceipt)
        ));
        Ok(())
    }

    #[tokio::test]
    async fn latest_receipt_deletes_after_its_visibility_ran_out() -> TestResult {
        let clock = clock();
        let q = queue(
            &Database::in_memory()?,
            QueueSpec::standard("invoicing"),
            &clock,
        );
        q.send(OutgoingMessage::new("slow")).await?;
        let message = receive(&q, 1).await?.remove(0);
        clock.advance(chrono::Duration::minutes(5));
        q.delete(&message.receipt).await?;
        assert_eq!(q.depth().await?, QueueDepth::default());
        Ok(())
    }

    #[tokio::test]
    async fn delayed_message_appears_when_the_clock_passes_its_delay() -> TestResult {
        let clock = clock();
        let q = queue(
            &Database::in_memory()?,
            QueueSpec::standard("invoicing"),
            &clock,
        );
        q.send(OutgoingMessage::new("later").delay(Duration::from_secs(60)))
            .await?;
        assert!(receive(&q, 1).await?.is_empty());
        assert_eq!(
            q.depth().await?,
            QueueDepth::default(),
            "delayed messages are not counted"
        );
        clock.advance(chrono::Duration::seconds(60));
        assert_eq!(receive(&q, 1).await?.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn bodies_are_sealed_in_the_file_and_clear_ones_sealed_on_first_use() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("mostrador.db");
        let clock = clock();
        let rows = mostrador_store::sqlite::RowKey::with_secret([9; 32]);
        let words = r#"{"from":"5215598765432","text":"me vende 2 cajas de paracetamol porfa"}"#;
        {
            let db = Database::open(&path, rows.clone())?;
            let q = queue(&db, QueueSpec::standard("inbound"), &clock);
            q.send(OutgoingMessage::new(words)).await?;
            // A message an earlier version queued in clear, straight into the file.
            db.call(|conn| {
                conn.execute(
                    "INSERT INTO queue_messages (queue, message_id, body, sent_at_ms, visible_at_ms)
                     VALUES ('inbound', 'old', '{\"text\":\"receta de amoxicilina\"}', 0, 0)",
                    [],
                )
                .map_err(sql)
            })
            .await?;
        }
        let db = Database::open(&path, rows)?;
        let q = queue(&db, QueueSpec::standard("inbound"), &clock);
        assert_eq!(q.health().await?.unreadable, 0);
        let mut bodies: Vec<String> = receive(&q, 10).await?.into_iter().map(|m| m.body).collect();
        bodies.sort();
        assert_eq!(
            bodies,
            vec![
                words.to_owned(),
                r#"{"text":"receta de amoxicilina"}"#.to_owned()
            ]
        );
        db.call(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sql)
        })
        .await?;
        let file = std::fs::read(&path)?;
        for clear in ["5215598765432", "paracetamol", "amoxicilina"] {
            assert!(
                !file.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "{clear} in clear in the file"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn messages_survive_reopening_the_database_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("mostrador.db");
        let clock = clock();
        let rows = mostrador_store::sqlite::RowKey::with_secret([7; 32]);
        {
            let q = queue(
                &Database::open(&path, rows.clone())?,
                QueueSpec::fifo("inbound"),
                &clock,
            );
            q.send(OutgoingMessage::new("in flight").group("a")).await?;
            q.send(OutgoingMessage::new("waiting").group("a")).await?;
            q.send(OutgoingMessage::new("ready").group("b")).await?;
            let batch = q
                .receive(1, Duration::from_secs(60), Duration::ZERO)
                .await?;
            assert_eq!(batch[0].body, "in flight");
        }

        let q = queue(
            &Database::open(&path, rows)?,
            QueueSpec::fifo("inbound"),
            &clock,
        );
        assert_eq!(
            q.depth().await?,
            QueueDepth {
                visible: 2,
                in_flight: 1,
                dead: 0
            }
        );
        let ready = receive(&q, 10).await?;
        let bodies: Vec<_> = ready.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(
            bodies,
            ["ready"],
            "group a stays blocked by its in-flight message"
        );
        q.delete(&ready[0].receipt).await?;

        clock.advance(chrono::Duration::seconds(60));
        let batch = receive(&q, 10).await?;
        let seen: Vec<_> = batch
            .iter()
            .map(|m| (m.body.as_str(), m.receive_count))
            .collect();
        assert_eq!(seen, [("in flight", 2), ("waiting", 1)]);
        Ok(())
    }

    #[tokio::test]
    async fn fifo_batch_keeps_each_group_in_send_order() -> TestResult {
        let clock = clock();
        let q = queue(&Database::in_memory()?, QueueSpec::fifo("outbound"), &clock);
        for (body, group) in [
            ("x1", "x"),
            ("y1", "y"),
            ("x2", "x"),
            ("y2", "y"),
            ("x3", "x"),
        ] {
            q.send(OutgoingMessage::new(body).group(group)).await?;
        }
        let batch = receive(&q, 10).await?;
        let in_group = |g: &str| -> Vec<String> {
            batch
                .iter()
                .filter(|m| m.group_id.as_deref() == Some(g))
                .map(|m| m.body.clone())
                .collect()
        };
        assert_eq!(in_group("x"), ["x1", "x2", "x3"]);
        assert_eq!(in_group("y"), ["y1", "y2"]);
        Ok(())
    }

    #[tokio::test]
    async fn fifo_group_blocked_by_any_in_flight_message_of_it() -> TestResult {
        let clock = clock();
        let q = queue(&Database::in_memory()?, QueueSpec::fifo("outbound"), &clock);
        q.send(OutgoingMessage::new("1").group("g")).await?;
        q.send(OutgoingMessage::new("2").group("g")).await?;
        let batch = receive(&q, 10).await?;
        // The first is put back while the second is still being worked on.
        q.change_visibility(&batch[0].receipt, Duration::ZERO)
            .await?;
        assert!(receive(&q, 10).await?.is_empty());
        q.delete(&batch[1].receipt).await?;
        let again = receive(&q, 10).await?;
        assert_eq!(
            again.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["1"]
        );
        Ok(())
    }

    #[tokio::test]
    async fn redrive_after_max_receives_then_replay_to_the_back_of_the_group() -> TestResult {
        let clock = clock();
        let spec = QueueSpec {
            max_receives: 2,
            ..QueueSpec::fifo("inbound")
        };
        let q = queue(&Database::in_memory()?, spec, &clock);
        let poison = q.send(OutgoingMessage::new("poison").group("g")).await?;
        q.send(OutgoingMessage::new("next").group("g")).await?;
        for _ in 0..2 {
            let head = receive(&q, 1).await?.remove(0);
            assert_eq!(head.body, "poison");
            q.change_visibility(&head.receipt, Duration::ZERO).await?;
        }
        // The third receive moves the poison message and goes on with the group.
        let next = receive(&q, 10).await?;
        assert_eq!(
            next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["next"]
        );
        let dead = q.dead_letters(10).await?;
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (
                dead[0].message_id.as_str(),
                dead[0].group_id.as_deref(),
                dead[0].receive_count
            ),
            (poison.as_str(), Some("g"), 2)
        );
        assert!(dead[0].receipt.is_empty());

        q.send(OutgoingMessage::new("later").group("g")).await?;
        q.delete(&next[0].receipt).await?;
        assert_eq!(q.replay_dead_letters(10).await?, 1);
        let order: Vec<_> = receive(&q, 10)
            .await?
            .into_iter()
            .map(|m| (m.body, m.receive_count))
            .collect();
        assert_eq!(order, [("later".to_owned(), 1), ("poison".to_owned(), 1)]);
        assert_eq!(q.depth().await?.dead, 0);
        Ok(())
    }

    #[tokio::test]
    async fn zero_max_receives_never_redrives() -> TestResult {
        let clock = clock();
        let spec = QueueSpec {
            max_receives: 0,
            ..QueueSpec::standard("invoicing")
        };
        let q = queue(&Database::in_memory()?, spec, &clock);
        q.send(OutgoingMessage::new("forever")).await?;
        for attempt in 1..=10 {
            let message = receive(&q, 1).await?.remove(0);
            assert_eq!(message.receive_count, attempt);
            q.change_visibility(&message.receipt, Duration::ZERO)
                .await?;
        }
        assert_eq!(q.depth().await?.dead, 0);
        Ok(())
    }

    #[tokio::test]
    async fn queues_sharing_a_database_do_not_see_each_other() -> TestResult {
        let clock = clock();
        let db = Database::in_memory()?;
        let inbound = queue(&db, QueueSpec::fifo("inbound"), &clock);
        let outbound = queue(&db, QueueSpec::fifo("outbound"), &clock);
        inbound
            .send(OutgoingMessage::new("hola").group("g"))
            .await?;
        assert!(receive(&outbound, 10).await?.is_empty());
        assert_eq!(outbound.depth().await?, QueueDepth::default());
        let message = receive(&inbound, 10).await?.remove(0);
        assert!(matches!(
            outbound.delete(&message.receipt).await,
            Err(QueueError::StaleReceipt)
        ));
        inbound.delete(&message.receipt).await?;
        Ok(())
    }

    #[tokio::test]
    async fn long_poll_wakes_up_on_send() -> TestResult {
        let clock = clock();
        let q = queue(
            &Database::in_memory()?,
            QueueSpec::standard("invoicing"),
            &clock,
        );
        let sender = q.clone();
        let send = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sender.send(OutgoingMessage::new("now")).await
        });
        let started = std::time::Instant::now();
        let batch = q.receive(1, HIDDEN, Duration::from_secs(5)).await?;
        send.await??;
        assert_eq!(batch.len(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "waited {:?}",
            started.elapsed()
        );
        Ok(())
    }

    #[tokio::test]
    async fn receive_arguments_outside_sqs_limits_rejected() -> TestResult {
        let clock = clock();
        let q = queue(
            &Database::in_memory()?,
            QueueSpec::standard("invoicing"),
            &clock,
        );
        for (max, visibility, wait) in [
            (0, HIDDEN, Duration::ZERO),
            (11, HIDDEN, Duration::ZERO),
            (1, Duration::from_secs(12 * 3600 + 1), Duration::ZERO),
            (1, HIDDEN, Duration::from_secs(21)),
        ] {
            let result = q.receive(max, visibility, wait).await;
            assert!(
                matches!(result, Err(QueueError::Invalid(_))),
                "{max} {visibility:?} {wait:?}"
            );
        }
        Ok(())
    }
}
