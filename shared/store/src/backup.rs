//! Backups of the embedded engine's data directory, taken while the stack runs.
//!
//! What a data directory holds: `mostrador.db` (the table and the queues, one SQLite file in WAL
//! mode), `blobs/` (invoices, media, exports), `master.key` (the local master key every sealed
//! value depends on), `secrets.json` and, in demo mode, `demo.json`.
//!
//! A backup is a directory named after its moment (`mostrador-20261205T031500Z`):
//! - `mostrador.db`: a consistent copy made by `VACUUM INTO` in one read transaction on a
//!   connection of its own, so the table and the queues are copied at the same instant while the
//!   stack keeps writing (WAL readers do not block the writer).
//! - `blobs/`: the blob files, copied after the database so that every file the copied records
//!   name was there to copy (files written later are harmless extras).
//! - `keys.sealed`, only when a backup passphrase is given: `master.key`, `secrets.json` and
//!   `demo.json` sealed with AES-256-GCM under a key derived from the passphrase by Argon2id. The
//!   master key is never written in clear next to the data it opens; without a passphrase the
//!   backup names the key it needs (`key_id`, a one-way fingerprint) and the operator keeps the
//!   key file elsewhere.
//! - `manifest.json`: when, why, the key's fingerprint, the counts found in the copy and the size
//!   and SHA-256 of every file; written last, so a directory without it is not a backup.
//!
//! Each backup is verified after it is written (every file's hash, SQLite's `integrity_check` on
//! the copy, the counts read again) and the verification is recorded in its manifest. A restore
//! verifies again before it touches anything, refuses a backup sealed under another deployment's
//! key unless told to replace the key, and moves what it replaces aside instead of deleting it.

use crate::blobs::Blobs;
use crate::private_fs;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The database file of a data directory.
pub const DATABASE: &str = "mostrador.db";
/// The blob directory of a data directory.
pub const BLOBS: &str = "blobs";
/// The master key file of a data directory.
pub const MASTER_KEY: &str = "master.key";
/// Files sealed with the master key into `keys.sealed` (the ones that exist).
pub const KEY_FILES: [&str; 3] = [MASTER_KEY, "secrets.json", "demo.json"];
/// The manifest of a backup.
pub const MANIFEST: &str = "manifest.json";
/// The sealed key material of a backup.
pub const SEALED_KEYS: &str = "keys.sealed";
/// The lock a running stack holds on its data directory.
pub const LOCK: &str = "mostrador.lock";

const FORMAT: u32 = 1;
const KEYS_AAD: &[u8] = b"mostrador backup keys v1";

/// Errors of backups and restores; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(String),
    #[error("the backup is damaged: {0}")]
    Corrupt(String),
    #[error("{0} is not a backup (no manifest.json)")]
    NotABackup(String),
    #[error(
        "the backup was sealed with another master key (backup key {backup}, this data directory's key {local}); \
         restoring it here would leave every sealed value unreadable. Use --replace-key to replace this \
         directory's key with the backup's (the current key is moved aside, not deleted)"
    )]
    OtherKey { backup: String, local: String },
    #[error("{0}")]
    KeyMissing(String),
    #[error("the backup passphrase does not open keys.sealed")]
    WrongPassphrase,
    #[error("the data directory {0} is in use by a running mostrador; stop it first")]
    Busy(String),
    #[error("remote backup storage: {0}")]
    Remote(String),
}

fn io(what: impl std::fmt::Display, e: impl std::fmt::Display) -> BackupError {
    BackupError::Io(format!("{what}: {e}"))
}

/// What a backup holds, written as its `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    /// RFC 3339, UTC.
    pub taken_at: String,
    /// `scheduled` or `manual`; retention prunes scheduled backups only.
    pub trigger: String,
    /// Fingerprint of the master key the backup's sealed values need.
    pub key_id: String,
    /// Whether `keys.sealed` holds the master key (sealed with the backup passphrase).
    pub keys_included: bool,
    pub counts: Counts,
    /// Every file of the backup but the manifest: path → size and SHA-256.
    pub files: BTreeMap<String, FileSum>,
    /// The verification made after writing it.
    pub verified: Option<Verified>,
}

/// What the database copy holds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub items: u64,
    pub queue_messages: u64,
    pub dead_letters: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
}

/// Size and hash of a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileSum {
    pub bytes: u64,
    pub sha256: String,
}

/// A verification's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verified {
    pub at: String,
    pub integrity: String,
    pub files: u64,
}

impl Manifest {
    /// When the backup was taken.
    pub fn taken(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.taken_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The fingerprint of a master key: the first 8 bytes of SHA-256 over a label and the key, in
/// hex. It tells keys apart without revealing anything of them.
pub fn key_id(master: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"mostrador key id v1\0");
    h.update(master);
    hex::encode(&h.finalize()[..8])
}

/// The fingerprint of the master key in `data_dir`, if it has one.
pub fn local_key_id(data_dir: &Path) -> Result<Option<String>, BackupError> {
    match std::fs::read(data_dir.join(MASTER_KEY)) {
        Ok(bytes) => Ok(Some(key_id(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading the master key", e)),
    }
}

/// An exclusive lock on a data directory, held by the running stack and by a restore; released
/// when dropped (and by the system when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock, or answers [`BackupError::Busy`] when another process holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self, BackupError> {
        private_fs::create_dir(data_dir).map_err(|e| io(data_dir.display(), e))?;
        let path = data_dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io(path.display(), e))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(BackupError::Busy(data_dir.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(path.display(), e)),
        }
    }
}

/// How to take a backup.
#[derive(Debug, Clone)]
pub struct TakeOptions {
    pub trigger: Trigger,
    /// Seals the key files into the backup when given.
    pub passphrase: Option<String>,
    pub now: DateTime<Utc>,
}

/// Why a backup was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Scheduled,
    Manual,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
        }
    }
}

