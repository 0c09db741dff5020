//! The embedded engine: one SQLite file in WAL mode holding the table (and, through
//! [`Database::call`], the durable queues of `mostrador-queue`).

use crate::table::{
    cursor, key_attrs, validate_transaction, CancelReason, Condition, Index, Item, Key, Page,
    Query, SortKey, StoreError, Table, TxOp, Update, Value, GSI1PK, GSI1SK, PK, SK,
};
use async_trait::async_trait;
use mostrador_core::Clock;
use rusqlite::{params, Connection, TransactionBehavior};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

mod rows;
pub use rows::{queue_place, RowKey};

/// A handle on the embedded SQLite file, shared by every embedded engine of one process.
#[derive(Clone)]
pub struct Database {
    /// The thread that owns the one connection that writes (and, in memory, also reads): every
    /// job goes to it through this channel.
    writer: std::sync::mpsc::Sender<Job>,
    /// The threads that own the connections that only read, beside the writer (files only):
    /// every read goes to them through this channel.
    readers: Option<std::sync::mpsc::Sender<ReadJob>>,
    /// Keeps the checkpoint thread going (files only): it stops when the last handle is gone.
    checkpoints: Option<Arc<std::sync::mpsc::Sender<()>>>,
    /// What every row's attributes (and queue bodies) are sealed with.
    rows: RowKey,
}

/// A write waiting for the connection: run (inside its own savepoint of the shared transaction,
/// or not at all when the transaction could not begin), it gives back how to answer its caller
/// once the commit's fate is known.
type WriteJob = Box<dyn FnOnce(Result<&Connection, &str>) -> Deliver + Send>;

/// Answers a write's caller: `None` when the commit succeeded, else why it failed.
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;

/// What the writer thread runs.
enum Job {
    /// Committed with the other writes waiting at the same time.
    Write(WriteJob),
    /// Run alone, outside any transaction.
    Exclusive(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// Most writes committed together (a bound on how long the first of them waits for its answer).
const WRITES_PER_COMMIT: usize = 256;

/// How often the checkpoint thread copies what the log holds back into the file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Log pages after which the writer checkpoints itself (SQLite's default is 1,000): only if the
/// checkpoint thread falls behind.
const WRITER_CHECKPOINT_PAGES: i64 = 10_000;

/// Starts the thread that checkpoints the file at `path` every [`CHECKPOINT_EVERY`] with its own
/// connection (PASSIVE: it never waits for, nor holds up, the writer or the readers); it stops
/// when the returned sender and its clones are gone.
fn start_checkpoints(path: &Path) -> Result<std::sync::mpsc::Sender<()>, StoreError> {
    let conn = Connection::open(path).map_err(sql_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql_err)?;
    let (keep, stop) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("db-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stop.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "checkpoint failed; the writer checkpoints if the log grows");
                }
            }
        })
        .map_err(|e| StoreError::Internal(format!("starting the checkpoint thread: {e}")))?;
    Ok(keep)
}

/// How many read-only connections a database file gets: reads run beside the writer and beside
/// each other (WAL shows every reader all committed writes, never half a transaction), so a get
/// never waits behind a queue of writes.
const READERS: usize = 4;

/// The settings of every connection on the file: the undo pages of a savepoint (each write has its
/// own, see [`Database::write`]) and temporary sorts kept in memory instead of temporary files
/// (measured: the writer thread spends a sixth less time per write).
fn tune(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql_err)
}

/// A read waiting for a reader connection; it answers its caller itself.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Most reads a reader thread answers from one snapshot of the file.
const READS_PER_SNAPSHOT: usize = 64;

/// Starts [`READERS`] threads, each with a read-only connection on the file at `path`, taking
/// reads from one channel; they stop (closing their connections) when every sender is gone.
fn start_readers(path: &Path) -> Result<std::sync::mpsc::Sender<ReadJob>, StoreError> {
    let (jobs, waiting) = std::sync::mpsc::channel::<ReadJob>();
    let waiting = Arc::new(Mutex::new(waiting));
    for i in 0..READERS {
        let reader = Connection::open(path).map_err(sql_err)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql_err)?;
        tune(&reader)?;
        // A reader that tried to write would be a bug: SQLite refuses it.
        reader
            .pragma_update(None, "query_only", "ON")
            .map_err(sql_err)?;
        let waiting = waiting.clone();
        std::thread::Builder::new()
            .name(format!("db-reader-{i}"))
            .spawn(move || run_reader(reader, &waiting))
            .map_err(|e| StoreError::Internal(format!("starting a database reader: {e}")))?;
    }
    Ok(jobs)
}

