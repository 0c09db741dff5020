//! The commands that keep the one box's data safe: `mostrador backup`, `backups`, `verify`,
//! `restore` and `check`. They print for an operator at a terminal and exit non-zero on failure.

use crate::backups::{self, Plan};
use anyhow::Context;
use mostrador_app::flows::upkeep::{self as records_check, Finding, Severity};
use mostrador_app::platform::config::Engine;
use mostrador_app::{Config, Deps};
use mostrador_store::backup::{self as store_backup, DirLock, Manifest, RestoreOptions, Trigger};
use serde::Serialize;
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("MOSTRADOR_DATA_DIR")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| ".mostrador".into()),
    )
}

/// Backups are of the embedded engine; the AWS engine has its own.
fn embedded_only(what: &str) -> anyhow::Result<()> {
    let engine = std::env::var("MOSTRADOR_ENGINE").unwrap_or_default();
    anyhow::ensure!(
        engine.trim().is_empty() || engine.trim() == "embedded",
        "{what} is for the embedded engine; with MOSTRADOR_ENGINE=aws the table has point-in-time \
         recovery and the bucket keeps versions (infra/template.yaml)"
    );
    Ok(())
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn describe(m: &Manifest) -> String {
    let bytes: u64 = m.files.values().map(|f| f.bytes).sum();
    format!(
        "{}  {:<9}  {} items, {} queued, {} dead letters, {} files; {}; key {}{}",
        m.name,
        m.trigger,
        m.counts.items,
        m.counts.queue_messages,
        m.counts.dead_letters,
        m.counts.blobs,
        size(bytes),
        m.key_id,
        if m.keys_included {
            " (sealed inside)"
        } else {
            " (not inside)"
        }
    )
}

/// `mostrador backup`.
pub async fn backup(to: Option<PathBuf>) -> anyhow::Result<()> {
    embedded_only("mostrador backup")?;
    let mut plan = Plan::from_env(&data_dir())?;
    if let Some(to) = to {
        plan.dir = to;
    }
    let done = backups::run_once(&plan, Trigger::Manual).await?;
    println!(
        "backup {} verified: {}",
        plan.dir.join(&done.manifest.name).display(),
        describe(&done.manifest)
    );
    if done.uploaded {
        if let Some(remote) = &plan.remote {
            println!("copied to {}/{}", remote.describe(), done.manifest.name);
        }
    }
    if !done.manifest.keys_included {
        println!(
            "the master key is not in the backup: keep a copy of {} apart from it, or set \
             MOSTRADOR_BACKUP_PASSPHRASE to seal it inside",
            plan.data_dir.join(store_backup::MASTER_KEY).display()
        );
    }
    Ok(())
}

/// `mostrador backups`.
pub async fn list() -> anyhow::Result<()> {
    embedded_only("mostrador backups")?;
    let plan = Plan::from_env(&data_dir())?;
    let local = store_backup::list(&plan.dir)?;
    println!("{} ({} backups)", plan.dir.display(), local.len());
    for m in &local {
        println!("  {}", describe(m));
    }
    if let Some(remote) = &plan.remote {
        let store = remote.open().await;
        let found = store_backup::list_remote(store.as_ref()).await?;
        println!("{} ({} backups)", remote.describe(), found.len());
        for m in &found {
            println!("  {}", describe(m));
        }
    }
    Ok(())
}

/// A backup named on the command line, fetched into a temporary directory when remote.
async fn locate(plan: &Plan, backup: &str) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    if let Some(name) = backup.strip_prefix("s3:") {
        let remote = plan
            .remote
            .as_ref()
            .context("s3:NAME needs MOSTRADOR_BACKUP_S3_BUCKET (and the other MOSTRADOR_BACKUP_S3_ variables it was taken with)")?;
        let store = remote.open().await;
        let temp = tempfile::Builder::new()
            .prefix("mostrador-restore-")
            .tempdir()
            .context("a temporary directory for the download")?;
        let dir = store_backup::download(store.as_ref(), name.trim_start_matches('/'), temp.path())
            .await
            .with_context(|| format!("fetching {name} from {}", remote.describe()))?;
        return Ok((dir, Some(temp)));
    }
    let path = PathBuf::from(backup);
    // A bare name is looked up in the backup directory.
    if !path.exists() && !backup.contains('/') && plan.dir.join(backup).exists() {
        return Ok((plan.dir.join(backup), None));
    }
    Ok((path, None))
}

