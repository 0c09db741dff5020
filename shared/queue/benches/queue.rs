//! Round trips (send, receive, delete) on the embedded SQLite queue, in a file as in production.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mostrador_core::SystemClock;
use mostrador_queue::sqlite::SqliteQueue;
use mostrador_queue::{OutgoingMessage, Queue, QueueError, QueueSpec};
use mostrador_store::sqlite::Database;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Unique bodies, so FIFO content-based dedup never drops a benchmark message.
static SENT: AtomicU64 = AtomicU64::new(0);

/// Sends `n` messages, receives all of them (batches of up to 10) and deletes each.
async fn round_trip(queue: &SqliteQueue, n: usize) -> Result<(), QueueError> {
    for _ in 0..n {
        let body = format!("{{\"n\":{}}}", SENT.fetch_add(1, Ordering::Relaxed));
        let message = OutgoingMessage::new(body);
        let message = if queue.spec().fifo {
            message.group("customer-1")
        } else {
            message
        };
        queue.send(message).await?;
    }
    let mut received = 0;
    while received < n {
        let batch = queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await?;
        if batch.is_empty() {
            return Err(QueueError::Internal(format!(
                "only {received} of {n} messages came back"
            )));
        }
        for message in &batch {
            queue.delete(&message.receipt).await?;
        }
        received += batch.len();
    }
    Ok(())
}

fn sqlite_round_trips(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("starting the tokio runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("creating a temp dir: {e}"));
    let db = Database::open(
        dir.path().join("bench.db"),
        mostrador_store::sqlite::RowKey::ephemeral(),
    )
    .unwrap_or_else(|e| panic!("opening the database: {e}"));

    let mut group = c.benchmark_group("sqlite_queue");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(20);
    for spec in [
        QueueSpec::fifo("bench-fifo"),
        QueueSpec::standard("bench-standard"),
    ] {
        let kind = if spec.fifo { "fifo" } else { "standard" };
        let queue = SqliteQueue::new(db.clone(), spec, Arc::new(SystemClock));
        for n in [1_usize, 10] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(format!("{kind}/send_receive_delete/{n}"), |b| {
                b.to_async(&runtime).iter(|| async {
                    if let Err(e) = round_trip(&queue, n).await {
                        panic!("round trip failed: {e}");
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, sqlite_round_trips);
criterion_main!(benches);
