//! Idempotency records on the Table, after the Powertools design: a conditional put claims the key
//! before the effect (`INPROGRESS`, expiring with the caller's deadline), the result is stored after it
//! (`COMPLETED`, expiring after the retention), a repeat gets the stored result, a reused key with a
//! different payload is rejected, and a failed effect removes the claim so a retry can run it again.

use crate::table::{Condition, Item, Key, StoreError, Table, TxOp, Update, Value};
use mostrador_core::Clock;
use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

/// Errors of an idempotent operation.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError<E> {
    /// Another invocation holds the key and has not finished; retry after its deadline.
    #[error("an earlier attempt with this key is still in progress")]
    InProgress,
    /// The key was used before with a different payload.
    #[error("this idempotency key was used with a different payload")]
    PayloadMismatch,
    /// The stored result could not be read back as the expected type.
    #[error("stored result is unreadable: {0}")]
    Corrupt(String),
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The effect itself failed; the claim was removed.
    #[error("effect failed: {0}")]
    Effect(E),
}

/// What an idempotent run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The effect ran now.
    Fresh(T),
    /// The effect ran before; this is its stored result.
    Replayed(T),
}

impl<T> Outcome<T> {
    /// The result, fresh or replayed.
    pub fn into_inner(self) -> T {
        match self {
            Outcome::Fresh(t) | Outcome::Replayed(t) => t,
        }
    }

    /// Whether the effect ran before.
    pub fn is_replay(&self) -> bool {
        matches!(self, Outcome::Replayed(_))
    }
}

/// The state of a key after [`Idempotency::claim`].
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The caller now holds the key and must complete or release it.
    Acquired,
    /// The effect already ran; its stored result (JSON).
    Completed(serde_json::Value),
}

/// Idempotency records under `IDEM#{scope}#{id}`.
#[derive(Clone)]
pub struct Idempotency {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    retention: Duration,
    /// This process's id, when one process owns the store (see [`Idempotency::owned_by_this_process`]).
    owner: Option<String>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("retention", &self.retention)
            .finish()
    }
}

