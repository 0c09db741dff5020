//! Queue pollers: each queue's batches go to the same app functions the Lambdas call. A failed record
//! is hidden with exponential backoff (2, 4, 8... seconds, at most 15 minutes) and, after five
//! receives, the queue moves it to its dead-letter queue.

use mostrador_app::entry::pipeline;
use mostrador_app::platform::records::{process_batch, QueueRecord};
use mostrador_app::Deps;
use mostrador_queue::{Queue, ReceivedMessage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a received batch stays hidden while it is processed (the consumer's "timeout").
pub const VISIBILITY: Duration = Duration::from_secs(60);

/// Backoff for the n-th failed receive.
pub fn backoff(receive_count: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(receive_count.min(10)).min(900))
}

/// Pollers per queue, as Lambda runs several batches of a queue at once: the FIFO queues give a
/// message group (a customer) to one poller at a time, so a customer's messages stay in order while
/// different customers are served side by side.
const INBOUND_POLLERS: usize = 2;
/// Outbound messages spend most of their time waiting for the database's commits, so more of them
/// in flight (80) keep both the writer and the readers busy (bulk notifications: measured +5 %
/// over 4 pollers on 2 cores).
const OUTBOUND_POLLERS: usize = 8;

/// Starts the queues' pollers; they stop (after finishing their batch) when `shutdown` turns true.
pub fn spawn(deps: &Deps, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let queues = deps.queues.clone();
    let mut pollers = Vec::new();
    for _ in 0..INBOUND_POLLERS {
        pollers.push(spawn_one(
            deps.clone(),
            queues.inbound.clone(),
            Kind::Inbound,
            shutdown.clone(),
        ));
    }
    for _ in 0..OUTBOUND_POLLERS {
        pollers.push(spawn_one(
            deps.clone(),
            queues.outbound.clone(),
            Kind::Outbound,
            shutdown.clone(),
        ));
    }
    pollers.push(spawn_one(
        deps.clone(),
        queues.invoicing,
        Kind::Invoicing,
        shutdown,
    ));
    pollers
}

#[derive(Clone, Copy)]
enum Kind {
    Inbound,
    Outbound,
    Invoicing,
}

fn spawn_one(
    deps: Deps,
    queue: Arc<dyn Queue>,
    kind: Kind,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let name = queue.spec().name.clone();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let batch = tokio::select! {
                r = queue.receive(10, VISIBILITY, Duration::from_secs(1)) => r,
                _ = shutdown.changed() => break,
            };
            match batch {
                Ok(messages) if messages.is_empty() => {}
                Ok(messages) => handle_batch(&deps, &*queue, kind, messages).await,
                Err(e) => {
                    tracing::warn!(queue = %name, error = %e, "receive failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tracing::info!(queue = %name, "poller stopped");
    })
}

/// Processes one batch; deletes what succeeded and backs off what failed.
async fn handle_batch(deps: &Deps, queue: &dyn Queue, kind: Kind, messages: Vec<ReceivedMessage>) {
    let records: Vec<QueueRecord> = messages
        .iter()
        .map(|m| QueueRecord {
            message_id: m.message_id.clone(),
            body: m.body.clone(),
            group_id: m.group_id.clone(),
            receive_count: m.receive_count,
            receipt: Some(m.receipt.clone()),
        })
        .collect();
    let fifo = queue.spec().fifo;
    let failed = process_batch(&records, fifo, |r| {
        let deps = deps.clone();
        let r = r.clone();
        async move {
            match kind {
                Kind::Inbound => pipeline::handle_inbound(&deps, &r).await,
                Kind::Outbound => pipeline::handle_outbound(&deps, &r).await,
                Kind::Invoicing => pipeline::handle_invoice_request(&deps, &r).await,
            }
        }
    })
    .await;
    // What succeeded is deleted together (one commit on the embedded engine).
    let done: Vec<&ReceivedMessage> = messages
        .iter()
        .filter(|m| !failed.iter().any(|f| f.message_id == m.message_id))
        .collect();
    let settled = queue
        .delete_batch(done.iter().map(|m| m.receipt.clone()).collect())
        .await;
    for (m, result) in done.iter().zip(settled) {
        if let Err(e) = result {
            tracing::warn!(queue = %queue.spec().name, message_id = %m.message_id, error = %e, "could not settle message");
        }
    }
    for m in &messages {
        let Some(failure) = failed.iter().find(|f| f.message_id == m.message_id) else {
            continue;
        };
        let result = if failure.permanent {
            // Input no retry can help: to the dead-letter queue now, kept for a human.
            match queue
                .dead_letter(&m.receipt, &m.body, m.group_id.as_deref())
                .await
            {
                Ok(()) => Ok(()),
                Err(_) => {
                    queue
                        .change_visibility(&m.receipt, backoff(m.receive_count))
                        .await
                }
            }
        } else {
            let delay = failure
                .retry_after
                .unwrap_or_else(|| backoff(m.receive_count))
                .min(Duration::from_secs(12 * 3600));
            queue.change_visibility(&m.receipt, delay).await
        };
        if let Err(e) = result {
            tracing::warn!(queue = %queue.spec().name, message_id = %m.message_id, error = %e, "could not settle message");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(super::backoff(1).as_secs(), 2);
        assert_eq!(super::backoff(4).as_secs(), 16);
        assert_eq!(super::backoff(30).as_secs(), 900);
    }
}