/// `mostrador verify`.
pub async fn verify(backup: &str) -> anyhow::Result<()> {
    let plan = Plan::from_env(&data_dir())?;
    let (dir, _temp) = locate(&plan, backup).await?;
    let verified = store_backup::verify(&dir)?;
    let manifest = store_backup::read_manifest(&dir)?;
    if manifest.keys_included {
        if let Some(p) = &plan.passphrase {
            store_backup::open_sealed_keys(&dir, p)?;
        }
    }
    println!(
        "{} is sound: {} files match their SHA-256, SQLite integrity {}, counts as recorded\n  {}",
        dir.display(),
        verified.files,
        verified.integrity,
        describe(&manifest)
    );
    Ok(())
}

/// `mostrador restore`.
pub async fn restore(
    backup: &str,
    key_file: Option<PathBuf>,
    replace_key: bool,
) -> anyhow::Result<()> {
    embedded_only("mostrador restore")?;
    let data_dir = data_dir();
    let plan = Plan::from_env(&data_dir)?;
    let (dir, _temp) = locate(&plan, backup).await?;
    let lock = DirLock::acquire(&data_dir)?;
    let options = RestoreOptions {
        passphrase: plan.passphrase.clone(),
        key_file,
        replace_key,
    };
    let target = data_dir.clone();
    let restored =
        tokio::task::spawn_blocking(move || store_backup::restore(&dir, &target, &options, &lock))
            .await
            .context("the restore task")??;
    println!(
        "restored {} (taken {}) into {}: {} items, {} queued messages, {} files{}",
        restored.name,
        restored.taken_at,
        data_dir.display(),
        restored.counts.items,
        restored.counts.queue_messages,
        restored.counts.blobs,
        if restored.key_from_backup {
            "; master key and secrets from the backup"
        } else {
            ""
        }
    );
    if let Some(aside) = &restored.moved_aside {
        println!("what it replaced is in {}", aside.display());
    }
    println!(
        "start the stack: messages queued at the backup's moment are processed once; what arrived \
         after it is not in the backup"
    );
    Ok(())
}

/// The data directory's database, its rows opened with the directory's master key (which is never
/// made here: a new key would open nothing).
fn open_database(data_dir: &std::path::Path) -> anyhow::Result<mostrador_store::sqlite::Database> {
    let key_file = data_dir.join(store_backup::MASTER_KEY);
    anyhow::ensure!(
        key_file.is_file(),
        "{} is missing: the database's rows open only with the master key they were sealed with \
         (restore it from a backup)",
        key_file.display()
    );
    let keys = mostrador_store::LocalKeys::open(&key_file)?;
    let rows = mostrador_store::sqlite::RowKey::with_secret(keys.row_key());
    Ok(mostrador_store::sqlite::Database::open(
        data_dir.join(store_backup::DATABASE),
        rows,
    )?)
}

#[derive(Serialize)]
struct CheckOutput {
    data_dir: String,
    file: Option<mostrador_store::sqlite::FileCheck>,
    queues: Vec<mostrador_queue::sqlite::QueueHealth>,
    records: records_check::Report,
    findings: Vec<Finding>,
    ok: bool,
}