/// Takes a verified backup of `data_dir` into `into/<name>` and returns its manifest. Safe while
/// the stack runs. Leftovers of a backup interrupted earlier are removed first.
pub fn take(data_dir: &Path, into: &Path, options: &TakeOptions) -> Result<Manifest, BackupError> {
    let master = std::fs::read(data_dir.join(MASTER_KEY)).map_err(|e| {
        io(
            format!(
                "{} (is {} a mostrador data directory?)",
                data_dir.join(MASTER_KEY).display(),
                data_dir.display()
            ),
            e,
        )
    })?;
    let db_path = data_dir.join(DATABASE);
    if !db_path.is_file() {
        return Err(BackupError::Io(format!(
            "{} not found: nothing to back up",
            db_path.display()
        )));
    }
    private_fs::create_dir(into).map_err(|e| io(into.display(), e))?;
    // One backup at a time per directory (the stack's scheduled one and `mostrador backup` may
    // meet): the second waits for the first instead of removing its work in progress.
    let guard_path = into.join(".backup.lock");
    let guard = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&guard_path)
        .map_err(|e| io(guard_path.display(), e))?;
    guard.lock().map_err(|e| io(guard_path.display(), e))?;
    remove_partials(into)?;
    let mut name = mostrador_core::backup::name_for(options.now);
    // Two backups within one second: the second waits its turn rather than replacing the first.
    let mut now = options.now;
    while into.join(&name).exists() {
        now += chrono::Duration::seconds(1);
        name = mostrador_core::backup::name_for(now);
    }
    let partial = into.join(format!(".partial-{name}"));
    private_fs::create_dir(&partial).map_err(|e| io(partial.display(), e))?;
    let result = write_backup(data_dir, &partial, &name, now, &master, options);
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let dir = into.join(&name);
    std::fs::rename(&partial, &dir).map_err(|e| io(dir.display(), e))?;
    sync_dir(into);
    // Verified where it now lives, and the verification recorded in the manifest.
    let verified = verify(&dir)?;
    let mut manifest = manifest;
    manifest.verified = Some(verified);
    write_manifest(&dir, &manifest)?;
    Ok(manifest)
}

fn write_backup(
    data_dir: &Path,
    partial: &Path,
    name: &str,
    now: DateTime<Utc>,
    master: &[u8],
    options: &TakeOptions,
) -> Result<Manifest, BackupError> {
    let copy = partial.join(DATABASE);
    snapshot_database(&data_dir.join(DATABASE), &copy)?;
    let mut counts = database_counts(&copy)?;
    let mut files = BTreeMap::new();
    files.insert(DATABASE.to_owned(), sum_file(&copy)?);
    let source_blobs = data_dir.join(BLOBS);
    if source_blobs.is_dir() {
        for rel in walk(&source_blobs)? {
            let from = source_blobs.join(&rel);
            let to = partial.join(BLOBS).join(&rel);
            // A file deleted since the walk (a customer's erasure) is simply not in the backup.
            match copy_file(&from, &to) {
                Ok(sum) => {
                    if !rel.ends_with(".content-type") {
                        counts.blobs += 1;
                        counts.blob_bytes += sum.bytes;
                    }
                    files.insert(format!("{BLOBS}/{rel}"), sum);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(from.display(), e)),
            }
        }
    }
    if let Some(passphrase) = &options.passphrase {
        let mut bundle = BTreeMap::new();
        for file in KEY_FILES {
            match std::fs::read(data_dir.join(file)) {
                Ok(bytes) => {
                    bundle.insert(file.to_owned(), B64.encode(bytes));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(data_dir.join(file).display(), e)),
            }
        }
        let sealed = seal_keys(&bundle, passphrase)?;
        let path = partial.join(SEALED_KEYS);
        write_private(&path, &sealed)?;
        files.insert(SEALED_KEYS.to_owned(), sum_file(&path)?);
    }
    let manifest = Manifest {
        format: FORMAT,
        name: name.to_owned(),
        taken_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        trigger: options.trigger.as_str().to_owned(),
        key_id: key_id(master),
        keys_included: options.passphrase.is_some(),
        counts,
        files,
        verified: None,
    };
    write_manifest(partial, &manifest)?;
    Ok(manifest)
}

/// A consistent copy of the live database, on a connection of its own.
fn snapshot_database(source: &Path, copy: &Path) -> Result<(), BackupError> {
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| io(source.display(), e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| io("setting the busy timeout", e))?;
    let target = copy
        .to_str()
        .ok_or_else(|| BackupError::Io(format!("{} is not valid UTF-8", copy.display())))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(|e| io("copying the database (VACUUM INTO)", e))?;
    drop(conn);
    private_fs::restrict_file(copy).map_err(|e| io(copy.display(), e))?;
    // The copy stands alone: no write-ahead log beside it.
    let copy_conn = Connection::open(copy).map_err(|e| io(copy.display(), e))?;
    copy_conn
        .pragma_update(None, "journal_mode", "DELETE")
        .map_err(|e| io("the copy's journal mode", e))?;
    drop(copy_conn);
    if let Ok(f) = std::fs::File::open(copy) {
        let _ = f.sync_all();
    }
    Ok(())
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool, BackupError> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| io("reading the schema", e))
}

