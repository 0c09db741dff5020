//! Table engine throughput on the embedded engine (SQLite file in WAL mode, as `cargo run` uses it).
//! Run: `cargo bench -p mostrador-store --bench table`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mostrador_core::SystemClock;
use mostrador_store::sqlite::{Database, SqliteTable};
use mostrador_store::{Condition, Item, Key, Query, Table, TxOp, Update};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn table(dir: &tempfile::TempDir) -> Arc<SqliteTable> {
    let db = Database::open(
        dir.path().join("bench.db"),
        mostrador_store::sqlite::RowKey::ephemeral(),
    )
    .expect("open");
    Arc::new(SqliteTable::new(db, Arc::new(SystemClock)))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let t = table(&dir);
    let n = AtomicU64::new(0);
    let mut g = c.benchmark_group("table_sqlite");
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));

    g.bench_function("put", |b| {
        b.to_async(&rt).iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let t = t.clone();
            async move {
                let item = Item::new(&Key::new(format!("M#bench#ORDER#{i}"), "ORDER"))
                    .with("status", "awaiting_payment")
                    .with("total", 12_345);
                t.put(item, Some(Condition::NotExists)).await.expect("put");
            }
        })
    });

    let stock = Key::new("M#bench#STOCK", "SKU#7501234567890");
    rt.block_on(t.put(Item::new(&stock).with("available", i64::MAX / 2), None))
        .expect("seed");
    g.bench_function("conditional_update", |b| {
        b.to_async(&rt).iter(|| {
            let t = t.clone();
            let stock = stock.clone();
            async move {
                t.update(
                    &stock,
                    Update::new().add("available", -1).add("reserved", 1),
                    Some(Condition::Ge("available".into(), 1)),
                )
                .await
                .expect("update");
            }
        })
    });

    for i in 0..10 {
        rt.block_on(
            t.put(
                Item::new(&Key::new("M#bench#STOCK", format!("SKU#{i}")))
                    .with("available", i64::MAX / 2),
                None,
            ),
        )
        .expect("seed");
    }
    g.bench_function("transaction_10_items", |b| {
        b.to_async(&rt).iter(|| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let t = t.clone();
            async move {
                let mut ops: Vec<TxOp> = (0..9)
                    .map(|s| TxOp::Update {
                        key: Key::new("M#bench#STOCK", format!("SKU#{s}")),
                        update: Update::new().add("available", -1).add("reserved", 1),
                        condition: Some(Condition::Ge("available".into(), 1)),
                    })
                    .collect();
                ops.push(TxOp::Put {
                    item: Item::new(&Key::new(format!("M#bench#TXORDER#{i}"), "ORDER")),
                    condition: Some(Condition::NotExists),
                });
                t.transact(ops).await.expect("transaction");
            }
        })
    });

    for i in 0..1000 {
        rt.block_on(
            t.put(
                Item::new(&Key::new("M#bench#CUST#1", format!("MSG#{i:06}")))
                    .with("body", "hola, ¿tienen paracetamol?"),
                None,
            ),
        )
        .expect("seed");
    }
    g.throughput(Throughput::Elements(25));
    g.bench_function("query_page_25", |b| {
        b.to_async(&rt).iter_batched(
            || (n.fetch_add(1, Ordering::Relaxed) % 900) as usize,
            |start| {
                let t = t.clone();
                async move {
                    let q = Query::partition("M#bench#CUST#1")
                        .sort(mostrador_store::SortKey::Ge(format!("MSG#{start:06}")))
                        .limit(25);
                    let page = t.query(q).await.expect("query");
                    assert_eq!(page.items.len(), 25);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
