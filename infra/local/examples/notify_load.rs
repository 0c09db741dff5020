//! Bulk notifications on the local stack (embedded engine, pollers running, sandbox mode): one
//! `POST /v1/notifications/bulk` of N transaction alerts over HTTP, timed until its 202; then the
//! `due_notifications` job expands it (as the scheduler's next firing would) while the outbound
//! poller runs the sender's rules into the sandbox outbox, timed until all N are there.
//!
//! `cargo run --profile bench -p mostrador-local --example notify_load -- [notifications]`

use mostrador_app::entry::jobs::{self, Job};
use mostrador_app::notifications::templates;
use mostrador_app::parties::{consent, notification_settings};
use mostrador_app::platform::config::Vars;
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_app::{Config, Deps};
use mostrador_core::SystemClock;
use mostrador_store::{Query, Table};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn outbox_len(table: &TenantTable) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = table
            .query(Query::partition("OUTBOX").limit(1000).after(cursor))
            .await?;
        n += page.items.len();
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_string_lossy().to_string();
    let config = Config::from_vars(&Vars::from_pairs([("MOSTRADOR_DATA_DIR", data.as_str())]))?;
    let deps = Deps::embedded(config, Arc::new(SystemClock)).await?;
    let demo = mostrador_local::demo::seed(&deps, dir.path()).await?;
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).map_err(anyhow::Error::msg)?;
    let table = TenantTable::of(&deps, &merchant);
    let fail = |e: mostrador_app::platform::error::AppError| anyhow::anyhow!("{e}");

    // Setup (not timed): a template, the privacy notice, Meta's highest throughput tier, consent.
    let template: templates::TemplateDef = serde_json::from_value(json!({
        "name": "movimiento_cuenta", "category": "utility",
        "body": [{ "name": "monto", "type": "currency" }, { "name": "comercio", "type": "text" }]
    }))?;
    templates::replace(&table, &template).await.map_err(fail)?;
    let mut policy = notification_settings::NotificationSettings {
        privacy_notice_url: Some("https://example.mx/aviso".into()),
        ..Default::default()
    };
    policy.category_caps.clear();
    let policy = notification_settings::save(&table, policy, deps.config.public_url())
        .await
        .map_err(fail)?;
    mostrador_app::parties::settings::update(
        &deps,
        &merchant,
        mostrador_app::parties::settings::WhatsAppSettingsInput {
            messages_per_second: Some(1000),
            ..Default::default()
        },
    )
    .await
    .map_err(fail)?;
    let recipients: Vec<String> = (0..total).map(|i| format!("52155{:08}", i)).collect();
    for to in &recipients {
        let wa = mostrador_core::phone::normalize_wa_id(to).unwrap_or_default();
        let input: consent::ConsentInput = serde_json::from_value(json!({
            "source": "app", "wording": "Acepto recibir avisos de mi cuenta por WhatsApp."
        }))?;
        consent::grant(
            &table,
            &wa,
            input,
            policy.privacy_notice_url.clone(),
            chrono::Utc::now(),
        )
        .await
        .map_err(fail)?;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = mostrador_local::start(
        deps.clone(),
        listener,
        mostrador_local::Options {
            pollers: true,
            scheduler: false,
            ..Default::default()
        },
    )
    .await?;
    let url = format!("http://{}", running.addr);
    let notifications: Vec<_> = recipients
        .iter()
        .enumerate()
        .map(|(i, to)| {
            json!({ "to": to, "template": "movimiento_cuenta", "kind": "transaction_alert",
                    "parameters": [10_000 + i as i64, "OXXO Insurgentes"], "metadata": { "tx": i } })
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "campaign": "bench", "notifications": notifications }))?;
    let http = reqwest::Client::new();

    let cpu_before = threads_cpu();
    let started = Instant::now();
    let answer = http
        .post(format!("{url}/v1/notifications/bulk"))
        .bearer_auth(&demo.api_key)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await?;
    let accepted_in = started.elapsed();
    anyhow::ensure!(
        answer.status() == 202,
        "bulk refused: {}",
        answer.text().await?
    );
    let job: serde_json::Value = answer.json().await?;

    let expand = Instant::now();
    let report = jobs::run(
        &deps,
        Job::DueNotifications,
        jobs::deadline_after(&deps, Duration::from_secs(300)),
    )
    .await?;
    let expanded_in = expand.elapsed();
    loop {
        if outbox_len(&table).await? >= total {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "outbox did not fill"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_in = started.elapsed();
    println!(
        "{total} notifications ({} KB body, {} chunks): accepted (202) in {:.0} ms; expanded by the job in {:.2} s ({} chunks); all {total} in the sandbox outbox {:.2} s after the request ({:.0} notifications/s end to end)",
        body.len() / 1024,
        job["chunks"],
        accepted_in.as_secs_f64() * 1000.0,
        expanded_in.as_secs_f64(),
        report.processed,
        all_in.as_secs_f64(),
        total as f64 / all_in.as_secs_f64()
    );
    if let (Some(before), Some(after)) = (cpu_before, threads_cpu()) {
        let used: Vec<String> = after
            .iter()
            .map(|(name, s)| (name, s - before.get(name).copied().unwrap_or(0.0)))
            .filter(|(_, s)| *s >= 0.05)
            .map(|(name, s)| format!("{name} {s:.1}"))
            .collect();
        println!(
            "CPU seconds by thread from the request on: {}",
            used.join(", ")
        );
    }
    running.stop().await;
    Ok(())
}

/// CPU seconds each of the process's threads has used, summed by thread name (Linux only): where
/// the time of a run went, e.g. how busy the database's writer thread was.
fn threads_cpu() -> Option<std::collections::BTreeMap<String, f64>> {
    let tick = 100.0; // USER_HZ on Linux
    let mut by_name = std::collections::BTreeMap::<String, f64>::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue; // a thread that ended meanwhile
        };
        let (name, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        *by_name.entry(name.to_owned()).or_default() += ticks / tick;
    }
    Some(by_name)
}
