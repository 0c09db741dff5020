//! Queue records as every consumer sees them (from a Lambda SQS event or the local poller), and batch
//! processing with partial failures.

use std::future::Future;

/// One queue message handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub message_id: String,
    pub body: String,
    pub group_id: Option<String>,
    pub receive_count: u32,
    /// The receipt handle, when the transport gives one (to change the record's visibility).
    pub receipt: Option<String>,
}

/// Why a record was not processed. A retry is reported as a batch item failure, retried with backoff
/// and, after five receives, kept in the dead-letter queue; a record no retry can help is moved to the
/// dead-letter queue at once. Nothing is dropped.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The body is not what this queue carries, or the use case refused it as invalid: retrying will
    /// not help, the DLQ keeps it for a human at once.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// A dependency failed or the record is being processed elsewhere; retry later.
    #[error("retry later: {0}")]
    Retry(String),
    /// Retry after a known delay (a rate limit, a deferral).
    #[error("retry in {0:?}: {1}")]
    RetryAfter(std::time::Duration, String),
}

impl RecordError {
    /// Any displayable failure as a retry.
    pub fn retry(e: impl std::fmt::Display) -> Self {
        RecordError::Retry(e.to_string())
    }
}

impl From<crate::platform::error::AppError> for RecordError {
    /// A use case's failure as a queue outcome: input no retry can help (invalid, refused) goes to the
    /// dead-letter queue at once; everything else is retried, with its whole cause chain in the log.
    fn from(e: crate::platform::error::AppError) -> Self {
        use crate::platform::error::ErrorKind;
        match e.kind() {
            ErrorKind::Invalid | ErrorKind::Unauthorized | ErrorKind::Forbidden => {
                RecordError::Malformed(e.cause_chain())
            }
            ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::Retryable
            | ErrorKind::Internal => RecordError::Retry(e.cause_chain()),
        }
    }
}

/// A record that was not processed, and when it should come back (`None`: the queue's own backoff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message_id: String,
    pub retry_after: Option<std::time::Duration>,
    /// No retry can help: the adapter moves it to the dead-letter queue now.
    pub permanent: bool,
}

/// Handles each record and returns those that failed. On FIFO queues, a failure also fails every
/// later record of the same message group (unprocessed, with the same delay), so that nothing overtakes
/// it; other groups go on.
///
/// Records of different message groups (on a standard queue, every record) are handled side by
/// side, each group's in order: one customer's messages never overtake each other, and a batch of
/// ten customers takes about as long as its slowest customer instead of the sum of all ten.
pub async fn process_batch<F, Fut>(records: &[QueueRecord], fifo: bool, handle: F) -> Vec<Failure>
where
    F: FnMut(&QueueRecord) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    // Lanes of (position, record): one per group on a FIFO queue (all in one lane when a record has
    // no group id, which orders against everything before it), one per record otherwise.
    let mut lanes: Vec<Vec<(usize, &QueueRecord)>> = Vec::new();
    if fifo && records.iter().any(|r| r.group_id.is_none()) {
        lanes.push(records.iter().enumerate().collect());
    } else if fifo {
        let mut lane_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, record) in records.iter().enumerate() {
            let group = record.group_id.as_deref().unwrap_or_default();
            let lane = *lane_of.entry(group).or_insert_with(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
            lanes[lane].push((i, record));
        }
    } else {
        lanes.extend(records.iter().enumerate().map(|r| vec![r]));
    }
    // The handler makes each record's future when its turn comes (never for a record a failure
    // blocked); the lanes run in this task, so the lock is only held while a future is made.
    let handle = std::sync::Mutex::new(handle);
    let lanes = lanes.into_iter().map(|lane| run_lane(lane, fifo, &handle));
    let mut failed: Vec<(usize, Failure)> = futures::future::join_all(lanes)
        .await
        .into_iter()
        .flatten()
        .collect();
    failed.sort_by_key(|(i, _)| *i);
    failed.into_iter().map(|(_, f)| f).collect()
}