/// A reader thread: takes every read waiting (up to [`READS_PER_SNAPSHOT`]) and answers them from
/// one read transaction begun after they were all asked for, so each sees every write committed
/// before it was asked, and the pages the first read brings in serve the others (SQLite drops a
/// connection's cached pages whenever another connection has written since its last transaction).
fn run_reader(conn: Connection, waiting: &Mutex<std::sync::mpsc::Receiver<ReadJob>>) {
    loop {
        let batch = {
            let queue = waiting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let Ok(first) = queue.recv() else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < READS_PER_SNAPSHOT {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        // Without the shared transaction (it could not begin) each read takes its own.
        let shared = conn.execute_batch("BEGIN").is_ok();
        for job in batch {
            // A read that panics answers nothing (its caller sees an error); the others go on.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn)));
        }
        if shared && conn.execute_batch("COMMIT").is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Database")
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    ttl INTEGER,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
";

pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
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

impl Database {
    /// Opens (or creates) the database file, in WAL mode, with the table schema; its rows are
    /// sealed under `rows` (items an earlier version stored in clear are sealed now, once).
    pub fn open(path: impl AsRef<Path>, rows: RowKey) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_fs::create_dir(dir)
                .map_err(|e| StoreError::Internal(format!("creating {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(sql_err)?;
        // The database holds customers' data: this user only. SQLite gives its -wal and -shm files
        // the database file's mode.
        crate::private_fs::restrict_file(path)
            .map_err(|e| StoreError::Internal(format!("restricting {}: {e}", path.display())))?;
        let mut db = Self::init(conn, rows)?;
        db.readers = Some(start_readers(path)?);
        db.checkpoints = Some(Arc::new(start_checkpoints(path)?));
        Ok(db)
    }

    /// A private in-memory database; for tests and benchmarks.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(
            Connection::open_in_memory().map_err(sql_err)?,
            RowKey::ephemeral(),
        )
    }

    /// The key this file's rows are sealed with (the queues seal their bodies with it too).
    pub fn row_key(&self) -> &RowKey {
        &self.rows
    }

    fn init(mut conn: Connection, rows: RowKey) -> Result<Self, StoreError> {
        // WAL: readers never block the writer; NORMAL sync is durable across process crashes
        // (a power loss may drop the last commits, never corrupt the file).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_err)?;
        // Checkpoints (copying the log back into the file, and its fsync) run on their own thread
        // beside the writer (files, see start_checkpoints); the writer checkpoints itself only if
        // the log grows past this many pages anyway.
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
            .map_err(sql_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql_err)?;
        // What is deleted (an erased customer, a queue message once answered) is overwritten in
        // the file, not left in the page's free space; FAST: wherever that costs no extra write.
        conn.pragma_update(None, "secure_delete", "FAST")
            .map_err(sql_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql_err)?;
        tune(&conn)?;
        conn.execute_batch(SCHEMA).map_err(sql_err)?;
        seal_clear_items(&mut conn, &rows)?;
        let (writer, jobs) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run_writer(conn, jobs))
            .map_err(|e| StoreError::Internal(format!("starting the database writer: {e}")))?;
        Ok(Self {
            writer,
            readers: None,
            checkpoints: None,
            rows,
        })
    }

    /// Runs a read on one of the reader threads' read-only connections (the writer in memory).
    /// `f` sees every write committed before it was called, and no write half; reads waiting
    /// together share one snapshot (see [`run_reader`]).
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(readers) = &self.readers else {
            return self.call(move |conn| f(conn)).await;
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        readers
            .send(Box::new(move |conn| {
                // The caller may have gone (a cancelled request): nothing to answer.
                let _ = answer.send(f(conn));
            }))
            .map_err(|_| StoreError::Internal("the database readers have stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Internal("database read was dropped".into()))?
    }

    /// Runs the write `f` on the writer connection and answers once it is committed. Writes that
    /// arrive while another commit is under way wait together and are committed together, each in
    /// its own savepoint: a write that fails leaves nothing behind and does not touch the others; a
    /// commit that fails fails them all. Each write sees those run before it (one after the other,
    /// in arrival order), so conditions hold as if every write had its own commit.
    ///
    /// `f` must not begin or end transactions itself (it runs inside one); its statements are
    /// atomic together.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => in_savepoint(conn, f),
                Err(why) => Err(StoreError::Unavailable(format!(
                    "database write not started: {why}"
                ))),
            };
            Box::new(move |failed_commit: Option<&str>| {
                let result = match failed_commit {
                    Some(why) if result.is_ok() => Err(StoreError::Unavailable(format!(
                        "database commit failed: {why}"
                    ))),
                    _ => result,
                };
                // The caller may have gone (a cancelled request): its write stands all the same.
                let _ = answer.send(result);
            })
        });
        self.send(Job::Write(job))?;
        answered
            .await
            .map_err(|_| StoreError::Internal("database write was dropped".into()))?
    }

    /// Runs `f` with the writer connection, alone and outside any transaction (for schema changes,
    /// checks and checkpoints; writes go through [`Database::write`]).
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.send(Job::Exclusive(Box::new(move |conn| {
            let _ = answer.send(f(conn));
        })))?;
        answered
            .await
            .map_err(|_| StoreError::Internal("database task was dropped".into()))?
    }

    /// Copies every committed write the log holds into the file and empties the log, waiting
    /// for reads under way (for when the process stops: the file alone is then the database).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.call(|conn| {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(sql_err)?;
            if busy != 0 {
                return Err(StoreError::Unavailable(
                    "the log could not be emptied: a read held it".into(),
                ));
            }
            Ok(())
        })
        .await
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.writer
            .send(job)
            .map_err(|_| StoreError::Internal("the database writer has stopped".into()))
    }
}

/// The writer thread: takes every job waiting, commits the writes among them together, runs an
/// exclusive job alone between two commits; ends (closing the connection) when every handle on
/// the database is gone.
fn run_writer(mut conn: Connection, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut writes = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(w) => writes.push(w),
                Job::Exclusive(run) => {
                    commit_writes(&conn, std::mem::take(&mut writes));
                    // A job that panics answers nothing (its caller sees an error); the thread
                    // and the connection stay.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut conn)));
                }
            }
            if writes.len() < WRITES_PER_COMMIT {
                next = jobs.try_recv().ok();
            }
        }
        commit_writes(&conn, writes);
    }
}