fn database_counts(path: &Path) -> Result<Counts, BackupError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| BackupError::Corrupt(format!("{DATABASE} does not open: {e}")))?;
    let count = |sql: &str| -> Result<u64, BackupError> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| BackupError::Corrupt(format!("{DATABASE}: {e}")))
    };
    let mut counts = Counts::default();
    if table_exists(&conn, "items")? {
        counts.items = count("SELECT count(*) FROM items")?;
    }
    if table_exists(&conn, "queue_messages")? {
        counts.queue_messages = count("SELECT count(*) FROM queue_messages WHERE dead = 0")?;
        counts.dead_letters = count("SELECT count(*) FROM queue_messages WHERE dead = 1")?;
    }
    Ok(counts)
}

/// Checks a backup: its manifest, every file's size and hash, no file missing, and SQLite's
/// integrity check and the counts of the database copy.
pub fn verify(dir: &Path) -> Result<Verified, BackupError> {
    let manifest = read_manifest(dir)?;
    if manifest.format != FORMAT {
        return Err(BackupError::Corrupt(format!(
            "format {} is not one this version reads ({FORMAT})",
            manifest.format
        )));
    }
    for (rel, sum) in &manifest.files {
        let path = dir.join(rel);
        let found = sum_file(&path).map_err(|e| match e {
            BackupError::Io(_) => BackupError::Corrupt(format!("{rel} is missing")),
            other => other,
        })?;
        if &found != sum {
            return Err(BackupError::Corrupt(format!(
                "{rel} differs from the manifest ({} bytes, sha256 {}; expected {} bytes, sha256 {})",
                found.bytes, found.sha256, sum.bytes, sum.sha256
            )));
        }
    }
    if !manifest.files.contains_key(DATABASE) {
        return Err(BackupError::Corrupt(format!(
            "the manifest lists no {DATABASE}"
        )));
    }
    let db = dir.join(DATABASE);
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| BackupError::Corrupt(format!("{DATABASE} does not open: {e}")))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| BackupError::Corrupt(format!("{DATABASE}: {e}")))?;
    if integrity != "ok" {
        return Err(BackupError::Corrupt(format!(
            "{DATABASE} fails SQLite's integrity check: {integrity}"
        )));
    }
    drop(conn);
    let counts = database_counts(&db)?;
    let expected = Counts {
        blobs: manifest.counts.blobs,
        blob_bytes: manifest.counts.blob_bytes,
        ..counts
    };
    if expected != manifest.counts {
        return Err(BackupError::Corrupt(format!(
            "{DATABASE} holds {} items, {} queued and {} dead messages; the manifest says {}, {} and {}",
            counts.items,
            counts.queue_messages,
            counts.dead_letters,
            manifest.counts.items,
            manifest.counts.queue_messages,
            manifest.counts.dead_letters
        )));
    }
    Ok(Verified {
        at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        integrity,
        files: manifest.files.len() as u64,
    })
}

/// Reads a backup's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest, BackupError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::NotABackup(dir.display().to_string()))
        }
        Err(e) => return Err(io(path.display(), e)),
    };
    serde_json::from_slice(&text)
        .map_err(|e| BackupError::Corrupt(format!("{MANIFEST} is unreadable: {e}")))
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| io("the manifest", e))?;
    let tmp = dir.join(".manifest.json.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &text)?;
    std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(|e| io("the manifest", e))?;
    sync_dir(dir);
    Ok(())
}