/// One lane of a batch, in order; see [`process_batch`].
async fn run_lane<F, Fut>(
    lane: Vec<(usize, &QueueRecord)>,
    fifo: bool,
    handle: &std::sync::Mutex<F>,
) -> Vec<(usize, Failure)>
where
    F: FnMut(&QueueRecord) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut failed = Vec::new();
    let mut blocked: std::collections::HashMap<Option<String>, Option<std::time::Duration>> =
        std::collections::HashMap::new();
    for (position, record) in lane {
        if fifo {
            // A record without a group id orders against everything before it.
            let blocker = blocked
                .get(&record.group_id)
                .or_else(|| blocked.get(&None))
                .copied();
            if let Some(retry_after) = blocker {
                failed.push((
                    position,
                    Failure {
                        message_id: record.message_id.clone(),
                        retry_after,
                        permanent: false,
                    },
                ));
                if record.group_id.is_none() {
                    blocked.insert(None, retry_after);
                }
                continue;
            }
        }
        let future = {
            let mut make = handle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (*make)(record)
        };
        let span = tracing::info_span!("record", message_id = %record.message_id, receive_count = record.receive_count);
        let result = tracing::Instrument::instrument(future, span.clone()).await;
        if let Err(e) = result {
            span.in_scope(|| match &e {
                RecordError::Malformed(_) => tracing::error!(error = %e, "record rejected"),
                RecordError::Retry(_) | RecordError::RetryAfter(..) => {
                    tracing::warn!(error = %e, "record will be retried")
                }
            });
            let retry_after = match e {
                RecordError::RetryAfter(d, _) => Some(d),
                _ => None,
            };
            failed.push((
                position,
                Failure {
                    message_id: record.message_id.clone(),
                    retry_after,
                    permanent: matches!(e, RecordError::Malformed(_)),
                },
            ));
            if fifo {
                blocked.insert(record.group_id.clone(), retry_after);
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::error::{AppError, FieldError};

    #[test]
    fn invalid_input_is_dead_lettered_and_a_throttle_retried_with_its_cause() {
        let invalid = RecordError::from(AppError::Validation(vec![FieldError::new(
            "to",
            "not a WhatsApp id",
        )]));
        assert!(matches!(&invalid, RecordError::Malformed(why) if why == "to: not a WhatsApp id"));
        let throttled: AppError =
            mostrador_store::StoreError::Unavailable("ProvisionedThroughputExceeded".into()).into();
        let retry = RecordError::from(throttled);
        assert_eq!(
            retry.to_string(),
            "retry later: unavailable: ProvisionedThroughputExceeded"
        );
        let internal = RecordError::from(AppError::Internal(
            anyhow::anyhow!("no such column").context("reading the order"),
        ));
        assert_eq!(
            internal.to_string(),
            "retry later: reading the order: no such column"
        );
    }

    #[tokio::test]
    async fn a_malformed_record_fails_as_permanent_and_a_retry_does_not() {
        let records = vec![rec("a", "bad"), rec("b", "busy"), rec("c", "ok")];
        let failed = process_batch(&records, false, |r| {
            let body = r.body.clone();
            async move {
                match body.as_str() {
                    "bad" => Err(RecordError::Malformed("not json".into())),
                    "busy" => Err(RecordError::retry("throttled")),
                    _ => Ok(()),
                }
            }
        })
        .await;
        let got: Vec<(&str, bool)> = failed
            .iter()
            .map(|f| (f.message_id.as_str(), f.permanent))
            .collect();
        assert_eq!(got, [("a", true), ("b", false)]);
    }

    fn rec(id: &str, body: &str) -> QueueRecord {
        QueueRecord {
            message_id: id.into(),
            body: body.into(),
            group_id: None,
            receive_count: 1,
            receipt: None,
        }
    }

    fn ids(failures: &[Failure]) -> Vec<&str> {
        failures.iter().map(|f| f.message_id.as_str()).collect()
    }

    #[tokio::test]
    async fn standard_batches_fail_only_the_failing_records() {
        let records = [rec("1", "ok"), rec("2", "bad"), rec("3", "ok")];
        let failed = process_batch(&records, false, |r| {
            let bad = r.body == "bad";
            async move {
                if bad {
                    Err(RecordError::Malformed("bad".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(ids(&failed), ["2"]);
    }

    #[tokio::test]
    async fn fifo_batches_fail_everything_after_the_first_failure() {
        let records = [rec("1", "ok"), rec("2", "bad"), rec("3", "ok")];
        let mut seen = Vec::new();
        let failed = process_batch(&records, true, |r| {
            seen.push(r.message_id.clone());
            let bad = r.body == "bad";
            async move {
                if bad {
                    Err(RecordError::retry("down"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(ids(&failed), ["2", "3"]);
        assert_eq!(
            seen,
            ["1", "2"],
            "records after a FIFO failure are not processed"
        );
    }

    #[tokio::test]
    async fn different_groups_are_handled_side_by_side_and_each_group_in_order() {
        let grouped = |id: &str, group: &str| QueueRecord {
            group_id: Some(group.into()),
            ..rec(id, "ok")
        };
        let records = [grouped("a1", "A"), grouped("a2", "A"), grouped("b1", "B")];
        // a1 finishes only after b1 has run: one record after the other, this batch never ends.
        let b_ran = std::sync::Arc::new(tokio::sync::Notify::new());
        let done = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let batch = process_batch(&records, true, |r| {
            let (id, b_ran, done) = (r.message_id.clone(), b_ran.clone(), done.clone());
            async move {
                match id.as_str() {
                    "a1" => b_ran.notified().await,
                    "b1" => b_ran.notify_one(),
                    _ => {}
                }
                done.lock().expect("log").push(id);
                Ok(())
            }
        });
        let failed = tokio::time::timeout(std::time::Duration::from_secs(5), batch)
            .await
            .expect("groups ran side by side");
        assert!(failed.is_empty());
        assert_eq!(*done.lock().expect("log"), ["b1", "a1", "a2"]);
    }

    #[tokio::test]
    async fn fifo_failure_blocks_only_its_own_group_with_its_delay() {
        let grouped = |id: &str, group: &str, body: &str| QueueRecord {
            group_id: Some(group.into()),
            ..rec(id, body)
        };
        let records = [
            grouped("1", "A", "slow"),
            grouped("2", "B", "ok"),
            grouped("3", "A", "ok"),
            grouped("4", "B", "ok"),
        ];
        let mut seen = Vec::new();
        let failed = process_batch(&records, true, |r| {
            seen.push(r.message_id.clone());
            let slow = r.body == "slow";
            async move {
                if slow {
                    Err(RecordError::RetryAfter(
                        std::time::Duration::from_secs(6),
                        "pair limit".into(),
                    ))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(ids(&failed), ["1", "3"]);
        assert!(failed
            .iter()
            .all(|f| f.retry_after == Some(std::time::Duration::from_secs(6))));
        assert_eq!(seen, ["1", "2", "4"], "group B goes on while group A waits");
    }
}
