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
}

/// Why a record was not processed. Either way it is reported as a batch item failure, retried with
/// backoff and, after five receives, kept in the dead-letter queue: nothing is dropped.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The body is not what this queue carries; retrying will not help, the DLQ keeps it for a human.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// A dependency failed or the record is being processed elsewhere; retry later.
    #[error("retry later: {0}")]
    Retry(String),
}

impl RecordError {
    /// Any displayable failure as a retry.
    pub fn retry(e: impl std::fmt::Display) -> Self {
        RecordError::Retry(e.to_string())
    }
}

/// Handles each record and returns the message ids that failed. For FIFO queues, the first failure
/// fails every later record of the batch too, so that no message overtakes one before it.
pub async fn process_batch<F, Fut>(records: &[QueueRecord], fifo: bool, mut handle: F) -> Vec<String>
where
    F: FnMut(&QueueRecord) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut failed = Vec::new();
    let mut blocked = false;
    for record in records {
        if blocked {
            failed.push(record.message_id.clone());
            continue;
        }
        let span = tracing::info_span!("record", message_id = %record.message_id, receive_count = record.receive_count);
        let result = tracing::Instrument::instrument(handle(record), span.clone()).await;
        if let Err(e) = result {
            span.in_scope(|| match &e {
                RecordError::Malformed(_) => tracing::error!(error = %e, "record rejected"),
                RecordError::Retry(_) => tracing::warn!(error = %e, "record will be retried"),
            });
            failed.push(record.message_id.clone());
            blocked = fifo;
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, body: &str) -> QueueRecord {
        QueueRecord { message_id: id.into(), body: body.into(), group_id: None, receive_count: 1 }
    }

    #[tokio::test]
    async fn standard_batches_fail_only_the_failing_records() {
        let records = [rec("1", "ok"), rec("2", "bad"), rec("3", "ok")];
        let failed = process_batch(&records, false, |r| {
            let bad = r.body == "bad";
            async move { if bad { Err(RecordError::Malformed("bad".into())) } else { Ok(()) } }
        })
        .await;
        assert_eq!(failed, ["2"]);
    }

    #[tokio::test]
    async fn fifo_batches_fail_everything_after_the_first_failure() {
        let records = [rec("1", "ok"), rec("2", "bad"), rec("3", "ok")];
        let mut seen = Vec::new();
        let failed = process_batch(&records, true, |r| {
            seen.push(r.message_id.clone());
            let bad = r.body == "bad";
            async move { if bad { Err(RecordError::retry("down")) } else { Ok(()) } }
        })
        .await;
        assert_eq!(failed, ["2", "3"]);
        assert_eq!(seen, ["1", "2"], "records after a FIFO failure are not processed");
    }
}