/// The backups in `dir`, oldest first, with their manifests (directories without a readable
/// manifest are skipped: they are not backups).
pub fn list(dir: &Path) -> Result<Vec<Manifest>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir.display(), e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io(dir.display(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if mostrador_core::backup::taken_at(&name).is_none() {
            continue;
        }
        if let Ok(m) = read_manifest(&entry.path()) {
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Removes the scheduled backups in `dir` that `policy` does not keep; returns their names.
/// Manual backups are the operator's and stay.
pub fn prune(
    dir: &Path,
    policy: mostrador_core::backup::Retention,
    zone: chrono_tz::Tz,
) -> Result<Vec<String>, BackupError> {
    let scheduled: Vec<Manifest> = list(dir)?
        .into_iter()
        .filter(|m| m.trigger == Trigger::Scheduled.as_str())
        .collect();
    let removed = pruned(&scheduled, policy, zone);
    for name in &removed {
        std::fs::remove_dir_all(dir.join(name)).map_err(|e| io(dir.join(name).display(), e))?;
    }
    Ok(removed)
}

fn pruned(
    scheduled: &[Manifest],
    policy: mostrador_core::backup::Retention,
    zone: chrono_tz::Tz,
) -> Vec<String> {
    let dated: Vec<(&Manifest, DateTime<Utc>)> = scheduled
        .iter()
        .filter_map(|m| m.taken().map(|t| (m, t)))
        .collect();
    let times: Vec<DateTime<Utc>> = dated.iter().map(|(_, t)| *t).collect();
    let kept = mostrador_core::backup::keep(&times, policy, zone);
    dated
        .iter()
        .enumerate()
        .filter(|(i, _)| !kept.contains(i))
        .map(|(_, (m, _))| m.name.clone())
        .collect()
}

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Opens `keys.sealed` when the backup's key is needed.
    pub passphrase: Option<String>,
    /// A copy of the backup's master key kept elsewhere.
    pub key_file: Option<PathBuf>,
    /// Replace this data directory's master key with the backup's when they differ.
    pub replace_key: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub name: String,
    pub taken_at: String,
    pub counts: Counts,
    /// Where the replaced files were moved (nothing is deleted).
    pub moved_aside: Option<PathBuf>,
    /// Whether the master key (and the secrets sealed with it) came from the backup.
    pub key_from_backup: bool,
}

/// Restores the backup in `backup` into `data_dir`. The stack must be stopped: the caller holds
/// the directory's [`DirLock`]. Everything the restore replaces is moved to
/// `data_dir/before-restore-<moment>/` first.
pub fn restore(
    backup: &Path,
    data_dir: &Path,
    options: &RestoreOptions,
    _lock: &DirLock,
) -> Result<Restored, BackupError> {
    verify(backup)?;
    let manifest = read_manifest(backup)?;
    let local = local_key_id(data_dir)?;
    // The key files to write: none when this directory already has the backup's key.
    let key_files: Option<BTreeMap<String, Vec<u8>>> = match &local {
        Some(id) if *id == manifest.key_id => None,
        Some(id) if !options.replace_key => {
            return Err(BackupError::OtherKey {
                backup: manifest.key_id.clone(),
                local: id.clone(),
            })
        }
        _ => Some(backup_key_files(backup, &manifest, options)?),
    };
    let aside = data_dir.join(format!(
        "before-restore-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    ));
    let mut moved = false;
    let mut replaced: Vec<&str> = vec![DATABASE, "mostrador.db-wal", "mostrador.db-shm", BLOBS];
    if let Some(files) = &key_files {
        replaced.extend(KEY_FILES.iter().copied().filter(|f| files.contains_key(*f)));
    }
    for name in replaced {
        let from = data_dir.join(name);
        if from.exists() {
            private_fs::create_dir(&aside).map_err(|e| io(aside.display(), e))?;
            std::fs::rename(&from, aside.join(name)).map_err(|e| io(from.display(), e))?;
            moved = true;
        }
    }
    // The database lands under a temporary name and is renamed into place once complete.
    let tmp = data_dir.join(".restoring.db");
    let _ = std::fs::remove_file(&tmp);
    copy_file(&backup.join(DATABASE), &tmp).map_err(|e| io(tmp.display(), e))?;
    let blobs_from = backup.join(BLOBS);
    if blobs_from.is_dir() {
        let tmp_blobs = data_dir.join(".restoring-blobs");
        let _ = std::fs::remove_dir_all(&tmp_blobs);
        for rel in walk(&blobs_from)? {
            copy_file(&blobs_from.join(&rel), &tmp_blobs.join(&rel))
                .map_err(|e| io(blobs_from.join(&rel).display(), e))?;
        }
        std::fs::rename(&tmp_blobs, data_dir.join(BLOBS)).map_err(|e| io("the blobs", e))?;
    }
    if let Some(files) = &key_files {
        for (name, bytes) in files {
            write_private(&data_dir.join(name), bytes)?;
        }
    }
    std::fs::rename(&tmp, data_dir.join(DATABASE)).map_err(|e| io("the database", e))?;
    sync_dir(data_dir);
    Ok(Restored {
        name: manifest.name.clone(),
        taken_at: manifest.taken_at.clone(),
        counts: manifest.counts,
        moved_aside: moved.then_some(aside),
        key_from_backup: key_files.is_some(),
    })
}

/// The backup's key files: from `--key-file` (checked against the manifest) or from
/// `keys.sealed` with the passphrase.
fn backup_key_files(
    backup: &Path,
    manifest: &Manifest,
    options: &RestoreOptions,
) -> Result<BTreeMap<String, Vec<u8>>, BackupError> {
    if let Some(path) = &options.key_file {
        let master = std::fs::read(path).map_err(|e| io(path.display(), e))?;
        if key_id(&master) != manifest.key_id {
            return Err(BackupError::KeyMissing(format!(
                "{} is not the backup's key (it has key {}, the backup needs {})",
                path.display(),
                key_id(&master),
                manifest.key_id
            )));
        }
        // The backup's own secrets come along when it carries them and the passphrase opens them.
        let mut files = match (&options.passphrase, manifest.keys_included) {
            (Some(p), true) => open_sealed_keys(backup, p)?,
            _ => BTreeMap::new(),
        };
        files.insert(MASTER_KEY.to_owned(), master);
        return Ok(files);
    }
    if !manifest.keys_included {
        return Err(BackupError::KeyMissing(format!(
            "the backup does not carry its master key (key {}): give the key file it was taken with \
             (--key-file), or take backups with MOSTRADOR_BACKUP_PASSPHRASE set",
            manifest.key_id
        )));
    }
    let Some(passphrase) = &options.passphrase else {
        return Err(BackupError::KeyMissing(
            "the backup's master key is sealed in keys.sealed: set MOSTRADOR_BACKUP_PASSPHRASE to the \
             passphrase it was taken with (or give the key file with --key-file)"
                .into(),
        ));
    };
    let files = open_sealed_keys(backup, passphrase)?;
    match files.get(MASTER_KEY) {
        Some(master) if key_id(master) == manifest.key_id => Ok(files),
        _ => Err(BackupError::Corrupt(
            "keys.sealed does not hold the key the manifest names".into(),
        )),
    }
}

/// The sealed key file: the KDF's parameters and salt, and the AES-256-GCM nonce and ciphertext.
#[derive(Serialize, Deserialize)]
struct SealedKeys {
    kdf: String,
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
    sealed: String,
}

fn derive(passphrase: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], BackupError> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| BackupError::Corrupt(format!("keys.sealed parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| BackupError::Io(format!("deriving the backup key: {e}")))?;
    Ok(key)
}

fn seal_keys(bundle: &BTreeMap<String, String>, passphrase: &str) -> Result<Vec<u8>, BackupError> {
    if passphrase.chars().count() < 12 {
        return Err(BackupError::KeyMissing(
            "the backup passphrase must have at least 12 characters".into(),
        ));
    }
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let (m, t, p) = (argon2::Params::DEFAULT_M_COST, 3, 1);
    let key = derive(passphrase, &salt, m, t, p)?;
    let plain = serde_json::to_vec(bundle).map_err(|e| io("the key bundle", e))?;
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| io("the backup key", e))?;
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: KEYS_AAD,
            },
        )
        .map_err(|_| BackupError::Io("sealing the key bundle failed".into()))?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ct);
    serde_json::to_vec_pretty(&SealedKeys {
        kdf: "argon2id".into(),
        m_cost: m,
        t_cost: t,
        p_cost: p,
        salt: B64.encode(salt),
        sealed: B64.encode(sealed),
    })
    .map_err(|e| io("the key bundle", e))
}

/// Opens `keys.sealed` with the passphrase: file name → bytes.
pub fn open_sealed_keys(
    backup: &Path,
    passphrase: &str,
) -> Result<BTreeMap<String, Vec<u8>>, BackupError> {
    let text = std::fs::read(backup.join(SEALED_KEYS))
        .map_err(|_| BackupError::Corrupt(format!("{SEALED_KEYS} is missing")))?;
    let sealed: SealedKeys = serde_json::from_slice(&text)
        .map_err(|e| BackupError::Corrupt(format!("{SEALED_KEYS}: {e}")))?;
    if sealed.kdf != "argon2id" {
        return Err(BackupError::Corrupt(format!(
            "{SEALED_KEYS}: kdf {}",
            sealed.kdf
        )));
    }
    let salt = B64
        .decode(&sealed.salt)
        .map_err(|e| BackupError::Corrupt(format!("{SEALED_KEYS}: {e}")))?;
    let blob = B64
        .decode(&sealed.sealed)
        .map_err(|e| BackupError::Corrupt(format!("{SEALED_KEYS}: {e}")))?;
    if blob.len() < 12 + 16 {
        return Err(BackupError::Corrupt(format!("{SEALED_KEYS} is too short")));
    }
    let key = derive(
        passphrase,
        &salt,
        sealed.m_cost,
        sealed.t_cost,
        sealed.p_cost,
    )?;
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| io("the backup key", e))?;
    let (nonce, ct) = blob.split_at(12);
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: KEYS_AAD,
            },
        )
        .map_err(|_| BackupError::WrongPassphrase)?;
    let bundle: BTreeMap<String, String> = serde_json::from_slice(&plain)
        .map_err(|e| BackupError::Corrupt(format!("{SEALED_KEYS}: {e}")))?;
    bundle
        .into_iter()
        .filter(|(name, _)| KEY_FILES.contains(&name.as_str()))
        .map(|(name, b64)| {
            B64.decode(b64)
                .map(|bytes| (name, bytes))
                .map_err(|e| BackupError::Corrupt(format!("{SEALED_KEYS}: {e}")))
        })
        .collect()
}

