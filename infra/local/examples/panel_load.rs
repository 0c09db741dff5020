//! The console's pages on the embedded engine with a shop's history: 1,000 products in two branches,
//! 10,000 orders over 90 days (seven in ten paid, each sale recorded as the payments path does) and
//! the 2,000 customers who placed them.
//! Each page is the set of API calls the console makes for it, sent together as the browser does,
//! over HTTP on loopback to the local stack's own router; prints p50, p95 and the slowest per page.
//!
//! `cargo build --profile bench -p mostrador-local --example panel_load && target/release/examples/panel_load [orders] [rounds]`

use chrono::Duration;
use mostrador_app::commerce::catalog::{self, StockRow};
use mostrador_app::commerce::orders::{Order, OrderLine, OrderStatus};
use mostrador_app::platform::config::Vars;
use mostrador_app::platform::tenant::MerchantId;
use mostrador_app::{Config, Deps};
use mostrador_core::catalog::Product;
use mostrador_core::money::Centavos;
use mostrador_core::tax::{line_amounts, TaxTreatment};
use mostrador_core::{Clock, FixedClock};
use mostrador_store::Table;
use std::sync::Arc;
use std::time::Instant;

const PRODUCTS: usize = 1_000;

fn product(i: usize) -> Product {
    Product {
        sku: format!("75010{i:08}"),
        name: format!("Producto de farmacia {i}"),
        description: String::new(),
        price: Centavos(1_000 + (i as i64 * 37) % 50_000),
        tax: if i.is_multiple_of(3) {
            TaxTreatment::Iva16
        } else {
            TaxTreatment::Iva0
        },
        clave_prod_serv: "51142001".into(),
        clave_unidad: "XBX".into(),
        image_url: None,
        categories: vec![format!("Categoría {}", i % 12)],
        active: true,
        min_stock: None,
    }
}