/// `mostrador check`: true when nothing is broken.
pub async fn check(json: bool) -> anyhow::Result<bool> {
    let data_dir = data_dir();
    let config = Config::load().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let embedded = config.engine == Engine::Embedded;
    if embedded {
        anyhow::ensure!(
            data_dir.join(store_backup::DATABASE).is_file(),
            "{} has no {}: not a mostrador data directory (set MOSTRADOR_DATA_DIR)",
            data_dir.display(),
            store_backup::DATABASE
        );
    }
    let mut findings = Vec::new();
    let (mut file, mut queues) = (None, Vec::new());
    if embedded {
        let now = chrono::Utc::now().timestamp();
        let opened = open_database(&data_dir);
        let (db, found) = match opened {
            Ok(db) => match mostrador_store::sqlite::check_file(&db, now).await {
                Ok(found) => (db, found),
                Err(e) => return Ok(unreadable_database(&data_dir, &e.to_string(), json)),
            },
            Err(e) => return Ok(unreadable_database(&data_dir, &e.to_string(), json)),
        };
        if found.integrity != ["ok"] {
            findings.push(Finding {
                severity: Severity::Error,
                check: "database_integrity",
                detail: format!(
                    "SQLite's integrity check: {} (restore the newest backup: mostrador restore)",
                    found.integrity.join("; ")
                ),
            });
        }
        if found.unreadable_items > 0 {
            findings.push(Finding {
                severity: Severity::Error,
                check: "unreadable_items",
                detail: format!("{} items cannot be read", found.unreadable_items),
            });
        }
        file = Some(found);
        let clock: std::sync::Arc<dyn mostrador_core::Clock> =
            std::sync::Arc::new(mostrador_core::SystemClock);
        for spec in mostrador_app::platform::deps::queue_specs() {
            let max = spec.max_receives;
            let queue = mostrador_queue::sqlite::SqliteQueue::new(db.clone(), spec, clock.clone());
            let h = queue.health().await?;
            if h.unreadable > 0 {
                findings.push(Finding {
                    severity: Severity::Error,
                    check: "queue_message_unreadable",
                    detail: format!("{}: {} messages are not JSON", h.queue, h.unreadable),
                });
            }
            if h.dead > 0 {
                findings.push(Finding {
                    severity: Severity::Warning,
                    check: "dead_letters",
                    detail: format!(
                        "{}: {} messages failed {max} times and wait for a person \
                         (GET /v1/admin/queues/{}/dead-letters, then POST …/replay)",
                        h.queue, h.dead, h.queue
                    ),
                });
            }
            if h.exhausted > 0 {
                findings.push(Finding {
                    severity: Severity::Warning,
                    check: "queue_message_exhausted",
                    detail: format!(
                        "{}: {} messages were received {max} times; the next receive moves them to the dead letters",
                        h.queue, h.exhausted
                    ),
                });
            }
            queues.push(h);
        }
    }
    let deps = Deps::build(config)
        .await
        .context("opening the storage engines")?;
    let records = records_check::check(&deps)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    findings.extend(records.findings.iter().cloned());
    let ok = !findings.iter().any(|f| f.severity == Severity::Error);
    let output = CheckOutput {
        data_dir: data_dir.display().to_string(),
        file,
        queues,
        records,
        findings,
        ok,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print_report(&output);
    }
    Ok(ok)
}

/// The report when SQLite cannot read the file at all: always a failure.
fn unreadable_database(data_dir: &std::path::Path, error: &str, json: bool) -> bool {
    let finding = Finding {
        severity: Severity::Error,
        check: "database_integrity",
        detail: format!(
            "{} cannot be read: {error}. Restore the newest backup (mostrador backups; stop the \
             stack; mostrador restore NAME)",
            data_dir.join(store_backup::DATABASE).display()
        ),
    };
    if json {
        let out = serde_json::json!({
            "data_dir": data_dir.display().to_string(),
            "findings": [finding],
            "ok": false,
        });
        println!("{out:#}");
    } else {
        println!(
            "mostrador check of {}\n  ERROR      {}: {}\nPROBLEMS FOUND: 1 errors, 0 warnings",
            data_dir.display(),
            finding.check,
            finding.detail
        );
    }
    false
}