/// SHA-256 hex of a payload, stored to detect reused keys.
pub fn payload_hash(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

impl Idempotency {
    /// Records kept for `retention` after completion (at least as long as the source may redeliver).
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, retention: Duration) -> Self {
        Self {
            table,
            clock,
            retention,
            owner: None,
        }
    }

    /// For a store that one process owns (the embedded engine): claims are marked with this
    /// process's id, and a claim left in progress by an earlier process (one that crashed) is taken
    /// over at once instead of after its deadline, so redeliveries after a restart are not refused.
    pub fn owned_by_this_process(mut self) -> Self {
        self.owner = Some(uuid::Uuid::new_v4().simple().to_string());
        self
    }

    fn key(scope: &str, id: &str) -> Key {
        Key::new(format!("IDEM#{scope}#{id}"), "IDEM")
    }

    /// Claims `scope`/`id` until `deadline_ms` (the invocation's deadline, epoch ms).
    pub async fn claim<E>(
        &self,
        scope: &str,
        id: &str,
        payload: &[u8],
        deadline_ms: i64,
    ) -> Result<Claim, IdempotencyError<E>> {
        let key = Self::key(scope, id);
        let now_ms = self.clock.now_ms();
        let hash = payload_hash(payload);
        let retention_secs = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX / 2);
        let mut item = Item::new(&key)
            .with("status", IN_PROGRESS)
            .with("payload_hash", hash.as_str())
            .with("in_progress_expiration", deadline_ms)
            .with("ttl", self.clock.now_secs().saturating_add(retention_secs));
        // Absent (or expired, which the Table treats as absent), or abandoned by a caller whose
        // deadline has passed, or (one owning process) left by a process that is gone.
        let mut claimable = Condition::NotExists.or(Condition::And(vec![
            Condition::Eq("status".into(), IN_PROGRESS.into()),
            Condition::Lt("in_progress_expiration".into(), now_ms),
        ]));
        if let Some(owner) = &self.owner {
            item.set("owner", owner.as_str());
            claimable = claimable.or(Condition::And(vec![
                Condition::Eq("status".into(), IN_PROGRESS.into()),
                Condition::Ne("owner".into(), owner.as_str().into()),
            ]));
        }
        match self.table.put(item, Some(claimable)).await {
            Ok(()) => Ok(Claim::Acquired),
            Err(StoreError::ConditionFailed {
                current: Some(current),
            }) => {
                if current.get_s("payload_hash") != Some(hash.as_str()) {
                    return Err(IdempotencyError::PayloadMismatch);
                }
                match current.get_s("status") {
                    Some(COMPLETED) => {
                        let raw = current.get_s("result").unwrap_or("null");
                        let value = serde_json::from_str(raw)
                            .map_err(|e| IdempotencyError::Corrupt(e.to_string()))?;
                        Ok(Claim::Completed(value))
                    }
                    _ => Err(IdempotencyError::InProgress),
                }
            }
            // The record vanished between the check and our read: treat as in progress, retry later.
            Err(StoreError::ConditionFailed { current: None }) => Err(IdempotencyError::InProgress),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the result of a claimed key.
    pub async fn complete<T: Serialize>(
        &self,
        scope: &str,
        id: &str,
        result: &T,
    ) -> Result<(), StoreError> {
        self.table
            .update(
                &Self::key(scope, id),
                self.completed(result)?,
                Some(Condition::Exists),
            )
            .await
            .map(|_| ())
    }

    /// The write [`Idempotency::complete`] makes, for a caller that records the effect's outcome in
    /// the same transaction (on this store's table, with the keys as given): the result is then
    /// stored if and only if the outcome is.
    pub fn completion<T: Serialize>(
        &self,
        scope: &str,
        id: &str,
        result: &T,
    ) -> Result<TxOp, StoreError> {
        Ok(TxOp::Update {
            key: Self::key(scope, id),
            update: self.completed(result)?,
            condition: Some(Condition::Exists),
        })
    }

    /// The update that marks a claim completed with `result`.
    fn completed<T: Serialize>(&self, result: &T) -> Result<Update, StoreError> {
        let raw = serde_json::to_string(result).map_err(|e| StoreError::Internal(e.to_string()))?;
        let retention_secs = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX / 2);
        Ok(Update::new()
            .set("status", COMPLETED)
            .set("result", raw)
            .set(
                "ttl",
                Value::N(self.clock.now_secs().saturating_add(retention_secs)),
            )
            .remove("in_progress_expiration"))
    }

    /// Removes a claim after the effect failed, so that a retry runs it again.
    pub async fn release(&self, scope: &str, id: &str) -> Result<(), StoreError> {
        let only_in_progress = Condition::Eq("status".into(), IN_PROGRESS.into());
        match self
            .table
            .delete(&Self::key(scope, id), Some(only_in_progress))
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs `effect` at most once per `scope`/`id`: claims, runs, stores the result; replays it on repeats.
    pub async fn run<T, E, F, Fut>(
        &self,
        scope: &str,
        id: &str,
        payload: &[u8],
        deadline_ms: i64,
        effect: F,
    ) -> Result<Outcome<T>, IdempotencyError<E>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match self.claim(scope, id, payload, deadline_ms).await? {
            Claim::Completed(value) => serde_json::from_value(value)
                .map(Outcome::Replayed)
                .map_err(|e| IdempotencyError::Corrupt(e.to_string())),
            Claim::Acquired => match effect().await {
                Ok(result) => {
                    // If this write fails the claim stays INPROGRESS until the deadline, after which a
                    // retry runs the effect again: effects must tolerate that rare repeat.
                    self.complete(scope, id, &result).await?;
                    Ok(Outcome::Fresh(result))
                }
                Err(e) => {
                    if let Err(release) = self.release(scope, id).await {
                        tracing::warn!(scope, error = %release, "could not release idempotency claim");
                    }
                    Err(IdempotencyError::Effect(e))
                }
            },
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::sqlite::{Database, SqliteTable};
    use chrono::Utc;
    use mostrador_core::FixedClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn setup() -> (Idempotency, FixedClock) {
        let clock = FixedClock::at(Utc::now());
        let db = Database::in_memory().expect("db");
        let table = Arc::new(SqliteTable::new(db, Arc::new(clock.clone())));
        (
            Idempotency::new(
                table,
                Arc::new(clock.clone()),
                Duration::from_secs(7 * 86_400),
            ),
            clock,
        )
    }

    #[tokio::test]
    async fn a_claim_left_by_an_earlier_process_is_taken_over_when_one_process_owns_the_store() {
        let clock = FixedClock::at(Utc::now());
        let db = Database::in_memory().expect("db");
        let table: Arc<dyn Table> = Arc::new(SqliteTable::new(db, Arc::new(clock.clone())));
        let idem = |owned: bool| {
            let i = Idempotency::new(
                table.clone(),
                Arc::new(clock.clone()),
                Duration::from_secs(86_400),
            );
            if owned {
                i.owned_by_this_process()
            } else {
                i
            }
        };
        let deadline = clock.now_ms() + 30_000;
        let crashed = idem(true);
        assert!(matches!(
            crashed.claim::<()>("payevt", "evt_1", b"x", deadline).await,
            Ok(Claim::Acquired)
        ));
        // Within the same process the claim is held.
        assert!(matches!(
            crashed.claim::<()>("payevt", "evt_1", b"x", deadline).await,
            Err(IdempotencyError::InProgress)
        ));
        // A store shared by many processes waits for the deadline.
        assert!(matches!(
            idem(false)
                .claim::<()>("payevt", "evt_1", b"x", deadline)
                .await,
            Err(IdempotencyError::InProgress)
        ));
        // The process that owns the store after a restart takes it over at once.
        let restarted = idem(true);
        assert!(matches!(
            restarted
                .claim::<()>("payevt", "evt_1", b"x", deadline)
                .await,
            Ok(Claim::Acquired)
        ));
        restarted
            .complete("payevt", "evt_1", &"paid")
            .await
            .expect("complete");
        assert!(matches!(
            idem(true)
                .claim::<String>("payevt", "evt_1", b"x", deadline)
                .await,
            Ok(Claim::Completed(_))
        ));
    }

    #[tokio::test]
    async fn repeat_returns_stored_result_without_running_the_effect_again() {
        let (idem, clock) = setup();
        let runs = AtomicUsize::new(0);
        let deadline = clock.now_ms() + 30_000;
        for round in 0..3 {
            let out = idem
                .run("wamid", "wamid.ABC", b"payload", deadline, || async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, String>("order-1".to_owned())
                })
                .await
                .expect("run");
            assert_eq!(out.is_replay(), round > 0);
            assert_eq!(out.into_inner(), "order-1");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn reused_key_with_different_payload_is_rejected() {
        let (idem, clock) = setup();
        let deadline = clock.now_ms() + 30_000;
        idem.run("evt", "1", b"a", deadline, || async { Ok::<_, String>(1) })
            .await
            .expect("first");
        let second = idem
            .run("evt", "1", b"b", deadline, || async { Ok::<_, String>(2) })
            .await;
        assert!(
            matches!(second, Err(IdempotencyError::PayloadMismatch)),
            "{second:?}"
        );
    }

    #[tokio::test]
    async fn failed_effect_releases_the_key_for_a_retry() {
        let (idem, clock) = setup();
        let deadline = clock.now_ms() + 30_000;
        let first = idem
            .run("evt", "2", b"p", deadline, || async {
                Err::<u32, _>("PAC down")
            })
            .await;
        assert!(matches!(first, Err(IdempotencyError::Effect("PAC down"))));
        let retry = idem
            .run("evt", "2", b"p", deadline, || async { Ok::<_, &str>(7) })
            .await
            .expect("retry");
        assert_eq!(retry, Outcome::Fresh(7));
    }

    #[tokio::test]
    async fn in_progress_key_blocks_until_its_deadline_passes() {
        let (idem, clock) = setup();
        let deadline = clock.now_ms() + 30_000;
        let claim = idem
            .claim::<()>("msg", "m1", b"p", deadline)
            .await
            .expect("claim");
        assert_eq!(claim, Claim::Acquired);
        let busy = idem.claim::<()>("msg", "m1", b"p", deadline).await;
        assert!(matches!(busy, Err(IdempotencyError::InProgress)));
        // The first holder died; after its deadline the key can be claimed again.
        clock.advance(chrono::Duration::seconds(31));
        let again = idem
            .claim::<()>("msg", "m1", b"p", clock.now_ms() + 30_000)
            .await
            .expect("reclaim");
        assert_eq!(again, Claim::Acquired);
    }

    #[tokio::test]
    async fn completed_record_expires_after_retention() {
        let (idem, clock) = setup();
        let deadline = clock.now_ms() + 30_000;
        idem.run("wamid", "x", b"p", deadline, || async {
            Ok::<_, String>(1u8)
        })
        .await
        .expect("run");
        clock.advance(chrono::Duration::days(6));
        let replay = idem
            .run("wamid", "x", b"p", clock.now_ms() + 1000, || async {
                Ok::<_, String>(2u8)
            })
            .await
            .expect("replay");
        assert_eq!(replay, Outcome::Replayed(1));
        clock.advance(chrono::Duration::days(2));
        let fresh = idem
            .run("wamid", "x", b"p", clock.now_ms() + 1000, || async {
                Ok::<_, String>(3u8)
            })
            .await
            .expect("fresh");
        assert_eq!(fresh, Outcome::Fresh(3));
    }
}