/// Commits `jobs` in one transaction (see [`Database::write`]) and answers their callers.
fn commit_writes(conn: &Connection, jobs: Vec<WriteJob>) {
    if jobs.is_empty() {
        return;
    }
    // A transaction left open by a job that panicked is rolled back before the next one.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let why = e.to_string();
        for job in jobs {
            job(Err(&why))(None);
        }
        return;
    }
    let mut delivers: Vec<Deliver> = Vec::with_capacity(jobs.len());
    let mut panicked = false;
    for job in jobs {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(conn)))) {
            Ok(deliver) => delivers.push(deliver),
            // Its savepoint may be left open: nothing of this transaction is kept.
            Err(_) => panicked = true,
        }
    }
    let commit = if panicked {
        Err("a write in the same commit panicked".to_owned())
    } else {
        conn.execute_batch("COMMIT").map_err(|e| e.to_string())
    };
    let failed = match commit {
        Ok(()) => None,
        Err(why) => {
            let _ = conn.execute_batch("ROLLBACK");
            Some(why)
        }
    };
    for deliver in delivers {
        deliver(failed.as_deref());
    }
}

/// Runs `f` in a savepoint: kept if it succeeds, undone if it fails.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Compiled once per connection, like the engine's other statements (one pair per write).
    let run = |sql: &str| -> Result<(), rusqlite::Error> {
        conn.prepare_cached(sql)?.execute([]).map(|_| ())
    };
    run("SAVEPOINT write").map_err(sql_err)?;
    let result = f(conn);
    if result.is_ok() {
        if let Err(e) = run("RELEASE write") {
            let _ = conn.execute_batch("ROLLBACK TO write; RELEASE write");
            return Err(sql_err(e));
        }
    } else if let Err(e) = conn.execute_batch("ROLLBACK TO write; RELEASE write") {
        return Err(sql_err(e));
    }
    result
}

/// The Table port on the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteTable {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl SqliteTable {
    /// The table in `db`, with expiry judged by `clock`.
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }
}

/// An item's attributes as stored: JSON, sealed for where the item lives.
fn encode_item(rows: &RowKey, key: &Key, item: &Item) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(&item.attrs).map_err(|e| StoreError::Internal(e.to_string()))?;
    rows.seal(&rows::item_place(&key.pk, &key.sk), &json)
}

/// The item a row holds (`pk`, `sk`, `body` columns first).
fn decode_row(rows: &RowKey, r: &rusqlite::Row<'_>) -> Result<Item, StoreError> {
    let pk: String = r.get(0).map_err(sql_err)?;
    let sk: String = r.get(1).map_err(sql_err)?;
    let body = r.get_ref(2).map_err(sql_err)?;
    let json = rows.open(&rows::item_place(&pk, &sk), body)?;
    let attrs: BTreeMap<String, Value> = serde_json::from_str(&json)
        .map_err(|e| StoreError::Internal(format!("corrupt item: {e}")))?;
    Ok(Item { attrs })
}

/// The file's `user_version` once every item is sealed: later opens skip the search for clear
/// items (a scan of the whole table).
const ITEMS_SEALED: i64 = 1;

/// Items an earlier version stored in clear, sealed in one transaction as the file opens (once:
/// `user_version` records it). The free space they leave is overwritten (`secure_delete`).
fn seal_clear_items(conn: &mut Connection, rows: &RowKey) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err)?;
    if version >= ITEMS_SEALED {
        return Ok(());
    }
    // In key order, a thousand rows per transaction: a large file is never held in memory at
    // once, and a stop halfway resumes at the next open (the version is set only at the end).
    let mut after = (String::new(), String::new());
    let mut sealed_rows = 0usize;
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let batch: Vec<(String, String, rusqlite::types::Value)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT pk, sk, body FROM items WHERE (pk, sk) > (?1, ?2) \
                     ORDER BY pk, sk LIMIT 1000",
                )
                .map_err(sql_err)?;
            let found = stmt
                .query_map(params![after.0, after.1], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(sql_err)?;
            found.collect::<Result<_, _>>().map_err(sql_err)?
        };
        let Some((pk, sk, _)) = batch.last() else {
            tx.pragma_update(None, "user_version", ITEMS_SEALED)
                .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
            break;
        };
        after = (pk.clone(), sk.clone());
        for (pk, sk, body) in &batch {
            let rusqlite::types::Value::Text(body) = body else {
                continue;
            };
            let sealed = rows.seal(&rows::item_place(pk, sk), body.as_bytes())?;
            tx.execute(
                "UPDATE items SET body = ?3 WHERE pk = ?1 AND sk = ?2",
                params![pk, sk, sealed],
            )
            .map_err(sql_err)?;
            sealed_rows += 1;
        }
        tx.commit().map_err(sql_err)?;
    }
    if sealed_rows > 0 {
        tracing::info!(items = sealed_rows, "items stored in clear were sealed");
    }
    Ok(())
}

/// The live item under `key` (expired items count as absent).
fn load(conn: &Connection, rows: &RowKey, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    // Statements are compiled once per connection and kept (the hot path runs them thousands of
    // times a second).
    let mut stmt = conn
        .prepare_cached(
            "SELECT pk, sk, body FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)",
        )
        .map_err(sql_err)?;
    let mut found = stmt.query(params![key.pk, key.sk, now]).map_err(sql_err)?;
    match found.next().map_err(sql_err)? {
        Some(row) => decode_row(rows, row).map(Some),
        None => Ok(None),
    }
}

