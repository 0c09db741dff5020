//! Backups of the one box: the plan read from the environment, the scheduled task of the running
//! stack, and the steps behind `mostrador backup`, `restore` and `check` (see README, "Backups").

use crate::schedule::{self, Expression};
use anyhow::Context;
use chrono::{DateTime, Utc};
use mostrador_core::backup::Retention;
use mostrador_store::backup::{self as store_backup, Manifest, TakeOptions, Trigger};
use mostrador_store::{Blobs, S3Blobs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where and when backups are taken, and how many are kept.
#[derive(Clone)]
pub struct Plan {
    pub data_dir: PathBuf,
    /// `MOSTRADOR_BACKUP_DIR` (default `<data dir>/backups`).
    pub dir: PathBuf,
    /// `MOSTRADOR_BACKUP_SCHEDULE` (default `cron(0 3 * * ? *)`: 03:00 in Mexico City).
    pub schedule: Expression,
    pub schedule_text: String,
    /// `MOSTRADOR_BACKUP_KEEP` (default `7d,4w,12m`).
    pub keep: Retention,
    /// `MOSTRADOR_BACKUP_PASSPHRASE`: seals the master key into each backup.
    pub passphrase: Option<String>,
    /// `MOSTRADOR_BACKUP_S3_BUCKET` and friends: a copy of every backup off the machine.
    pub remote: Option<Remote>,
    /// `MOSTRADOR_BACKUPS=off` turns scheduled backups off (the commands still work).
    pub scheduled: bool,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("dir", &self.dir)
            .field("schedule", &self.schedule_text)
            .field("keep", &self.keep.to_string())
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<set>"))
            .field("remote", &self.remote.as_ref().map(|r| r.describe()))
            .field("scheduled", &self.scheduled)
            .finish()
    }
}

/// S3 or an S3-compatible store (MinIO, Cloudflare R2, DigitalOcean Spaces) for copies of backups.
#[derive(Clone)]
pub struct Remote {
    pub bucket: String,
    pub prefix: String,
    pub endpoint: Option<String>,
}

impl Remote {
    /// `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// The store, with credentials from the usual AWS chain (environment, profile, instance role).
    pub async fn open(&self) -> Arc<dyn Blobs> {
        let sdk = mostrador_store::aws::sdk_config(self.endpoint.as_deref()).await;
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(self.endpoint.is_some())
            .build();
        Arc::new(
            S3Blobs::new(aws_sdk_s3::Client::from_conf(conf), self.bucket.clone())
                .with_prefix(self.prefix.clone()),
        )
    }
}

/// An environment variable's value, blank counting as unset.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Plan {
    /// Reads the plan from the environment.
    pub fn from_env(data_dir: &Path) -> anyhow::Result<Self> {
        let schedule_text =
            var("MOSTRADOR_BACKUP_SCHEDULE").unwrap_or_else(|| "cron(0 3 * * ? *)".into());
        let schedule = schedule::parse(&schedule_text).map_err(|e| {
            anyhow::anyhow!(
                "MOSTRADOR_BACKUP_SCHEDULE: {e} (e.g. cron(0 3 * * ? *) or rate(6 hours))"
            )
        })?;
        let keep = match var("MOSTRADOR_BACKUP_KEEP") {
            Some(text) => text
                .parse()
                .map_err(|e| anyhow::anyhow!("MOSTRADOR_BACKUP_KEEP: {e}"))?,
            None => Retention::default(),
        };
        let passphrase = var("MOSTRADOR_BACKUP_PASSPHRASE");
        if let Some(p) = &passphrase {
            anyhow::ensure!(
                p.chars().count() >= 12,
                "MOSTRADOR_BACKUP_PASSPHRASE: must have at least 12 characters"
            );
        }
        let scheduled = match var("MOSTRADOR_BACKUPS").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => anyhow::bail!("MOSTRADOR_BACKUPS: must be on or off"),
        };
        let remote = var("MOSTRADOR_BACKUP_S3_BUCKET").map(|bucket| Remote {
            bucket,
            prefix: var("MOSTRADOR_BACKUP_S3_PREFIX").unwrap_or_else(|| "mostrador-backups".into()),
            endpoint: var("MOSTRADOR_BACKUP_S3_ENDPOINT"),
        });
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            dir: var("MOSTRADOR_BACKUP_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("backups")),
            schedule,
            schedule_text,
            keep,
            passphrase,
            remote,
            scheduled,
        })
    }

    /// One line for the banner (no secret: only whether a passphrase is set).
    pub fn describe(&self) -> String {
        if !self.scheduled {
            return "off (MOSTRADOR_BACKUPS=off)".into();
        }
        let key = if self.passphrase.is_some() {
            "master key sealed in each backup"
        } else {
            "master key NOT included: keep a copy of master.key elsewhere, or set MOSTRADOR_BACKUP_PASSPHRASE"
        };
        let remote = self
            .remote
            .as_ref()
            .map(|r| format!(", copied to {}", r.describe()))
            .unwrap_or_default();
        format!(
            "{} into {}, keeping {}{remote}; {key}",
            self.schedule_text,
            self.dir.display(),
            self.keep
        )
    }
}

