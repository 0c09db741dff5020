//! Catalog and stock as the POS syncs them, and orders reserving stock — on both engines.

use chrono::Utc;
use mostrador_app::commerce::orders::{Order, OrderLine, OrderStatus, PlaceError};
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_core::money::Centavos;
use mostrador_core::tax::{line_amounts, TaxTreatment};
use mostrador_core::{Clock, FixedClock};
use mostrador_e2e::{on_both_engines, Engine, TestApp};
use mostrador_local::Options;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const CSV: &str = "sku,name,description,price,tax,clave_prod_serv,clave_unidad,image_url,categories,active
7501008491072,Paracetamol 500 mg 10 tabletas,Analgésico,45.50,iva0,51142001,XBX,,Analgésicos,true
7501008400166,Ibuprofeno 400 mg 10 tabletas,,62.00,iva0,51142100,XBX,,Analgésicos|Antiinflamatorios,true
BAD SKU,Jabón,,20,iva16,53131608,H87,,Higiene,true
7501035911208,Cepillo dental,,-5,iva16,53131503,H87,,Higiene,true
7501035911209,Pasta dental 100 ml,,38.90,iva16,5313,XTU,,Higiene,true
7501035911210,Hilo dental,,29.90,iva99,53131504,BOX,,Higiene,quizá
";

async fn demo_shop(app: &TestApp) -> (String, String, String) {
    let (merchant, key) = app.merchant("Farmacia San Juan").await;
    let branch = app.branch(&key, "Centro", Some("5550001")).await;
    (merchant, key, branch)
}