fn store(conn: &Connection, rows: &RowKey, item: &Item) -> Result<(), StoreError> {
    let key = item.validate()?;
    store_sealed(conn, &key, item, &encode_item(rows, &key, item)?)
}

/// Writes `item` under `key` with its attributes already sealed (`body`).
fn store_sealed(conn: &Connection, key: &Key, item: &Item, body: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, ttl, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .map_err(sql_err)?
    .execute(params![
            key.pk,
            key.sk,
            item.get_s(GSI1PK),
            item.get_s(GSI1SK),
            item.ttl(),
            body
        ],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn remove(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(sql_err)?
        .execute(params![key.pk, key.sk])
        .map_err(sql_err)?;
    Ok(())
}

fn check(condition: Option<&Condition>, current: Option<&Item>) -> bool {
    condition.is_none_or(|c| c.eval(current))
}

/// The attributes of each put in `ops` sealed, before its write reaches the writer thread (so
/// that the one thread that writes spends no time on them).
fn seal_puts(rows: &RowKey, ops: &[TxOp]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    ops.iter()
        .map(|op| match op {
            TxOp::Put { item, .. } => {
                let key = item.validate()?;
                encode_item(rows, &key, item).map(Some)
            }
            _ => Ok(None),
        })
        .collect()
}

/// Applies one write after its condition held (a put with its attributes sealed by
/// [`seal_puts`]); returns the new item for updates.
fn apply(
    conn: &Connection,
    rows: &RowKey,
    op: &TxOp,
    sealed: Option<&[u8]>,
    current: Option<&Item>,
) -> Result<Option<Item>, StoreError> {
    match op {
        TxOp::Put { item, .. } => {
            match sealed {
                Some(body) => store_sealed(conn, &item.validate()?, item, body)?,
                None => store(conn, rows, item)?,
            }
            Ok(None)
        }
        TxOp::Update { key, update, .. } => {
            let next = update.apply(key, current)?;
            store(conn, rows, &next)?;
            Ok(Some(next))
        }
        TxOp::Delete { key, .. } => {
            remove(conn, key)?;
            Ok(None)
        }
        TxOp::Check { .. } => Ok(None),
    }
}

/// Runs one conditional write (inside the write's savepoint, see [`Database::write`]).
fn single(
    conn: &Connection,
    rows: &RowKey,
    op: TxOp,
    sealed: Option<&[u8]>,
    now: i64,
) -> Result<(Option<Item>, Option<Item>), StoreError> {
    let key = op.key()?;
    // An unconditional put needs nothing of what it replaces (no item opened for it).
    let current = match &op {
        TxOp::Put {
            condition: None, ..
        } => None,
        _ => load(conn, rows, &key, now)?,
    };
    if !check(op.condition(), current.as_ref()) {
        return Err(StoreError::ConditionFailed {
            current: current.map(Box::new),
        });
    }
    let written = apply(conn, rows, &op, sealed, current.as_ref())?;
    Ok((current, written))
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        let now = self.clock.now_secs();
        let rows = self.db.rows.clone();
        self.db.read(move |conn| load(conn, &rows, &key, now)).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        item.validate()?;
        let now = self.clock.now_secs();
        let rows = self.db.rows.clone();
        let key = item.validate()?;
        let sealed = encode_item(&rows, &key, &item)?;
        self.db
            .write(move |conn| {
                single(
                    conn,
                    &rows,
                    TxOp::Put { item, condition },
                    Some(&sealed),
                    now,
                )
                .map(|_| ())
            })
            .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        update.validate()?;
        let key = key.clone();
        let now = self.clock.now_secs();
        let rows = self.db.rows.clone();
        self.db
            .write(move |conn| {
                let (_, written) = single(
                    conn,
                    &rows,
                    TxOp::Update {
                        key,
                        update,
                        condition,
                    },
                    None,
                    now,
                )?;
                written.ok_or_else(|| StoreError::Internal("update wrote nothing".into()))
            })
            .await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        let now = self.clock.now_secs();
        let rows = self.db.rows.clone();
        self.db
            .write(move |conn| {
                single(conn, &rows, TxOp::Delete { key, condition }, None, now).map(|(old, _)| old)
            })
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let now = self.clock.now_secs();
        let rows = self.db.rows.clone();
        self.db
            .read(move |conn| run_query(conn, &rows, &query, now))
            .await
    }

    async fn scan(
        &self,
        pk_prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let now = self.clock.now_secs();
        let prefix = pk_prefix.to_owned();
        let rows = self.db.rows.clone();
        self.db
            .read(move |conn| run_scan(conn, &rows, &prefix, cursor.as_deref(), limit, now))
            .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let now = self.clock.now_secs();
        let rows = self.db.rows.clone();
        let sealed = seal_puts(&rows, &ops)?;
        self.db
            .write(move |conn| transact_in(conn, &rows, &ops, &sealed, now))
            .await
    }

    async fn transact_many(&self, groups: Vec<Vec<TxOp>>) -> Vec<Result<(), StoreError>> {
        // Checked first: a group the engine refuses is answered without touching the file.
        let now = self.clock.now_secs();
        let rows = self.db.rows.clone();
        let checked: Vec<Result<Vec<Option<Vec<u8>>>, StoreError>> = groups
            .iter()
            .map(|ops| validate_transaction(ops).and_then(|()| seal_puts(&rows, ops)))
            .collect();
        let count = groups.len();
        let outcome = self
            .db
            .write(move |conn| {
                let mut results = Vec::with_capacity(groups.len());
                for (ops, valid) in groups.iter().zip(checked) {
                    let sealed = match valid {
                        Ok(sealed) => sealed,
                        Err(e) => {
                            results.push(Err(e));
                            continue;
                        }
                    };
                    // Each group in its own savepoint: one that fails leaves nothing behind and
                    // the others still apply, as separate transactions would.
                    results.push(in_savepoint(conn, |conn| {
                        transact_in(conn, &rows, ops, &sealed, now)
                    }));
                }
                Ok(results)
            })
            .await;
        match outcome {
            Ok(results) => results,
            // The file commit failed: no group applied.
            Err(e) => (0..count)
                .map(|_| Err(StoreError::Unavailable(format!("batch not written: {e}"))))
                .collect(),
        }
    }
}

/// One transaction's writes inside an open SQLite transaction (or savepoint): every condition is
/// checked against the state before any write, as DynamoDB does; any failed condition cancels all.
fn transact_in(
    conn: &Connection,
    rows: &RowKey,
    ops: &[TxOp],
    sealed: &[Option<Vec<u8>>],
    now: i64,
) -> Result<(), StoreError> {
    // With distinct keys, loading each item once up front is the same thing as DynamoDB's checks.
    let mut currents = Vec::with_capacity(ops.len());
    let mut reasons = Vec::with_capacity(ops.len());
    for op in ops {
        // An unconditional put needs nothing of what it replaces (no item opened for it).
        let current = match op {
            TxOp::Put {
                condition: None, ..
            } => None,
            _ => load(conn, rows, &op.key()?, now)?,
        };
        reasons.push(if check(op.condition(), current.as_ref()) {
            CancelReason::None
        } else {
            CancelReason::ConditionFailed
        });
        currents.push(current);
    }
    if reasons.iter().any(|r| *r != CancelReason::None) {
        return Err(StoreError::TransactionCanceled { reasons });
    }
    for (i, (op, current)) in ops.iter().zip(&currents).enumerate() {
        let body = sealed.get(i).and_then(Option::as_deref);
        apply(conn, rows, op, body, current.as_ref())?;
    }
    Ok(())
}

fn run_scan(
    conn: &Connection,
    rows: &RowKey,
    prefix: &str,
    cursor: Option<&str>,
    limit: u32,
    now: i64,
) -> Result<Page, StoreError> {
    let limit = limit.max(1) as usize;
    let mut sql = String::from(
        "SELECT pk, sk, body FROM items WHERE pk >= ?1 AND substr(pk, 1, length(?1)) = ?1 \
         AND (ttl IS NULL OR ttl > ?2)",
    );
    let mut args: Vec<rusqlite::types::Value> = vec![prefix.to_owned().into(), now.into()];
    if let Some(c) = cursor {
        let last = cursor::decode_key(c)?;
        sql.push_str(" AND (pk, sk) > (?3, ?4)");
        args.push(last.pk.into());
        args.push(last.sk.into());
    }
    sql.push_str(&format!(" ORDER BY pk, sk LIMIT {}", limit + 1));
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut found = stmt
        .query(rusqlite::params_from_iter(args))
        .map_err(sql_err)?;
    let mut items = Vec::new();
    while let Some(row) = found.next().map_err(sql_err)? {
        items.push(decode_row(rows, row)?);
    }
    let mut next = None;
    if items.len() > limit {
        items.truncate(limit);
        next = items
            .last()
            .map(|last| cursor::encode(&key_attrs(last, Index::Primary)));
    }
    Ok(Page {
        items,
        cursor: next,
    })
}

fn run_query(
    conn: &Connection,
    rows: &RowKey,
    query: &Query,
    now: i64,
) -> Result<Page, StoreError> {
    let (pk_col, sk_col) = match query.index {
        Index::Primary => ("pk", "sk"),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
    };
    let mut sql =
        format!("SELECT pk, sk, body FROM items WHERE {pk_col} = ? AND (ttl IS NULL OR ttl > ?)");
    let mut args: Vec<rusqlite::types::Value> = vec![query.pk.clone().into(), now.into()];
    let mut push = |clause: &str, v: &str| {
        sql.push_str(&format!(" AND {sk_col} {clause} ?"));
        args.push(v.to_owned().into());
    };
    match &query.sort {
        SortKey::Any => {}
        SortKey::Eq(v) => push("=", v),
        SortKey::Lt(v) => push("<", v),
        SortKey::Le(v) => push("<=", v),
        SortKey::Gt(v) => push(">", v),
        SortKey::Ge(v) => push(">=", v),
        SortKey::Between(a, b) => {
            push(">=", a);
            push("<=", b);
        }
        SortKey::BeginsWith(p) => {
            // Byte-wise prefix match (SQLite's LIKE is case-insensitive; GLOB treats * and ? specially).
            push(">=", p);
            sql.push_str(&format!(" AND substr({sk_col}, 1, length(?)) = ?"));
            args.push(p.clone().into());
            args.push(p.clone().into());
        }
    }
    let cmp = if query.forward { ">" } else { "<" };
    if let Some(c) = &query.cursor {
        let last = cursor::decode(c)?;
        let field = |name: &str| {
            last.get(name)
                .cloned()
                .ok_or_else(|| StoreError::Invalid("cursor does not belong to this query".into()))
        };
        match query.index {
            Index::Primary => {
                sql.push_str(&format!(" AND sk {cmp} ?"));
                args.push(field(SK)?.into());
            }
            Index::Gsi1 => {
                sql.push_str(&format!(" AND (gsi1sk, pk, sk) {cmp} (?, ?, ?)"));
                args.push(field(GSI1SK)?.into());
                args.push(field(PK)?.into());
                args.push(field(SK)?.into());
            }
        }
    }
    let dir = if query.forward { "ASC" } else { "DESC" };
    match query.index {
        Index::Primary => sql.push_str(&format!(" ORDER BY sk {dir}")),
        Index::Gsi1 => sql.push_str(&format!(" ORDER BY gsi1sk {dir}, pk {dir}, sk {dir}")),
    }
    let limit = query.limit.map(|l| l.max(1) as usize);
    if let Some(l) = limit {
        // One extra row tells whether another page exists.
        sql.push_str(&format!(" LIMIT {}", l + 1));
    }
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
    let mut found = stmt
        .query(rusqlite::params_from_iter(args))
        .map_err(sql_err)?;
    let mut items = Vec::new();
    while let Some(row) = found.next().map_err(sql_err)? {
        items.push(decode_row(rows, row)?);
    }
    let mut next = None;
    if let Some(l) = limit {
        if items.len() > l {
            items.truncate(l);
            if let Some(last) = items.last() {
                next = Some(cursor::encode(&key_attrs(last, query.index)));
            }
        }
    }
    Ok(Page {
        items,
        cursor: next,
    })
}

/// Deletes expired rows; reads already ignore them, this only reclaims space.
pub async fn purge_expired(db: &Database, now_secs: i64) -> Result<usize, StoreError> {
    db.call(move |conn| {
        conn.execute(
            "DELETE FROM items WHERE ttl IS NOT NULL AND ttl <= ?1",
            params![now_secs],
        )
        .map_err(sql_err)
    })
    .await
}

/// What SQLite says of the embedded file, for `mostrador check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileCheck {
    /// `ok`, or the problems `PRAGMA integrity_check` lists.
    pub integrity: Vec<String>,
    pub items: u64,
    /// Items whose attributes do not open (another master key, a damaged row) or are not the
    /// JSON the engine writes.
    pub unreadable_items: u64,
    /// Items past their ttl waiting for the hourly purge (reads already skip them).
    pub expired_items: u64,
    pub bytes: u64,
}