fn print_report(out: &CheckOutput) {
    println!("mostrador check of {}", out.data_dir);
    if let Some(f) = &out.file {
        println!(
            "  database   integrity {}; {} items ({} unreadable, {} expired waiting for the purge); {}",
            f.integrity.join("; "),
            f.items,
            f.unreadable_items,
            f.expired_items,
            size(f.bytes)
        );
    }
    for q in &out.queues {
        println!(
            "  queue      {:<10} {} ready, {} delayed, {} in flight, {} dead{}",
            q.queue,
            q.ready,
            q.delayed,
            q.in_flight,
            q.dead,
            q.oldest_ready_ms
                .map(|ms| format!("; oldest ready {} s", ms / 1000))
                .unwrap_or_default()
        );
    }
    let r = &out.records;
    println!(
        "  records    {} items of {} merchants; {} stamped CFDI; {} files, {} named by records",
        r.items, r.merchants, r.invoices_with_files, r.files, r.files_referenced
    );
    for f in &out.findings {
        let mark = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "warning",
        };
        println!("  {mark:<9}  {}: {}", f.check, f.detail);
    }
    let errors = out
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    println!(
        "{}: {} errors, {} warnings",
        if out.ok { "OK" } else { "PROBLEMS FOUND" },
        errors,
        out.findings.len() - errors
    );
}

/// The file that marks a data directory whose data was moved to the AWS engine.
pub const MOVED: &str = "MOVED.json";

/// `mostrador move-to-aws`: everything of the embedded data directory into the AWS engine the
/// environment names (MOSTRADOR_ENGINE=aws and its variables), with the stack stopped.
pub async fn move_to_aws(into_nonempty: bool, leave_dead_letters: bool) -> anyhow::Result<()> {
    let config = Config::load().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        config.engine == Engine::Aws,
        "set MOSTRADOR_ENGINE=aws and the AWS variables of the target (README, Configuration); \
         the data comes from MOSTRADOR_DATA_DIR"
    );
    let data_dir = config.data_dir.clone();
    anyhow::ensure!(
        data_dir.join(store_backup::DATABASE).is_file(),
        "{} has no {}: nothing to move",
        data_dir.display(),
        store_backup::DATABASE
    );
    anyhow::ensure!(
        !data_dir.join(MOVED).exists(),
        "{} was moved already ({}); remove that file to move it again",
        data_dir.display(),
        data_dir.join(MOVED).display()
    );
    let _lock = DirLock::acquire(&data_dir)?;
    let clock: std::sync::Arc<dyn mostrador_core::Clock> =
        std::sync::Arc::new(mostrador_core::SystemClock);
    let db = open_database(&data_dir)?;
    for spec in mostrador_app::platform::deps::queue_specs() {
        // Delayed retries go now rather than stay behind.
        mostrador_queue::sqlite::SqliteQueue::new(db.clone(), spec, clock.clone())
            .make_visible_now()
            .await?;
    }
    drop(db);
    let source = Deps::embedded(config.clone(), clock.clone())
        .await
        .context("opening the data directory")?;
    let target = Deps::aws(config.clone(), clock)
        .await
        .context("opening the AWS engine")?;
    let moved = mostrador_app::flows::upkeep::move_all(
        &source,
        &target,
        mostrador_app::flows::upkeep::MoveOptions {
            into_nonempty,
            leave_dead_letters,
        },
    )
    .await?;
    let kms_key = target.config.aws.kms_key_id.clone().unwrap_or_default();
    let record = serde_json::json!({
        "moved_at": chrono::Utc::now().to_rfc3339(),
        "table": config.aws.table,
        "bucket": config.aws.bucket,
        "kms_key_id": kms_key,
        "report": moved,
    });
    std::fs::write(data_dir.join(MOVED), serde_json::to_vec_pretty(&record)?)
        .context("recording the move")?;
    println!(
        "moved {} items ({} sealed values sealed again with KMS key {kms_key}), {} files and {} queued messages of {} into table {} and bucket {}; all {} items read back equal",
        moved.items,
        moved.resealed,
        moved.files,
        moved.queued.values().sum::<u64>(),
        moved.merchants.join(", "),
        config.aws.table,
        config.aws.bucket,
        moved.verified
    );
    println!(
        "{} now refuses to start on this directory (its messages live in AWS); the deployment now \
         names customers with this box's pseudonym key: restart any function that already ran \
         (`sam deploy` again, or change a setting), then point Meta's webhook and the payment \
         providers at the deployed API",
        data_dir.join(MOVED).display()
    );
    Ok(())
}