/// Copies a backup to remote storage (S3 or any Blobs engine) under its name; the manifest goes
/// last, so a remote copy without one is incomplete and not listed.
pub async fn upload(dir: &Path, remote: &dyn Blobs) -> Result<(), BackupError> {
    let manifest = read_manifest(dir)?;
    for rel in manifest.files.keys() {
        let bytes = std::fs::read(dir.join(rel)).map_err(|e| io(dir.join(rel).display(), e))?;
        remote
            .put(
                &remote_key(&manifest.name, rel),
                Bytes::from(bytes),
                "application/octet-stream",
            )
            .await
            .map_err(|e| BackupError::Remote(e.to_string()))?;
    }
    let text = std::fs::read(dir.join(MANIFEST)).map_err(|e| io("the manifest", e))?;
    remote
        .put(
            &format!("{}/{MANIFEST}", manifest.name),
            Bytes::from(text),
            "application/json",
        )
        .await
        .map_err(|e| BackupError::Remote(e.to_string()))
}

/// Where a backup's file lives in remote storage: under the backup's name. A blob's content-type
/// sidecar gets a suffix, since the Blobs port keeps names ending in `.content-type` for its own.
fn remote_key(name: &str, rel: &str) -> String {
    if rel.ends_with(".content-type") {
        format!("{name}/{rel}.sidecar")
    } else {
        format!("{name}/{rel}")
    }
}