/// Runs SQLite's integrity check and counts the items that could not be read.
pub async fn check_file(db: &Database, now_secs: i64) -> Result<FileCheck, StoreError> {
    let rows = db.rows.clone();
    db.call(move |conn| {
        let mut stmt = conn
            .prepare("PRAGMA integrity_check(100)")
            .map_err(sql_err)?;
        let integrity = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sql_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_err)?;
        let count = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<u64, StoreError> {
            conn.query_row(sql, args, |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(sql_err)
        };
        let items = count("SELECT count(*) FROM items", &[])?;
        let mut unreadable_items = 0;
        let mut stmt = conn
            .prepare("SELECT pk, sk, body FROM items")
            .map_err(sql_err)?;
        let mut all = stmt.query([]).map_err(sql_err)?;
        while let Some(row) = all.next().map_err(sql_err)? {
            if decode_row(&rows, row).is_err() {
                unreadable_items += 1;
            }
        }
        drop(all);
        drop(stmt);
        let expired_items = count(
            "SELECT count(*) FROM items WHERE ttl IS NOT NULL AND ttl <= ?1",
            &[&now_secs],
        )?;
        let bytes = conn
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql_err)? as u64;
        Ok(FileCheck {
            integrity,
            items,
            unreadable_items,
            expired_items,
            bytes,
        })
    })
    .await
}