fn order(n: usize, branch: &str, phone: &str, now: chrono::DateTime<chrono::Utc>) -> Order {
    let mut lines = Vec::new();
    for k in 0..(1 + n % 3) {
        let p = product((n * 7 + k * 131) % PRODUCTS);
        let qty = 1 + (n % 2) as u32;
        let amounts = line_amounts(p.price, qty, p.tax, true).unwrap_or_default();
        lines.push(OrderLine {
            sku: p.sku,
            name: p.name,
            qty,
            unit: p.price,
            amounts,
            discount: Centavos::ZERO,
        });
    }
    let sum = |f: fn(&OrderLine) -> i64| Centavos(lines.iter().map(f).sum());
    Order {
        id: format!("OLOAD{n:06}"),
        branch_id: branch.into(),
        wa_id: format!("5215500{:06}", n % 2_000),
        phone_number_id: phone.into(),
        status: OrderStatus::AwaitingPayment,
        subtotal: sum(|l| l.amounts.base.0),
        iva: sum(|l| l.amounts.iva.0),
        total: sum(|l| l.amounts.total.0),
        lines,
        created_at: now.to_rfc3339(),
        expires_at_ms: now.timestamp_millis() + 30 * 60_000,
        payment_url: None,
        fulfilment: Default::default(),
        customer_name: Some(format!("Cliente {}", n % 2_000)),
        sealed_personal: None,
        refunds: Vec::new(),
        promotions: Vec::new(),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let orders: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_string_lossy().to_string();
    let config = Config::from_vars(&Vars::from_pairs([("MOSTRADOR_DATA_DIR", data.as_str())]))?;
    // The history is written over 90 days of a clock that then stands at today.
    let clock = FixedClock::at(chrono::Utc::now() - Duration::days(90));
    let deps = Deps::embedded(config, Arc::new(clock.clone())).await?;
    let demo = mostrador_local::demo::seed(&deps, dir.path()).await?;
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).map_err(anyhow::Error::msg)?;
    let caller = mostrador_app::parties::merchants::resolve_key(&deps, &demo.api_key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let seeding = Instant::now();
    catalog::upsert_products(
        &caller.table,
        (0..PRODUCTS).map(|i| Ok(product(i))).collect(),
        false,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for branch in &demo.branches {
        let rows = (0..PRODUCTS)
            .map(|i| StockRow {
                sku: product(i).sku,
                quantity: Some(1_000_000),
                delta: None,
            })
            .collect();
        catalog::apply_stock(&caller.table, &branch.id, rows, true, false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let step = Duration::days(90) / i32::try_from(orders.max(1)).unwrap_or(i32::MAX);
    for n in 0..orders {
        let branch = &demo.branches[n % demo.branches.len()];
        let placed = mostrador_app::flows::chat::place_order(
            &deps,
            &merchant,
            order(n, &branch.id, &branch.phone_number_id, clock.now()),
        )
        .await
        .map_err(|e| anyhow::anyhow!("placing order {n}: {e:?}"))?;
        if n % 10 < 7 {
            let paid = mostrador_app::commerce::orders::transition(
                &deps,
                &merchant,
                &placed,
                OrderStatus::Paid,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .unwrap_or(placed);
            let method = ["card", "spei", "cash", "codi"][n % 4];
            mostrador_app::invoicing::global::record_sale(
                &deps, &merchant, &paid, method, "sandbox",
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        clock.advance(step);
    }
    // The customers who wrote, as the inbound pipeline lists them (2,000, one per order's number).
    for c in 0..2_000usize.min(orders) {
        let wa = format!("5215500{c:06}");
        let at = clock.now().timestamp() - (c as i64) * 60;
        caller
            .table
            .update(
                &mostrador_app::platform::schema::customer_profile(&caller.table.customer(&wa)),
                mostrador_store::Update::new()
                    .set("last_inbound_at", at)
                    .set(
                        "phone_number_id",
                        demo.branches[c % 2].phone_number_id.as_str(),
                    )
                    .set_if_absent("first_seen_at", at)
                    .set("profile_name", format!("Cliente {c}").as_str())
                    .set("gsi1pk", mostrador_app::platform::schema::CUSTOMERS)
                    .set(
                        "gsi1sk",
                        mostrador_app::platform::schema::customer_index_sk(at),
                    ),
                None,
            )
            .await?;
    }
    println!(
        "seeded {PRODUCTS} products, {orders} orders and their customers in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = mostrador_local::start(
        deps.clone(),
        listener,
        mostrador_local::Options {
            pollers: false,
            scheduler: false,
            backups: None,
        },
    )
    .await?;
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let today = clock
        .now()
        .with_timezone(&chrono_tz::America::Mexico_City)
        .date_naive();
    let days_ago = |d: i64| (today - Duration::days(d)).format("%Y-%m-%d").to_string();
    let (centro, polanco) = (&demo.branches[0].id, &demo.branches[1].id);
    let some_order = format!("/v1/orders/OLOAD{:06}", orders / 2);
    let pages: Vec<(&str, Vec<String>)> = vec![
        (
            "Hoy",
            vec![
                "/v1/merchant".into(),
                "/v1/branches".into(),
                format!(
                    "/v1/reports/commerce?from={}&to={}",
                    days_ago(0),
                    days_ago(0)
                ),
                "/v1/orders?limit=200".into(),
                "/v1/invoices?limit=200".into(),
                "/v1/payments/issues".into(),
                "/v1/conversations".into(),
                format!("/v1/branches/{centro}/stock"),
                format!("/v1/branches/{polanco}/stock"),
            ],
        ),
        ("Pedidos", vec!["/v1/orders?limit=200".into()]),
        (
            "Pedidos de una sucursal, pagados",
            vec![format!(
                "/v1/orders?limit=200&status=paid&branch_id={centro}"
            )],
        ),
        (
            "Un pedido",
            vec![some_order.clone(), "/v1/invoices?limit=200".into()],
        ),
        (
            "Productos (2 páginas)",
            vec![
                "/v1/products?limit=500".into(),
                format!(
                    "/v1/products?limit=500&cursor={}",
                    urlcursor(&http, &base, &demo.api_key).await?
                ),
            ],
        ),
        (
            "Inventario de una sucursal",
            vec![format!("/v1/branches/{centro}/stock")],
        ),
        ("Clientes", vec!["/v1/customers?limit=100".into()]),
        ("Facturas", vec!["/v1/invoices?limit=200".into()]),
        (
            "Reportes, 7 días",
            vec![
                format!(
                    "/v1/reports/commerce?from={}&to={}",
                    days_ago(6),
                    days_ago(0)
                ),
                format!(
                    "/v1/reports/notifications?from={}&to={}",
                    days_ago(6),
                    days_ago(0)
                ),
            ],
        ),
        (
            "Reportes, 30 días",
            vec![format!(
                "/v1/reports/commerce?from={}&to={}",
                days_ago(29),
                days_ago(0)
            )],
        ),
        (
            "Reportes, 90 días",
            vec![format!(
                "/v1/reports/commerce?from={}&to={}",
                days_ago(89),
                days_ago(0)
            )],
        ),
        (
            "Buscar clave SAT",
            vec!["/v1/sat/claves-prod-serv?q=vitaminas&limit=12".into()],
        ),
    ];
    // Warm-up: the SAT index and SQLite's page cache, as a running stack has them.
    for (_, calls) in &pages {
        for path in calls {
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(&demo.api_key)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
        }
    }
    println!("| page | calls | p50 | p95 | slowest |");
    println!("|---|---|---|---|---|");
    for (name, calls) in &pages {
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let start = Instant::now();
            let sends = calls.iter().map(|path| {
                http.get(format!("{base}{path}"))
                    .bearer_auth(&demo.api_key)
                    .send()
            });
            for r in futures::future::join_all(sends).await {
                let r = r?;
                anyhow::ensure!(r.status().is_success(), "{name}: {}", r.status());
                r.bytes().await?;
            }
            times.push(start.elapsed().as_secs_f64() * 1_000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            calls.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times.last().copied().unwrap_or(0.0)
        );
    }
    running.stop().await;
    Ok(())
}

/// The cursor of the first product page, as the console follows it.
async fn urlcursor(http: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<String> {
    let page: serde_json::Value = http
        .get(format!("{base}/v1/products?limit=500"))
        .bearer_auth(key)
        .send()
        .await?
        .json()
        .await?;
    let cursor = page["cursor"].as_str().unwrap_or_default();
    Ok(url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect())
}