/// The complete backups in remote storage, oldest first.
pub async fn list_remote(remote: &dyn Blobs) -> Result<Vec<Manifest>, BackupError> {
    let keys = remote
        .list(mostrador_core::backup::NAME_PREFIX)
        .await
        .map_err(|e| BackupError::Remote(e.to_string()))?;
    let mut out = Vec::new();
    for key in keys.iter().filter(|k| k.ends_with(&format!("/{MANIFEST}"))) {
        let Some(blob) = remote
            .get(key)
            .await
            .map_err(|e| BackupError::Remote(e.to_string()))?
        else {
            continue;
        };
        if let Ok(m) = serde_json::from_slice::<Manifest>(&blob.body) {
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Downloads the remote backup `name` into `into/<name>` and verifies it.
pub async fn download(remote: &dyn Blobs, name: &str, into: &Path) -> Result<PathBuf, BackupError> {
    if mostrador_core::backup::taken_at(name).is_none() {
        return Err(BackupError::NotABackup(name.to_owned()));
    }
    let get = |key: String| async move {
        remote
            .get(&key)
            .await
            .map_err(|e| BackupError::Remote(e.to_string()))?
            .ok_or(BackupError::NotABackup(key))
    };
    let manifest: Manifest = serde_json::from_slice(&get(format!("{name}/{MANIFEST}")).await?.body)
        .map_err(|e| BackupError::Corrupt(format!("{MANIFEST} is unreadable: {e}")))?;
    let dir = into.join(name);
    private_fs::create_dir(&dir).map_err(|e| io(dir.display(), e))?;
    for rel in manifest.files.keys() {
        if rel.split('/').any(|s| s == ".." || s.is_empty()) {
            return Err(BackupError::Corrupt(format!("the manifest names {rel}")));
        }
        let blob = get(remote_key(name, rel)).await?;
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            private_fs::create_dir(parent).map_err(|e| io(parent.display(), e))?;
        }
        write_private(&path, &blob.body)?;
    }
    write_manifest(&dir, &manifest)?;
    verify(&dir)?;
    Ok(dir)
}

/// Removes the remote scheduled backups `policy` does not keep; returns their names.
pub async fn prune_remote(
    remote: &dyn Blobs,
    policy: mostrador_core::backup::Retention,
    zone: chrono_tz::Tz,
) -> Result<Vec<String>, BackupError> {
    let scheduled: Vec<Manifest> = list_remote(remote)
        .await?
        .into_iter()
        .filter(|m| m.trigger == Trigger::Scheduled.as_str())
        .collect();
    let removed = pruned(&scheduled, policy, zone);
    for name in &removed {
        // The manifest first: a half-removed backup is no longer listed as one.
        let keys = remote
            .list(&format!("{name}/"))
            .await
            .map_err(|e| BackupError::Remote(e.to_string()))?;
        let manifest_key = format!("{name}/{MANIFEST}");
        remote
            .delete(&manifest_key)
            .await
            .map_err(|e| BackupError::Remote(e.to_string()))?;
        for key in keys.iter().filter(|k| **k != manifest_key) {
            remote
                .delete(key)
                .await
                .map_err(|e| BackupError::Remote(e.to_string()))?;
        }
    }
    Ok(removed)
}

fn remove_partials(dir: &Path) -> Result<(), BackupError> {
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir.display(), e))? {
        let entry = entry.map_err(|e| io(dir.display(), e))?;
        if entry.file_name().to_string_lossy().starts_with(".partial-") {
            std::fs::remove_dir_all(entry.path()).map_err(|e| io(entry.path().display(), e))?;
        }
    }
    Ok(())
}