#[cfg(test)]
mod reader_tests {
    use super::*;
    use mostrador_core::FixedClock;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_committed_together_still_fail_and_succeed_one_by_one() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::open(dir.path().join("mostrador.db"), RowKey::ephemeral()).expect("db");
        let clock = Arc::new(FixedClock::at(chrono::Utc::now()));
        let table = Arc::new(SqliteTable::new(db.clone(), clock));
        let slot = Key::new("P", "SLOT");
        // 64 writers at once: each claims the slot (one may), bumps a counter under a ceiling of
        // 40 (40 may) and writes a row of its own with a second write it then fails on purpose.
        let mut tasks = Vec::new();
        for i in 0..64i64 {
            let table = table.clone();
            let slot = slot.clone();
            tasks.push(tokio::spawn(async move {
                let claimed = table
                    .put(Item::new(&slot).with("by", i), Some(Condition::NotExists))
                    .await;
                let counted = table
                    .update(
                        &Key::new("P", "COUNT"),
                        Update::new().add("n", 1),
                        Some(
                            Condition::AttrNotExists("n".into()).or(Condition::Lt("n".into(), 40)),
                        ),
                    )
                    .await;
                let half = table
                    .transact(vec![
                        TxOp::Put {
                            item: Item::new(&Key::new("P", format!("ROW#{i:02}"))),
                            condition: None,
                        },
                        TxOp::Check {
                            key: Key::new("P", "NOWHERE"),
                            condition: Condition::Exists,
                        },
                    ])
                    .await;
                (claimed.is_ok(), counted.is_ok(), half.is_err())
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task"));
        }
        assert_eq!(outcomes.iter().filter(|o| o.0).count(), 1, "one claim");
        assert_eq!(outcomes.iter().filter(|o| o.1).count(), 40, "40 counted");
        assert!(
            outcomes.iter().all(|o| o.2),
            "every cancelled transaction failed"
        );
        let count = table.get(&Key::new("P", "COUNT")).await.expect("get");
        assert_eq!(count.and_then(|c| c.get_n("n")), Some(40));
        // The failed halves left nothing, and the claim names its one winner.
        let page = table
            .query(Query::partition("P").limit(1000))
            .await
            .expect("query");
        let keys: Vec<&str> = page.items.iter().filter_map(|i| i.get_s("sk")).collect();
        assert_eq!(keys, ["COUNT", "SLOT"]);
        // An exclusive job between writes sees them committed.
        let rows: i64 = db
            .call(|conn| {
                conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0))
                    .map_err(sql_err)
            })
            .await
            .expect("count");
        assert_eq!(rows, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reads_beside_the_writer_see_every_committed_write_and_never_write() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::open(dir.path().join("mostrador.db"), RowKey::ephemeral()).expect("db");
        assert!(db.readers.is_some(), "a file gets read-only connections");
        let clock = Arc::new(FixedClock::at(chrono::Utc::now()));
        let table = SqliteTable::new(db.clone(), clock);
        // Each write is seen by the very next read, whichever reader takes it.
        for i in 0..(READERS * 10) {
            let key = Key::new("P", format!("S{i:03}"));
            table
                .put(Item::new(&key).with("n", i as i64), None)
                .await
                .expect("put");
            let read = table.get(&key).await.expect("get").expect("written");
            assert_eq!(read.get_n("n"), Some(i as i64));
            let page = table
                .query(Query::partition("P").limit(1000))
                .await
                .expect("query");
            assert_eq!(page.items.len(), i + 1);
        }
        // Reads and writes at the same time: every read sees a whole number of writes.
        let writer = {
            let table = table.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    table
                        .transact(vec![
                            TxOp::Put {
                                item: Item::new(&Key::new("Q", format!("A{i:03}"))),
                                condition: None,
                            },
                            TxOp::Put {
                                item: Item::new(&Key::new("Q", format!("B{i:03}"))),
                                condition: None,
                            },
                        ])
                        .await
                        .expect("transact");
                }
            })
        };
        for _ in 0..200 {
            let page = table
                .query(Query::partition("Q").limit(1000))
                .await
                .expect("query");
            assert_eq!(page.items.len() % 2, 0, "never half a transaction");
        }
        writer.await.expect("writer");
        let refused = db
            .read(|conn| conn.execute("DELETE FROM items", []).map_err(sql_err))
            .await;
        assert!(refused.is_err(), "a reader cannot write");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reads_asked_together_are_answered_each_and_a_failing_one_harms_none() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::open(dir.path().join("mostrador.db"), RowKey::ephemeral()).expect("db");
        let clock = Arc::new(FixedClock::at(chrono::Utc::now()));
        let table = SqliteTable::new(db.clone(), clock);
        for i in 0..50 {
            table
                .put(
                    Item::new(&Key::new("R", format!("S{i:02}"))).with("n", i),
                    None,
                )
                .await
                .expect("put");
        }
        // Many more reads at once than there are readers: each gets its own item back, while a
        // read that panics and one that fails are answered with errors in the same snapshots.
        let mut reads = Vec::new();
        for i in 0..400i64 {
            let table = table.clone();
            let db = db.clone();
            reads.push(tokio::spawn(async move {
                match i % 100 {
                    7 => db
                        .read(|_| -> Result<(), StoreError> { panic!("a read that panics") })
                        .await
                        .map(|_| None),
                    8 => db
                        .read(|conn| conn.execute("DELETE FROM items", []).map_err(sql_err))
                        .await
                        .map(|_| None),
                    _ => table
                        .get(&Key::new("R", format!("S{:02}", i % 50)))
                        .await
                        .map(|item| item.and_then(|item| item.get_n("n"))),
                }
            }));
        }
        for (i, read) in reads.into_iter().enumerate() {
            let got = read.await.expect("task");
            match i % 100 {
                7 | 8 => assert!(got.is_err(), "read {i} must fail"),
                _ => assert_eq!(got.expect("read"), Some((i % 50) as i64), "read {i}"),
            }
        }
        let left = table
            .query(Query::partition("R").limit(100))
            .await
            .expect("query");
        assert_eq!(left.items.len(), 50, "the readers wrote nothing");
    }

    #[tokio::test]
    async fn flush_leaves_every_write_in_the_file_and_the_log_empty() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mostrador.db");
        let rows = RowKey::ephemeral();
        let db = Database::open(&path, rows.clone()).expect("db");
        let table = SqliteTable::new(db.clone(), Arc::new(FixedClock::at(chrono::Utc::now())));
        for i in 0..20 {
            table
                .put(Item::new(&Key::new("F", format!("S{i:02}"))), None)
                .await
                .expect("put");
        }
        let wal = dir.path().join("mostrador.db-wal");
        assert!(
            std::fs::metadata(&wal).expect("log").len() > 0,
            "writes go to the log first"
        );
        db.flush().await.expect("flush");
        assert_eq!(
            std::fs::metadata(&wal).expect("log").len(),
            0,
            "the log is empty"
        );
        // A copy of the file alone holds every write.
        let copy = dir.path().join("copy.db");
        std::fs::copy(&path, &copy).expect("copy");
        let again = Database::open(&copy, rows).expect("copy opens");
        let found = SqliteTable::new(again, Arc::new(FixedClock::at(chrono::Utc::now())))
            .query(Query::partition("F").limit(100))
            .await
            .expect("query");
        assert_eq!(found.items.len(), 20);
    }

    /// The raw stored bytes of an item's row.
    async fn stored_row(db: &Database, key: &Key) -> Vec<u8> {
        let key = key.clone();
        db.call(move |conn| {
            conn.query_row(
                "SELECT body FROM items WHERE pk = ?1 AND sk = ?2",
                params![key.pk, key.sk],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .map_err(sql_err)
        })
        .await
        .expect("row")
    }

    async fn checkpoint(db: &Database) {
        db.call(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sql_err)
        })
        .await
        .expect("checkpoint");
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[tokio::test]
    async fn deleted_items_leave_no_trace_in_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mostrador.db");
        let db = Database::open(&path, RowKey::ephemeral()).expect("db");
        let clock = Arc::new(FixedClock::at(chrono::Utc::now()));
        let table = SqliteTable::new(db.clone(), clock);
        let key = |i: usize| Key::new("CUST#x", format!("MSG#{i:03}"));
        let mut stored = Vec::new();
        for i in 0..20 {
            table
                .put(
                    Item::new(&key(i)).with("text", format!("me duele la muela {i:03} desde ayer")),
                    None,
                )
                .await
                .expect("put");
            stored.push(stored_row(&db, &key(i)).await);
        }
        for i in (0..20).step_by(2) {
            table.delete(&key(i), None).await.expect("delete");
        }
        checkpoint(&db).await;
        let file = std::fs::read(&path).expect("read");
        assert!(contains(&file, &stored[1]), "kept rows are there");
        for i in (0..20).step_by(2) {
            assert!(
                !contains(&file, &stored[i][..40]),
                "deleted item {i} still readable in the file"
            );
        }
    }

    #[tokio::test]
    async fn rows_are_sealed_in_the_file_and_open_only_with_their_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mostrador.db");
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at(chrono::Utc::now()));
        let rows = RowKey::with_secret([3; 32]);
        let profile = Key::new("M#1#CUST#h0123", "PROFILE");
        {
            let db = Database::open(&path, rows.clone()).expect("db");
            let table = SqliteTable::new(db.clone(), clock.clone());
            table
                .put(
                    Item::new(&profile)
                        .with("phone", "5215598765432")
                        .with("gsi1pk", "M#1#CUSTOMERS")
                        .with("gsi1sk", "0001"),
                    None,
                )
                .await
                .expect("put");
            // A row an earlier version wrote in clear, straight into the file (whose version
            // then said nothing of sealing).
            db.call(|conn| {
                conn.execute(
                    "INSERT INTO items (pk, sk, body) VALUES ('M#1#OLD', 'X', ?1)",
                    params![r#"{"pk":{"S":"M#1#OLD"},"sk":{"S":"X"},"text":{"S":"receta de amoxicilina"}}"#],
                )
                .map_err(sql_err)?;
                conn.pragma_update(None, "user_version", 0).map_err(sql_err)
            })
            .await
            .expect("legacy row");
            checkpoint(&db).await;
        }
        // Reopening seals the clear row; everything reads back, by key, query and scan.
        let db = Database::open(&path, rows.clone()).expect("reopen");
        let table = SqliteTable::new(db.clone(), clock.clone());
        let got = table.get(&profile).await.expect("get").expect("profile");
        assert_eq!(got.get_s("phone"), Some("5215598765432"));
        let old = table
            .get(&Key::new("M#1#OLD", "X"))
            .await
            .expect("get")
            .expect("old");
        assert_eq!(old.get_s("text"), Some("receta de amoxicilina"));
        let by_index = table
            .query(Query::gsi1("M#1#CUSTOMERS"))
            .await
            .expect("query");
        assert_eq!(by_index.items.len(), 1);
        let scanned = table.scan("M#1#", None, 10).await.expect("scan");
        assert_eq!(scanned.items.len(), 2);
        let clear: i64 = db
            .call(|conn| {
                conn.query_row(
                    "SELECT count(*) FROM items WHERE typeof(body) = 'text'",
                    [],
                    |r| r.get(0),
                )
                .map_err(sql_err)
            })
            .await
            .expect("count");
        assert_eq!(clear, 0, "every row sealed");
        let version: i64 = db
            .call(|conn| {
                conn.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .map_err(sql_err)
            })
            .await
            .expect("version");
        assert_eq!(version, ITEMS_SEALED, "the next open does not search again");
        checkpoint(&db).await;
        let file = std::fs::read(&path).expect("read");
        for words in ["5215598765432", "amoxicilina"] {
            assert!(
                !contains(&file, words.as_bytes()),
                "{words} in clear in the file"
            );
        }
        let found = check_file(&db, 0).await.expect("check");
        assert_eq!((found.items, found.unreadable_items), (2, 0));
        drop(table);
        drop(db);
        // Under another key nothing opens, and the check says so.
        let other = Database::open(&path, RowKey::with_secret([4; 32])).expect("open");
        let table = SqliteTable::new(other.clone(), clock);
        assert!(table.get(&profile).await.is_err());
        let found = check_file(&other, 0).await.expect("check");
        assert_eq!(found.unreadable_items, 2);
    }
}