/// What one backup run did.
#[derive(Debug)]
pub struct Outcome {
    pub manifest: Manifest,
    pub pruned: Vec<String>,
    pub uploaded: bool,
    pub remote_pruned: Vec<String>,
}

/// Takes, verifies and prunes one backup (and copies it off the machine when a remote is set).
pub async fn run_once(plan: &Plan, trigger: Trigger) -> anyhow::Result<Outcome> {
    let options = TakeOptions {
        trigger,
        passphrase: plan.passphrase.clone(),
        now: Utc::now(),
    };
    let (data_dir, dir) = (plan.data_dir.clone(), plan.dir.clone());
    let manifest =
        tokio::task::spawn_blocking(move || store_backup::take(&data_dir, &dir, &options))
            .await
            .context("the backup task")??;
    let pruned = if trigger == Trigger::Scheduled {
        let (dir, keep) = (plan.dir.clone(), plan.keep);
        tokio::task::spawn_blocking(move || store_backup::prune(&dir, keep, schedule::TIMEZONE))
            .await
            .context("the pruning task")??
    } else {
        Vec::new()
    };
    let (mut uploaded, mut remote_pruned) = (false, Vec::new());
    if let Some(remote) = &plan.remote {
        let store = remote.open().await;
        store_backup::upload(&plan.dir.join(&manifest.name), store.as_ref())
            .await
            .with_context(|| format!("copying {} to {}", manifest.name, remote.describe()))?;
        uploaded = true;
        if trigger == Trigger::Scheduled {
            remote_pruned =
                store_backup::prune_remote(store.as_ref(), plan.keep, schedule::TIMEZONE).await?;
        }
    }
    Ok(Outcome {
        manifest,
        pruned,
        uploaded,
        remote_pruned,
    })
}

/// When the newest backup in `dir` was taken.
fn newest(dir: &Path) -> Option<DateTime<Utc>> {
    store_backup::list(dir)
        .ok()?
        .iter()
        .filter_map(Manifest::taken)
        .max()
}

/// The scheduled backups of a running stack: one soon after start when the newest backup is more
/// than a day old (a box that was off at 03:00 still gets its nightly backup), then at every
/// firing of the schedule.
pub fn spawn(plan: Plan, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let now = Utc::now();
        let overdue = newest(&plan.dir).is_none_or(|t| now - t > chrono::Duration::hours(24));
        let mut next = if overdue {
            now + chrono::Duration::seconds(5)
        } else {
            plan.schedule.next_after(now)
        };
        loop {
            if *shutdown.borrow() {
                break;
            }
            if Utc::now() >= next {
                match run_once(&plan, Trigger::Scheduled).await {
                    Ok(done) => tracing::info!(
                        backup = %done.manifest.name,
                        items = done.manifest.counts.items,
                        files = done.manifest.counts.blobs,
                        pruned = done.pruned.len(),
                        uploaded = done.uploaded,
                        "backup taken and verified"
                    ),
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "backup failed; the next one runs at its next firing")
                    }
                }
                next = plan.schedule.next_after(Utc::now());
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}