async fn csv_import_reports_every_bad_row_and_applies_nothing(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let (_, key, _) = demo_shop(&app).await;
    // A dry run answers as the import would (422: nothing would apply), shows every row's fate
    // and writes nothing.
    let r = app
        .as_merchant(&key, Method::POST, "/v1/products/import?dry_run=true")
        .body(CSV)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);
    let answer: Value = r.json().await.expect("json");
    assert_eq!(answer["error"]["code"], "validation_failed", "{answer}");
    let preview = &answer["preview"];
    assert_eq!(preview["dry_run"], true, "{preview}");
    assert_eq!(
        preview["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| (c["row"].as_u64(), c["action"].as_str()))
            .collect::<Vec<_>>(),
        vec![(Some(1), Some("create")), (Some(2), Some("create"))]
    );
    let rejected: Vec<u64> = preview["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .filter_map(|r| r["row"].as_u64())
        .collect();
    assert_eq!(rejected, vec![3, 4, 5, 6]);
    // Reasons a merchant reads are in Spanish.
    assert!(
        preview["rejected"][0]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("letras"),
        "{preview}"
    );
    let r = app
        .as_merchant(&key, Method::POST, "/v1/products/import")
        .header("content-type", "text/csv")
        .body(CSV)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.expect("json");
    let rows: Vec<(u64, Vec<String>)> = body["error"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap_or(0),
                r["errors"]
                    .as_array()
                    .map(|e| {
                        e.iter()
                            .filter_map(|f| f["field"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (3, vec!["sku".to_owned()]),
            (4, vec!["price".to_owned()]),
            (5, vec!["clave_prod_serv".to_owned()]),
            (6, vec!["tax".to_owned(), "active".to_owned()]),
        ]
    );
    let list: Value = app
        .as_merchant(&key, Method::GET, "/v1/products")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list["products"], json!([]), "nothing is half-applied");
    // With ?partial=true the two good rows apply and the rest is reported.
    let r = app
        .as_merchant(&key, Method::POST, "/v1/products/import?partial=true")
        .body(CSV)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.expect("json");
    assert_eq!(
        (
            report["applied"].as_u64(),
            report["rejected"].as_array().map(Vec::len)
        ),
        (Some(2), Some(4))
    );
    let p: Value = app
        .as_merchant(&key, Method::GET, "/v1/products/7501008491072")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(p["price"], 4550, "pesos in the CSV become centavos exactly");
    assert_eq!(p["categories"], json!(["Analgésicos"]));
    // A new price previews as a change from the price on the shelf; the same row as no change.
    let repriced = CSV
        .lines()
        .take(3)
        .collect::<Vec<_>>()
        .join("\n")
        .replace("45.50", "47.00");
    let preview: Value = app
        .as_merchant(&key, Method::POST, "/v1/products/import?dry_run=true")
        .body(repriced)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(preview["changes"][0]["action"], "update", "{preview}");
    assert_eq!(
        (
            &preview["changes"][0]["price_before"],
            &preview["changes"][0]["price"]
        ),
        (&json!(4550), &json!(4700))
    );
    assert_eq!(preview["changes"][1]["action"], "same");
    let p: Value = app
        .as_merchant(&key, Method::GET, "/v1/products/7501008491072")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(p["price"], 4550, "a dry run writes nothing");
    app.stop().await;
}

async fn bulk_upsert_takes_thousands_of_rows(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let (_, key, branch) = demo_shop(&app).await;
    let rows: Vec<Value> = (0..2000)
        .map(|i| json!({ "sku": format!("SKU-{i:05}"), "name": format!("Producto {i}"), "price": 1000 + i, "tax": "iva16", "clave_prod_serv": "53131608", "clave_unidad": "H87", "categories": ["Varios"] }))
        .collect();
    let r = app
        .as_merchant(&key, Method::POST, "/v1/products/bulk")
        .json(&rows)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["applied"], 2000);
    let stock: Vec<Value> = (0..2000)
        .map(|i| json!({ "sku": format!("SKU-{i:05}"), "quantity": 5 }))
        .collect();
    let r = app
        .as_merchant(&key, Method::PUT, &format!("/v1/branches/{branch}/stock"))
        .json(&stock)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["applied"], 2000);
    // Unknown SKUs, negative and absurd quantities: 422 with each row, nothing applied.
    let bad = json!([{ "sku": "SKU-00001", "quantity": 3 }, { "sku": "NOPE", "quantity": 1 }, { "sku": "SKU-00002", "quantity": -1 }, { "sku": "SKU-00003", "quantity": 99_999_999 }]);
    let r = app
        .as_merchant(&key, Method::PUT, &format!("/v1/branches/{branch}/stock"))
        .json(&bad)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["rows"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let s: Value = app
        .as_merchant(&key, Method::GET, &format!("/v1/branches/{branch}/stock"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        s["stock"][1],
        json!({ "sku": "SKU-00001", "name": "Producto 1", "available": 5, "reserved": 0, "min_stock": 5, "low": true }),
        "nothing of the bad batch applied; five units are at the default minimum"
    );
    app.stop().await;
}

async fn counter_sales_and_stock_takes_never_go_negative(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let (_, key, branch) = demo_shop(&app).await;
    app.as_merchant(&key, Method::POST, "/v1/products/import")
        .body(CSV.lines().take(3).collect::<Vec<_>>().join("\n"))
        .send()
        .await
        .expect("send");
    let put = |q: i64| {
        app.as_merchant(&key, Method::PUT, &format!("/v1/branches/{branch}/stock"))
            .json(&json!([{ "sku": "7501008491072", "quantity": q }]))
            .send()
    };
    let adjust = |d: i64| {
        app.as_merchant(
            &key,
            Method::POST,
            &format!("/v1/branches/{branch}/stock/adjustments"),
        )
        .json(&json!([{ "sku": "7501008491072", "delta": d }]))
        .send()
    };
    assert_eq!(put(10).await.expect("send").status(), 200);
    assert_eq!(adjust(-4).await.expect("send").status(), 200);
    let too_many = adjust(-7).await.expect("send");
    assert_eq!(
        too_many.status(),
        422,
        "a sale larger than the stock is refused with its reason"
    );
    let report: Value = too_many.json().await.expect("json");
    assert!(
        report["error"]["rows"][0]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("only 6 available"),
        "{report}"
    );
    let below_reserved = put(-1).await.expect("send");
    assert_eq!(below_reserved.status(), 422);
    assert_eq!(adjust(3).await.expect("send").status(), 200);
    let s: Value = app
        .as_merchant(&key, Method::GET, &format!("/v1/branches/{branch}/stock"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(s["stock"][0]["available"], 9);
    assert_eq!(
        (&s["stock"][0]["low"], &s["stock"][0]["min_stock"]),
        (&json!(false), &json!(5)),
        "nine units are not low by the default threshold: {s}"
    );
    // The product's own threshold decides when the branch is low on it.
    let mut product: Value = app
        .as_merchant(&key, Method::GET, "/v1/products/7501008491072")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    product["min_stock"] = json!(12);
    let saved = app
        .as_merchant(&key, Method::PUT, "/v1/products/7501008491072")
        .json(&product)
        .send()
        .await
        .expect("send");
    assert_eq!(saved.status(), 200);
    // Create-only never overwrites: the same SKU with If-None-Match: * is a conflict.
    let again = app
        .as_merchant(&key, Method::PUT, "/v1/products/7501008491072")
        .header("if-none-match", "*")
        .json(&product)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), 409);
    product["sku"] = json!("7501000000017");
    let created = app
        .as_merchant(&key, Method::PUT, "/v1/products/7501000000017")
        .header("if-none-match", "*")
        .json(&product)
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), 200);
    let s: Value = app
        .as_merchant(&key, Method::GET, &format!("/v1/branches/{branch}/stock"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (&s["stock"][0]["low"], &s["stock"][0]["min_stock"]),
        (&json!(true), &json!(12)),
        "{s}"
    );
    // The product form's search over SAT's catalog.
    let found: Value = app
        .as_merchant(
            &key,
            Method::GET,
            "/v1/sat/claves-prod-serv?q=paracetamol&limit=3",
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        found["results"][0],
        json!({ "code": "51142001", "name": "Acetaminofén" })
    );
    let too_long = app
        .as_merchant(
            &key,
            Method::GET,
            &format!("/v1/sat/claves-prod-serv?q={}", "a".repeat(101)),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(too_long.status(), 422);
    app.stop().await;
}

fn order(id: &str, branch: &str, sku: &str, qty: u32) -> Order {
    let unit = Centavos(4_550);
    Order {
        id: id.into(),
        branch_id: branch.into(),
        wa_id: "525512345678".into(),
        phone_number_id: "5550001".into(),
        status: OrderStatus::AwaitingPayment,
        lines: vec![OrderLine {
            discount: Default::default(),
            sku: sku.into(),
            name: "Paracetamol".into(),
            qty,
            unit,
            amounts: line_amounts(unit, qty, TaxTreatment::Iva0, true).expect("amounts"),
        }],
        subtotal: Centavos(4_550 * i64::from(qty)),
        iva: Centavos::ZERO,
        total: Centavos(4_550 * i64::from(qty)),
        created_at: Utc::now().to_rfc3339(),
        expires_at_ms: Utc::now().timestamp_millis() + 30 * 60_000,
        payment_url: None,
        fulfilment: Default::default(),
        customer_name: None,
        sealed_personal: None,
        refunds: Vec::new(),
        promotions: Vec::new(),
    }
}

async fn fifty_confirmations_racing_for_ten_units_sell_exactly_ten(engine: Engine) {
    // moto's threaded server does not serialize transactions (DynamoDB does): race on the serial one.
    let serial = std::env::var("MOSTRADOR_TEST_AWS_SERIAL_ENDPOINT").unwrap_or_default();
    let extra: Vec<(&str, &str)> = if engine == Engine::Aws && !serial.is_empty() {
        vec![("MOSTRADOR_AWS_ENDPOINT", serial.as_str())]
    } else {
        vec![]
    };
    let app = TestApp::spawn_full(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
        &extra,
    )
    .await;
    let (merchant, key, branch) = demo_shop(&app).await;
    app.as_merchant(&key, Method::POST, "/v1/products/import")
        .body(CSV.lines().take(2).collect::<Vec<_>>().join("\n"))
        .send()
        .await
        .expect("send");
    app.as_merchant(&key, Method::PUT, &format!("/v1/branches/{branch}/stock"))
        .json(&json!([{ "sku": "7501008491072", "quantity": 10 }]))
        .send()
        .await
        .expect("send");
    let merchant = MerchantId::try_from(merchant).expect("id");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (deps, merchant, o) = (
            app.deps.clone(),
            merchant.clone(),
            order(&format!("race{i:02}"), &branch, "7501008491072", 1),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                match mostrador_app::flows::chat::place_order(&deps, &merchant, o.clone()).await {
                    Ok(_) => return true,
                    Err(PlaceError::Short(_)) => return false,
                    Err(PlaceError::PromotionUsedUp(name)) => panic!("no promotion here: {name}"),
                    Err(PlaceError::Store(e)) if e.is_retryable() => continue,
                    Err(PlaceError::Store(e)) => panic!("{e}"),
                }
            }
        }));
    }
    let mut sold = 0;
    for t in tasks {
        sold += usize::from(t.await.expect("task"));
    }
    assert_eq!(sold, 10);
    let s: Value = app
        .as_merchant(&key, Method::GET, &format!("/v1/branches/{branch}/stock"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            s["stock"][0]["available"].as_i64(),
            s["stock"][0]["reserved"].as_i64()
        ),
        (Some(0), Some(10))
    );
    app.stop().await;
}

