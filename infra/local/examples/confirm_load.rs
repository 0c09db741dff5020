//! The confirm path on the embedded engine: many customers each send a catalog order and tap
//! "Confirmar"; every message goes through order-confirm exactly as the queue poller hands it over
//! (envelope → conversation → stock reserved with the order in one transaction → replies queued).
//! Prints confirmed orders per second.
//!
//! `cargo run --profile bench -p mostrador-local --example confirm_load -- [customers] [concurrency]`

use mostrador_app::parties::messages::InboundEnvelope;
use mostrador_app::platform::config::Vars;
use mostrador_app::platform::records::QueueRecord;
use mostrador_app::{entry::pipeline, Config, Deps};
use mostrador_core::SystemClock;
use std::sync::Arc;
use std::time::Instant;

fn envelope(
    merchant: &str,
    branch: &str,
    phone: &str,
    wa: &str,
    wamid: &str,
    message: serde_json::Value,
) -> QueueRecord {
    let raw = serde_json::value::RawValue::from_string(message.to_string()).unwrap_or_default();
    let env = InboundEnvelope {
        merchant_id: merchant.into(),
        branch_id: branch.into(),
        phone_number_id: phone.into(),
        wa_id: wa.into(),
        wamid: wamid.into(),
        timestamp: chrono::Utc::now().timestamp(),
        profile_name: Some("Cliente".into()),
        phone: None,
        username: None,
        message: raw,
    };
    QueueRecord {
        message_id: wamid.into(),
        body: serde_json::to_string(&env).unwrap_or_default(),
        group_id: None,
        receive_count: 1,
        receipt: None,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let customers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_string_lossy().to_string();
    let config = Config::from_vars(&Vars::from_pairs([("MOSTRADOR_DATA_DIR", data.as_str())]))?;
    let deps = Deps::embedded(config, Arc::new(SystemClock)).await?;
    let demo = mostrador_local::demo::seed(&deps, dir.path()).await?;
    let branch = demo.branches[0].clone();
    // Enough stock for every customer.
    let caller = mostrador_app::parties::merchants::resolve_key(&deps, &demo.api_key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows = vec![mostrador_app::commerce::catalog::StockRow {
        sku: "7501008491072".into(),
        quantity: Some(1_000_000),
        delta: None,
    }];
    mostrador_app::commerce::catalog::apply_stock(&caller.table, &branch.id, rows, true, false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deps = Arc::new(deps);
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for c in 0..customers {
        let (deps, sem, merchant, branch) = (
            deps.clone(),
            sem.clone(),
            demo.merchant_id.clone(),
            branch.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let wa = format!("5255{c:08}");
            let order = serde_json::json!({ "from": wa, "id": format!("wamid.o.{c}"), "timestamp": "1795262400", "type": "order",
                "order": { "catalog_id": "1", "product_items": [{ "product_retailer_id": "7501008491072", "quantity": 2, "item_price": 45.5, "currency": "MXN" }] } });
            let confirm = serde_json::json!({ "from": wa, "id": format!("wamid.c.{c}"), "timestamp": "1795262401", "type": "interactive",
                "interactive": { "type": "button_reply", "button_reply": { "id": "confirmar", "title": "Confirmar" } } });
            for (wamid, m) in [(format!("wamid.o.{c}"), order), (format!("wamid.c.{c}"), confirm)] {
                let record = envelope(&merchant, &branch.id, &branch.phone_number_id, &wa, &wamid, m);
                pipeline::handle_inbound(&deps, &record).await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await?.map_err(|e| anyhow::anyhow!(e))?;
    }
    let elapsed = start.elapsed();
    let (orders, _) = mostrador_app::commerce::orders::list(
        &caller.table,
        &mostrador_app::commerce::orders::OrderFilter {
            limit: Some(1),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let stock =
        mostrador_app::commerce::catalog::get_stock(&caller.table, &branch.id, "7501008491072")
            .await?;
    println!(
        "customers:   {customers} (each: catalog order + Confirmar), concurrency {concurrency}"
    );
    println!("elapsed:     {:.2} s", elapsed.as_secs_f64());
    println!(
        "confirmed:   {:.0} orders/s ({:.0} customer messages/s)",
        customers as f64 / elapsed.as_secs_f64(),
        2.0 * customers as f64 / elapsed.as_secs_f64()
    );
    println!(
        "reserved:    {} units (expected {})",
        stock.reserved,
        2 * customers
    );
    assert_eq!(
        stock.reserved as usize,
        2 * customers,
        "every confirmation reserved its stock exactly once"
    );
    assert!(!orders.is_empty());
    Ok(())
}