/// Relative paths of every file under `root` (with `/` separators), sorted.
pub fn walk(root: &Path) -> Result<Vec<String>, BackupError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            // A directory removed while walking (an erasure) holds nothing to copy.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(dir.display(), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io(dir.display(), e))?;
            let name = entry.file_name();
            let child = rel.join(&name);
            let kind = entry.file_type().map_err(|e| io(child.display(), e))?;
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() && !name.to_string_lossy().starts_with(".tmp-") {
                // (`.tmp-` files are blobs being written: their finished copy is what counts.)
                let text = child
                    .to_str()
                    .ok_or_else(|| BackupError::Io(format!("{} is not UTF-8", child.display())))?;
                out.push(text.replace(std::path::MAIN_SEPARATOR, "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn copy_file(from: &Path, to: &Path) -> std::io::Result<FileSum> {
    let mut input = std::fs::File::open(from)?;
    if let Some(parent) = to.parent() {
        private_fs::create_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut output = options.open(to)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n])?;
        bytes += n as u64;
    }
    output.sync_all()?;
    Ok(FileSum {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

fn sum_file(path: &Path) -> Result<FileSum, BackupError> {
    let mut input = std::fs::File::open(path).map_err(|e| io(path.display(), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|e| io(path.display(), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSum {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io(path.display(), e))?;
    file.write_all(bytes).map_err(|e| io(path.display(), e))?;
    file.sync_all().map_err(|e| io(path.display(), e))?;
    private_fs::restrict_file(path).map_err(|e| io(path.display(), e))
}

fn sync_dir(dir: &Path) {
    // Makes renames durable where the platform allows opening a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::{Database, RowKey, SqliteTable};
    use crate::table::{Item, Key, Table};
    use crate::DirBlobs;
    use mostrador_core::SystemClock;
    use std::sync::Arc;

    const PASS: &str = "una frase larga de respaldo";

    struct Stack {
        _root: tempfile::TempDir,
        data: PathBuf,
        backups: PathBuf,
        table: SqliteTable,
        blobs: DirBlobs,
    }

    async fn stack() -> Stack {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        let keys = crate::LocalKeys::open(data.join(MASTER_KEY)).expect("key");
        let db =
            Database::open(data.join(DATABASE), RowKey::with_secret(keys.row_key())).expect("db");
        let table = SqliteTable::new(db, Arc::new(SystemClock));
        let blobs = DirBlobs::open(data.join(BLOBS)).expect("blobs");
        std::fs::write(data.join("secrets.json"), br#"{"admin_key":"k"}"#).expect("secrets");
        for i in 0..25 {
            table
                .put(
                    Item::new(&Key::new("M#m1#ORDER", format!("O{i:03}"))).with("total", "100"),
                    None,
                )
                .await
                .expect("put");
        }
        blobs
            .put(
                "invoices/m1/I1/cfdi.xml",
                Bytes::from_static(b"<cfdi/>"),
                "application/xml",
            )
            .await
            .expect("blob");
        Stack {
            backups: root.path().join("backups"),
            _root: root,
            data,
            table,
            blobs,
        }
    }

    fn options(passphrase: Option<&str>) -> TakeOptions {
        TakeOptions {
            trigger: Trigger::Manual,
            passphrase: passphrase.map(str::to_owned),
            now: Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_backup_holds_the_records_and_files_and_restores_into_an_empty_directory() {
        let s = stack().await;
        let m = take(&s.data, &s.backups, &options(Some(PASS))).expect("backup");
        assert_eq!(m.counts.items, 25);
        assert_eq!(m.counts.blobs, 1);
        assert!(m.keys_included);
        assert_eq!(
            m.verified.as_ref().map(|v| v.integrity.as_str()),
            Some("ok")
        );
        let dir = s.backups.join(&m.name);
        // The key is never in clear in a backup.
        let master = std::fs::read(s.data.join(MASTER_KEY)).expect("key");
        for rel in walk(&dir).expect("walk") {
            let bytes = std::fs::read(dir.join(&rel)).expect("read");
            assert!(
                !bytes.windows(master.len()).any(|w| w == master.as_slice()),
                "{rel} holds the master key in clear"
            );
        }
        // Restored where there is nothing: the key and secrets come from keys.sealed.
        let target = s._root.path().join("elsewhere");
        let lock = DirLock::acquire(&target).expect("lock");
        let restored = restore(
            &dir,
            &target,
            &RestoreOptions {
                passphrase: Some(PASS.into()),
                ..Default::default()
            },
            &lock,
        )
        .expect("restore");
        assert!(restored.key_from_backup);
        assert_eq!(std::fs::read(target.join(MASTER_KEY)).expect("key"), master);
        assert_eq!(
            std::fs::read(target.join("secrets.json")).expect("secrets"),
            br#"{"admin_key":"k"}"#
        );
        let keys = crate::LocalKeys::open(target.join(MASTER_KEY)).expect("key");
        let db =
            Database::open(target.join(DATABASE), RowKey::with_secret(keys.row_key())).expect("db");
        let table = SqliteTable::new(db, Arc::new(SystemClock));
        let item = table
            .get(&Key::new("M#m1#ORDER", "O024"))
            .await
            .expect("get");
        assert!(item.is_some());
        let blobs = DirBlobs::open(target.join(BLOBS)).expect("blobs");
        let blob = blobs.get("invoices/m1/I1/cfdi.xml").await.expect("get");
        assert_eq!(blob.map(|b| b.content_type), Some("application/xml".into()));
    }

    #[tokio::test]
    async fn a_damaged_backup_is_refused_before_anything_is_touched() {
        let s = stack().await;
        let m = take(&s.data, &s.backups, &options(None)).expect("backup");
        let dir = s.backups.join(&m.name);
        // One byte changed in the middle of the database copy.
        let path = dir.join(DATABASE);
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(verify(&dir), Err(BackupError::Corrupt(_))));
        let lock = DirLock::acquire(&s.data).expect("lock");
        let before = std::fs::read(s.data.join(DATABASE)).expect("db");
        let err = restore(&dir, &s.data, &RestoreOptions::default(), &lock).expect_err("damaged");
        assert!(matches!(err, BackupError::Corrupt(_)), "{err}");
        assert_eq!(std::fs::read(s.data.join(DATABASE)).expect("db"), before);
        // A missing blob is found too.
        let m2 = take(&s.data, &s.backups, &options(None)).expect("backup");
        let dir2 = s.backups.join(&m2.name);
        std::fs::remove_file(dir2.join("blobs/invoices/m1/I1/cfdi.xml")).expect("rm");
        let err = verify(&dir2).expect_err("missing");
        assert!(err.to_string().contains("cfdi.xml is missing"), "{err}");
    }

    #[tokio::test]
    async fn another_deployments_backup_is_refused_unless_the_key_is_replaced() {
        let s = stack().await;
        let m = take(&s.data, &s.backups, &options(Some(PASS))).expect("backup");
        let dir = s.backups.join(&m.name);
        let other = s._root.path().join("other");
        crate::LocalKeys::open(other.join(MASTER_KEY)).expect("other key");
        let lock = DirLock::acquire(&other).expect("lock");
        let opts = RestoreOptions {
            passphrase: Some(PASS.into()),
            ..Default::default()
        };
        let err = restore(&dir, &other, &opts, &lock).expect_err("other key");
        assert!(matches!(err, BackupError::OtherKey { .. }), "{err}");
        assert!(!other.join(DATABASE).exists(), "nothing restored");
        let wrong = RestoreOptions {
            passphrase: Some("otra frase equivocada".into()),
            replace_key: true,
            ..Default::default()
        };
        assert!(matches!(
            restore(&dir, &other, &wrong, &lock),
            Err(BackupError::WrongPassphrase)
        ));
        let old_key = std::fs::read(other.join(MASTER_KEY)).expect("key");
        let done = restore(
            &dir,
            &other,
            &RestoreOptions {
                replace_key: true,
                ..opts
            },
            &lock,
        )
        .expect("replace");
        let aside = done.moved_aside.expect("moved aside");
        assert_eq!(std::fs::read(aside.join(MASTER_KEY)).expect("old"), old_key);
        assert_eq!(local_key_id(&other).expect("id"), Some(m.key_id));
    }

    #[tokio::test]
    async fn without_a_passphrase_the_backup_needs_its_key_file() {
        let s = stack().await;
        let m = take(&s.data, &s.backups, &options(None)).expect("backup");
        assert!(!m.keys_included);
        assert!(!s.backups.join(&m.name).join(SEALED_KEYS).exists());
        let target = s._root.path().join("new");
        let lock = DirLock::acquire(&target).expect("lock");
        let err = restore(
            &s.backups.join(&m.name),
            &target,
            &RestoreOptions::default(),
            &lock,
        )
        .expect_err("no key");
        assert!(matches!(err, BackupError::KeyMissing(_)), "{err}");
        restore(
            &s.backups.join(&m.name),
            &target,
            &RestoreOptions {
                key_file: Some(s.data.join(MASTER_KEY)),
                ..Default::default()
            },
            &lock,
        )
        .expect("with the key file");
        assert_eq!(local_key_id(&target).expect("id"), Some(m.key_id));
    }

    #[tokio::test]
    async fn a_backup_taken_while_writes_go_on_is_consistent() {
        let s = stack().await;
        let table = s.table.clone();
        let writer = tokio::spawn(async move {
            for i in 0..400 {
                table
                    .put(
                        Item::new(&Key::new("M#m1#ORDER", format!("W{i:04}"))).with("n", "1"),
                        None,
                    )
                    .await
                    .expect("put");
            }
        });
        let data = s.data.clone();
        let backups = s.backups.clone();
        let m = tokio::task::spawn_blocking(move || take(&data, &backups, &options(None)))
            .await
            .expect("join")
            .expect("backup");
        writer.await.expect("writer");
        assert!(
            m.counts.items >= 25 && m.counts.items <= 425,
            "{}",
            m.counts.items
        );
        verify(&s.backups.join(&m.name)).expect("verified");
        let _ = &s.blobs;
    }

    #[tokio::test]
    async fn the_lock_keeps_a_second_holder_out() {
        let root = tempfile::tempdir().expect("tempdir");
        let first = DirLock::acquire(root.path()).expect("first");
        assert!(matches!(
            DirLock::acquire(root.path()),
            Err(BackupError::Busy(_))
        ));
        drop(first);
        DirLock::acquire(root.path()).expect("free again");
    }

    #[tokio::test]
    async fn retention_prunes_scheduled_backups_only_and_remote_copies_round_trip() {
        let s = stack().await;
        let zone = chrono_tz::America::Mexico_City;
        let day = chrono::Duration::days(1);
        let start = Utc::now() - day * 10;
        let mut names = Vec::new();
        for d in 0..10 {
            let m = take(
                &s.data,
                &s.backups,
                &TakeOptions {
                    trigger: Trigger::Scheduled,
                    passphrase: None,
                    now: start + day * d,
                },
            )
            .expect("backup");
            names.push(m.name);
        }
        let manual = take(
            &s.data,
            &s.backups,
            &TakeOptions {
                now: start - day * 30,
                ..options(None)
            },
        )
        .expect("manual");
        let policy = mostrador_core::backup::Retention {
            daily: 3,
            weekly: 0,
            monthly: 0,
        };
        let removed = prune(&s.backups, policy, zone).expect("prune");
        assert_eq!(removed, names[..7].to_vec());
        let left: Vec<String> = list(&s.backups)
            .expect("list")
            .into_iter()
            .map(|m| m.name)
            .collect();
        let mut expected = vec![manual.name.clone()];
        expected.extend(names[7..].iter().cloned());
        assert_eq!(left, expected);

        // A remote copy (any Blobs engine; S3 in production) lists, downloads and prunes alike.
        let remote = DirBlobs::open(s._root.path().join("remote")).expect("remote");
        for name in &left {
            upload(&s.backups.join(name), &remote)
                .await
                .expect("upload");
        }
        let listed: Vec<String> = list_remote(&remote)
            .await
            .expect("list")
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(listed, left);
        let down = s._root.path().join("down");
        let dir = download(&remote, &names[9], &down).await.expect("download");
        verify(&dir).expect("verified after download");
        let one_day = mostrador_core::backup::Retention {
            daily: 1,
            weekly: 0,
            monthly: 0,
        };
        let removed = prune_remote(&remote, one_day, zone).await.expect("prune");
        assert_eq!(removed, names[7..9].to_vec());
        assert!(remote
            .list(&format!("{}/", names[7]))
            .await
            .expect("list")
            .is_empty());
    }
}