async fn cancel_and_expiry_release_stock_and_tell_the_customer(engine: Engine) {
    let clock = FixedClock::at(Utc::now());
    let app = TestApp::spawn_with(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let (merchant, key, branch) = demo_shop(&app).await;
    app.as_merchant(&key, Method::POST, "/v1/products/import")
        .body(CSV.lines().take(2).collect::<Vec<_>>().join("\n"))
        .send()
        .await
        .expect("send");
    app.as_merchant(&key, Method::PUT, &format!("/v1/branches/{branch}/stock"))
        .json(&json!([{ "sku": "7501008491072", "quantity": 10 }]))
        .send()
        .await
        .expect("send");
    let m = MerchantId::try_from(merchant).expect("id");
    let mut a = order("ordA", &branch, "7501008491072", 3);
    a.expires_at_ms = clock.now_ms() + 30 * 60_000;
    let mut b = order("ordB", &branch, "7501008491072", 2);
    b.expires_at_ms = clock.now_ms() + 30 * 60_000;
    mostrador_app::flows::chat::place_order(&app.deps, &m, a.clone())
        .await
        .map_err(|_| "place")
        .expect("A");
    mostrador_app::flows::chat::place_order(&app.deps, &m, b)
        .await
        .map_err(|_| "place")
        .expect("B");
    // Placing A again (a redelivered confirmation) changes nothing.
    let again = mostrador_app::flows::chat::place_order(&app.deps, &m, a)
        .await
        .map_err(|_| "place")
        .expect("again");
    assert_eq!(again.id, "ordA");
    let stock = |app: &TestApp| {
        let t = TenantTable::of(&app.deps, &m);
        let branch = branch.clone();
        async move {
            mostrador_app::commerce::catalog::get_stock(&t, &branch, "7501008491072")
                .await
                .expect("stock")
        }
    };
    assert_eq!(
        (stock(&app).await.available, stock(&app).await.reserved),
        (5, 5)
    );
    let r = app
        .as_merchant(&key, Method::POST, "/v1/orders/ordA/cancel")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.expect("json")["status"],
        "cancelled"
    );
    assert_eq!(
        (stock(&app).await.available, stock(&app).await.reserved),
        (8, 2)
    );
    let again = app
        .as_merchant(&key, Method::POST, "/v1/orders/ordA/cancel")
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), 409, "a cancelled order stays cancelled");
    // B lapses: the job releases its stock once, however often it fires.
    clock.advance(chrono::Duration::minutes(31));
    for _ in 0..2 {
        mostrador_app::entry::jobs::run(
            &app.deps,
            mostrador_app::entry::jobs::Job::ExpireOrders,
            clock.now_ms() + 60_000,
        )
        .await
        .expect("job");
    }
    assert_eq!(
        (stock(&app).await.available, stock(&app).await.reserved),
        (10, 0)
    );
    let b: Value = app
        .as_merchant(&key, Method::GET, "/v1/orders/ordB")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(b["status"], "expired");
    // The customer was told both times (outside the 24-hour window: the order-update template).
    let mut told = Vec::new();
    for m in app
        .deps
        .queues
        .outbound
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .expect("receive")
    {
        let env: Value = serde_json::from_str(&m.body).expect("json");
        told.push((
            env["id"].as_str().unwrap_or_default().to_owned(),
            env["message"]["template"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    told.sort();
    assert_eq!(
        told,
        vec![
            (
                "ordA-cancelled".to_owned(),
                "mostrador_pedido_actualizado".to_owned()
            ),
            (
                "ordB-expired".to_owned(),
                "mostrador_pedido_actualizado".to_owned()
            )
        ]
    );
    let list: Value = app
        .as_merchant(&key, Method::GET, "/v1/orders?status=expired")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list["orders"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["orders"][0]["id"], "ordB");
    app.stop().await;
}

/// IVA 8 % exists only in the border regions (SAT's c_CodigoPostal) for branches that apply the
/// incentive: a Mexico City shop cannot sell at 8 %, a Tijuana branch can.
async fn iva_8_only_at_a_border_branch(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let (_, key) = app.merchant("Farmacia del Norte").await;
    let roma = app.branch(&key, "Roma", None).await;
    let product = json!([{ "sku": "AGUA-1L", "name": "Agua 1 L", "price": 1500, "tax": "iva8", "clave_prod_serv": "50202301", "clave_unidad": "H87" }]);
    let send = |method: Method, path: String, body: Value| {
        let request = app.as_merchant(&key, method, &path).json(&body);
        async move {
            let r = request.send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, refused) = send(Method::POST, "/v1/products/bulk".into(), product.clone()).await;
    assert_eq!(status, 422, "{refused}");
    let why = refused["error"]["rows"][0]["errors"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        why.contains("06700") && why.contains("región fronteriza"),
        "{refused}"
    );

    // A Mexico City postal code cannot claim the incentive.
    let (status, refused) = send(
        Method::POST,
        "/v1/branches".into(),
        json!({ "name": "Centro", "postal_code": "06000", "border_incentive": true }),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let (status, tijuana) = send(
        Method::POST,
        "/v1/branches".into(),
        json!({ "name": "Zona Río", "postal_code": "22010", "timezone": "America/Tijuana", "border_incentive": true }),
    )
    .await;
    assert_eq!(status, 201, "{tijuana}");
    assert_eq!(tijuana["border_incentive"], true);
    let tijuana = tijuana["id"].as_str().expect("id").to_owned();
    let (status, applied) = send(Method::POST, "/v1/products/bulk".into(), product).await;
    assert_eq!(
        (status, applied["applied"].as_u64()),
        (200, Some(1)),
        "{applied}"
    );

    let stock = json!([{ "sku": "AGUA-1L", "quantity": 10 }]);
    let (status, refused) = send(
        Method::PUT,
        format!("/v1/branches/{roma}/stock"),
        stock.clone(),
    )
    .await;
    assert_eq!(status, 422, "the Roma branch cannot sell at 8 %: {refused}");
    let (status, applied) = send(Method::PUT, format!("/v1/branches/{tijuana}/stock"), stock).await;
    assert_eq!(status, 200, "{applied}");
    app.stop().await;
}

on_both_engines!(
    iva_8_only_at_a_border_branch,
    csv_import_reports_every_bad_row_and_applies_nothing,
    bulk_upsert_takes_thousands_of_rows,
    counter_sales_and_stock_takes_never_go_negative,
    fifty_confirmations_racing_for_ten_units_sell_exactly_ten,
    cancel_and_expiry_release_stock_and_tell_the_customer,
);
