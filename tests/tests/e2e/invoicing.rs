//! CFDI 4.0 through the running stack: the merchant registers as issuer and uploads SAT's test CSD, a
//! paid order gets its individual invoice stamped by the sandbox PAC and delivered as two WhatsApp
//! documents, and the day's other sales go into the branch's global invoice when the job fires after
//! midnight. Every XML is checked by satcfdi (XSD, sello). On both engines.

use chrono::{Duration, TimeZone, Utc};
use mostrador_app::commerce::orders::{Order, OrderLine, OrderStatus};
use mostrador_app::entry::jobs::{self, Job};
use mostrador_app::platform::tenant::MerchantId;
use mostrador_cfdi::oracle::{assert_verified, CfdiFile};
use mostrador_core::money::Centavos;
use mostrador_core::tax::{line_amounts, TaxTreatment};
use mostrador_core::{Clock, FixedClock};
use mostrador_e2e::{eventually, on_both_engines, text_webhook, Engine, TestApp};
use mostrador_local::Options;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const CENTRO: &str = "100000000000001";
const CUSTOMER: &str = "525512345678";

fn csd_file(name: &str) -> String {
    let path = format!(
        "{}/../shared/cfdi/tests/fixtures/csd/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(&path).expect("fixture"))
}

fn order(id: &str, branch: &str, now: chrono::DateTime<Utc>) -> Order {
    order_of(id, branch, now, 2)
}

/// `paracetamol` boxes of paracetamol (IVA 0 %) and one toothpaste at $32.00 with IVA 16 % included.
fn order_of(id: &str, branch: &str, now: chrono::DateTime<Utc>, paracetamol: u32) -> Order {
    let para = Centavos(4_550);
    let pasta = Centavos(3_200);
    let a = line_amounts(para, paracetamol, TaxTreatment::Iva0, true).expect("amounts");
    let b = line_amounts(pasta, 1, TaxTreatment::Iva16, true).expect("amounts");
    Order {
        id: id.into(),
        branch_id: branch.into(),
        wa_id: CUSTOMER.into(),
        phone_number_id: CENTRO.into(),
        status: OrderStatus::AwaitingPayment,
        lines: vec![
            OrderLine {
                discount: Default::default(),
                sku: "7501008491072".into(),
                name: "Paracetamol 500 mg 20 tabletas".into(),
                qty: paracetamol,
                unit: para,
                amounts: a,
            },
            OrderLine {
                discount: Default::default(),
                sku: "7501035911208".into(),
                name: "Pasta dental 100 ml".into(),
                qty: 1,
                unit: pasta,
                amounts: b,
            },
        ],
        subtotal: Centavos(a.base.0 + b.base.0),
        iva: Centavos(a.iva.0 + b.iva.0),
        total: Centavos(a.total.0 + b.total.0),
        created_at: now.to_rfc3339(),
        expires_at_ms: now.timestamp_millis() + 30 * 60_000,
        payment_url: None,
        fulfilment: Default::default(),
        customer_name: None,
        sealed_personal: None,
        refunds: Vec::new(),
        promotions: Vec::new(),
    }
}

async fn pay(app: &TestApp, merchant: &MerchantId, order: &Order, event: &str) {
    mostrador_e2e::issue_link(&app.deps, merchant, order).await;
    app.pay_in_sandbox(merchant, &order.id, order.total.0, event)
        .await;
}

async fn json_of(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn paid_orders_are_invoiced_and_the_rest_goes_global(engine: Engine) {
    // 13:00 in Mexico City, so that the day's global is due after the next midnight.
    let start = chrono_tz::America::Mexico_City
        .from_local_datetime(
            &Utc::now()
                .with_timezone(&chrono_tz::America::Mexico_City)
                .date_naive()
                .and_hms_opt(13, 0, 0)
                .expect("time"),
        )
        .earliest()
        .expect("local time")
        .with_timezone(&Utc);
    let clock = FixedClock::at(start);
    let app = TestApp::spawn_with(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: true,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    let branch = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == CENTRO)
        .expect("centro")
        .id
        .clone();

    // The issuer: bad data is refused field by field, in Spanish.
    let (status, bad) = json_of(
        app.as_merchant(&key, Method::PUT, "/v1/settings/invoicing")
            .json(&json!({ "rfc": "EKU9003173C8", "nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "999" })),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    let fields: Vec<&str> = bad["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"rfc") && fields.contains(&"regimen_fiscal"),
        "{bad}"
    );
    let (status, _) = json_of(
        app.as_merchant(&key, Method::PUT, "/v1/settings/invoicing")
            .json(&json!({ "rfc": "EKU9003173C9", "nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601", "serie": "FSJ" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, wrong) = json_of(
        app.as_merchant(&key, Method::PUT, "/v1/settings/invoicing/csd")
            .json(&json!({ "certificate": csd_file("EKU9003173C9.cer"), "private_key": csd_file("EKU9003173C9.key"), "password": "not-it" })),
    )
    .await;
    assert_eq!(status, 422, "a wrong CSD password is refused: {wrong}");
    let (status, issuer) = json_of(
        app.as_merchant(&key, Method::PUT, "/v1/settings/invoicing/csd")
            .json(&json!({ "certificate": csd_file("EKU9003173C9.cer"), "private_key": csd_file("EKU9003173C9.key"), "password": "12345678a" })),
    )
    .await;
    assert_eq!(status, 200, "{issuer}");
    assert_eq!(
        issuer["issuer"]["csd"]["no_certificado"],
        "30001000000500003416"
    );
    assert!(
        issuer.to_string().find("12345678a").is_none(),
        "the password is never returned"
    );

    // The customer writes (their 24-hour window opens) and buys.
    let hello = text_webhook(CENTRO, "5215512345678", "wamid.inv.hello", "Hola");
    assert_eq!(app.post_webhook(&hello).await.status(), 200);
    let first = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("OINV1", &branch, start),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    pay(&app, &merchant, &first, "evt_inv_1").await;

    // Their fiscal data: invalid is refused with reasons; valid is kept.
    let (status, bad) = json_of(
        app.as_merchant(&key, Method::PUT, &format!("/v1/customers/{CUSTOMER}/fiscal"))
            .json(&json!({ "rfc": "CACX7605101P8", "nombre": "XOCHILT CASAS CHAVEZ", "codigo_postal": "3625", "regimen_fiscal": "626", "uso_cfdi": "S01X" })),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    let (status, _) =
        json_of(app.as_merchant(&key, Method::POST, "/v1/orders/OINV1/invoice")).await;
    assert_eq!(status, 422, "no fiscal data yet");
    let (status, queued) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/OINV1/invoice")
            .json(&json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" })),
    )
    .await;
    assert_eq!(status, 202, "{queued}");

    let (app_ref, key_ref) = (&app, &key);
    eventually("the order's invoice stamped", || async {
        let (_, inv) =
            json_of(app_ref.as_merchant(key_ref, Method::GET, "/v1/invoices/OINV1")).await;
        inv["status"] == "stamped"
    })
    .await;
    let (_, invoice) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/OINV1")).await;
    assert_eq!(invoice["serie"], "FSJ");
    assert_eq!(
        invoice["total"], "123.00",
        "what the customer paid: {invoice}"
    );
    let xml = app
        .as_merchant(&key, Method::GET, "/v1/invoices/OINV1/xml")
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("xml");
    assert!(xml.contains("tfd:TimbreFiscalDigital"), "stamped: {xml}");
    assert!(
        xml.contains("sin validez fiscal"),
        "the sandbox PAC says so"
    );

    // Delivered as two documents: the PDF and the XML, downloadable from their signed links.
    eventually("two documents to the customer", || async {
        let (_, o) =
            json_of(app_ref.as_merchant(key_ref, Method::GET, "/v1/outbox?limit=200")).await;
        o["messages"].as_array().map(|m| {
            m.iter()
                .filter(|m| m["message"]["type"] == "document")
                .count()
        }) == Some(2)
    })
    .await;
    let (_, outbox) = json_of(app.as_merchant(&key, Method::GET, "/v1/outbox?limit=200")).await;
    let docs: Vec<&Value> = outbox["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["message"])
        .filter(|m| m["type"] == "document")
        .collect();
    let names: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["document"]["filename"].as_str())
        .collect();
    assert!(
        names.contains(&"Factura-FSJ-1.pdf") && names.contains(&"Factura-FSJ-1.xml"),
        "{names:?}"
    );
    for d in &docs {
        let link = d["document"]["link"].as_str().expect("link");
        // The link names MOSTRADOR_PUBLIC_URL; this stack listens on its own test port.
        let path = &link[link.find("/files/").expect("a /files/ link")..];
        let link = format!("{}{path}", app.url);
        let link = link.as_str();
        let body = app
            .http
            .get(link)
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        if link.contains("pdf")
            || d["document"]["filename"]
                .as_str()
                .is_some_and(|f| f.ends_with(".pdf"))
        {
            assert!(body.starts_with(b"%PDF"), "a PDF");
        } else {
            assert_eq!(body.as_ref(), xml.as_bytes(), "the stamped XML");
        }
    }
    let forged = app
        .http
        .get(format!("{}/files/eyJrIjoieCJ9.00", app.url))
        .send()
        .await
        .expect("get");
    assert_eq!(forged.status(), 404);
    // Even a correctly signed link that names a path outside the store is a 404, never a 500.
    for escape in ["../../secrets.json", "/etc/passwd", "a/../../master.key"] {
        let link = mostrador_app::invoicing::documents::link(&app.deps, escape, "x.pdf")
            .expect("a signed link");
        let path = &link[link.find("/files/").expect("a /files/ link")..];
        let got = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("get");
        assert_eq!(got.status(), 404, "{escape}");
    }

    // Another sale of the day, not invoiced individually: it goes into the global invoice.
    let second = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("OINV2", &branch, start),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    pay(&app, &merchant, &second, "evt_inv_2").await;
    let third = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("OINV3", &branch, start),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    pay(&app, &merchant, &third, "evt_inv_3").await;
    let early = jobs::run(&app.deps, Job::GlobalInvoices, clock.now_ms() + 60_000)
        .await
        .expect("run");
    assert_eq!(early.processed, 0, "the day is not over");
    clock.advance(Duration::hours(11) + Duration::minutes(30));
    let run = jobs::run(&app.deps, Job::GlobalInvoices, clock.now_ms() + 60_000)
        .await
        .expect("run");
    assert_eq!(run.processed, 1, "one global per branch and day");
    eventually("the global invoice stamped", || async {
        let (_, list) = json_of(app_ref.as_merchant(key_ref, Method::GET, "/v1/invoices")).await;
        list["invoices"].as_array().is_some_and(|l| {
            l.iter()
                .any(|i| i["kind"] == "global" && i["status"] == "stamped")
        })
    })
    .await;
    let (_, list) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices")).await;
    let global = list["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .find(|i| i["kind"] == "global")
        .expect("global")
        .clone();
    assert_eq!(
        global["tickets"], 2,
        "the individually invoiced sale is not in it: {global}"
    );
    assert_eq!(global["receptor_rfc"], "XAXX010101000");
    assert_eq!(global["total"], "246.00");
    let global_xml = app
        .as_merchant(
            &key,
            Method::GET,
            &format!("/v1/invoices/{}/xml", global["id"].as_str().expect("id")),
        )
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("xml");
    assert!(global_xml.contains("InformacionGlobal"), "{global_xml}");
    assert!(global_xml.contains("OINV2"), "one concepto per ticket");
    assert!(!global_xml.contains("OINV1"));
    let invoice_xml_of_oinv1 = xml.clone();
    assert_verified(&[
        CfdiFile::xml("individual.xml", xml),
        CfdiFile::xml("global.xml", global_xml.clone()),
    ]);

    // The second customer asks for their own invoice after the global: it is issued, and a nota de
    // crédito to the general public takes the ticket out of the global (SAT's guide).
    let (status, _) =
        json_of(app.as_merchant(&key, Method::POST, "/v1/orders/OINV2/invoice")).await;
    assert_eq!(status, 202);
    // A refund of an invoiced order gets its nota de crédito too (relation 03, to the customer).
    let (status, refunded) =
        json_of(app.as_merchant(&key, Method::POST, "/v1/orders/OINV1/refund")).await;
    assert_eq!(status, 200, "{refunded}");
    // A refund of a ticket already declared in the global: a nota to the general public, related
    // to the global (relation 03) with its period, so the income stops being declared.
    let (status, refunded) =
        json_of(app.as_merchant(&key, Method::POST, "/v1/orders/OINV3/refund")).await;
    assert_eq!(status, 200, "{refunded}");
    for id in ["OINV2", "E-OINV2-G", "E-OINV1-R", "E-OINV3-R"] {
        let what = format!("{id} stamped");
        eventually(&what, || async {
            let (_, inv) =
                json_of(app_ref.as_merchant(key_ref, Method::GET, &format!("/v1/invoices/{id}")))
                    .await;
            inv["status"] == "stamped"
        })
        .await;
    }
    let (_, adjustments) =
        json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/adjustments")).await;
    let listed = adjustments["adjustments"].as_array().expect("adjustments");
    assert_eq!(listed.len(), 2, "{adjustments}");
    for order in ["OINV2", "OINV3"] {
        let what = format!("{order}'s correction recorded");
        eventually(&what, || async {
            let (_, adjustments) =
                json_of(app_ref.as_merchant(key_ref, Method::GET, "/v1/invoices/adjustments"))
                    .await;
            adjustments["adjustments"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| {
                    a["order_id"] == order
                        && a["action"]
                            .as_str()
                            .is_some_and(|a| a.contains("egreso emitido"))
                })
        })
        .await;
    }
    let global_uuid = global_xml
        .split("UUID=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the global's UUID")
        .to_owned();
    let mut notes = Vec::new();
    for id in ["E-OINV2-G", "E-OINV1-R", "E-OINV3-R"] {
        let xml = app
            .as_merchant(&key, Method::GET, &format!("/v1/invoices/{id}/xml"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("xml");
        assert!(xml.contains("TipoDeComprobante=\"E\""), "{xml}");
        assert!(xml.contains("CfdiRelacionados"), "{xml}");
        if id != "E-OINV1-R" {
            // To the general public: SAT requires the period of the global it corrects.
            assert!(xml.contains("Rfc=\"XAXX010101000\""), "{xml}");
            assert!(xml.contains("<cfdi:InformacionGlobal"), "{xml}");
            assert!(
                xml.to_uppercase().contains(&global_uuid.to_uppercase()),
                "{xml}"
            );
        }
        if id == "E-OINV3-R" {
            assert!(xml.contains("TipoRelacion=\"03\""), "{xml}");
            assert!(xml.contains("Total=\"123.00\""), "{xml}");
        }
        if id == "E-OINV1-R" {
            // The refund's nota repeats the invoice's lines: the same total and the same IVA, to
            // the centavo.
            let attr = |doc: &str, name: &str| {
                doc.split(&format!(" {name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(str::to_owned)
            };
            assert_eq!(
                attr(&xml, "Total"),
                attr(&invoice_xml_of_oinv1, "Total"),
                "{xml}"
            );
            assert_eq!(
                attr(&xml, "TotalImpuestosTrasladados"),
                attr(&invoice_xml_of_oinv1, "TotalImpuestosTrasladados"),
                "{xml}"
            );
            assert!(xml.contains("Pasta dental"), "the invoice's lines: {xml}");
        }
        notes.push(CfdiFile::xml(&format!("{id}.xml"), xml));
    }
    assert_verified(&notes);

    // Cancellation follows SAT's motivos: 01 needs the replacing CFDI.
    let (status, _) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/invoices/OINV2/cancel")
            .json(&json!({ "motivo": "01" })),
    )
    .await;
    assert_eq!(status, 422);
    let (status, cancelled) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/invoices/OINV2/cancel")
            .json(&json!({ "motivo": "02" })),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(cancelled["cancel_status"].is_string(), "{cancelled}");

    // The accountant's month: every CFDI stamped in it, XML and PDF, with the summaries.
    let (_, one) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/OINV1")).await;
    let month = one["stamped_at"].as_str().expect("stamped")[..7].to_owned();
    let (status, bad) =
        json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/export?month=2026-13")).await;
    assert_eq!(status, 422, "{bad}");
    let (status, export) = json_of(app.as_merchant(
        &key,
        Method::GET,
        &format!("/v1/invoices/export?month={month}"),
    ))
    .await;
    assert_eq!(status, 200, "{export}");
    let (_, all) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices?limit=200")).await;
    let stamped_this_month = all["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .filter(|i| {
            i["uuid"].is_string()
                && i["stamped_at"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&month))
        })
        .count();
    assert_eq!(export["invoices"], stamped_this_month, "{export}");
    assert_eq!(
        export["files"],
        2 * stamped_this_month,
        "an XML and a PDF each"
    );
    let link = export["url"].as_str().expect("a link");
    let path = &link[link.find("/files/").expect("a /files/ link")..];
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.expect("zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for folder in ["facturas/", "globales/", "notas_de_credito/"] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(folder) && n.ends_with(".xml")),
            "{folder} in {names:?}"
        );
    }
    let mut read = |name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).expect(name), &mut text)
            .expect("read");
        text
    };
    let summary = read("resumen.csv");
    assert_eq!(summary.lines().count(), 1 + stamped_this_month, "{summary}");
    assert!(
        summary
            .lines()
            .any(|l| l.contains("OINV2") && l.contains(",02,")),
        "the cancellation and its motivo are on the invoice's row: {summary}"
    );
    let tickets = read("tickets_globales.csv");
    assert!(
        tickets.lines().count() > 1,
        "the global's tickets: {tickets}"
    );
    // The sales report: three paid, two refunded in full; revenue, the average ticket, the payment
    // method and the best sellers are those of the one sale that stayed.
    let (status, report) = json_of(app.as_merchant(
        &key,
        Method::GET,
        &format!("/v1/reports/commerce?branch_id={branch}"),
    ))
    .await;
    assert_eq!(status, 200, "{report}");
    let summary = &report["summary"];
    assert_eq!(
        (&summary["paid_orders"], &summary["refunded_orders"]),
        (&json!(3), &json!(2)),
        "{summary}"
    );
    assert_eq!(summary["revenue_centavos"], json!(second.total.0));
    assert_eq!(summary["average_ticket_centavos"], json!(second.total.0));
    let methods = summary["payment_methods"].as_object().expect("methods");
    assert_eq!(methods.len(), 1, "{summary}");
    assert_eq!(
        methods.values().next().expect("method")["revenue_centavos"],
        json!(second.total.0)
    );
    let top: Vec<(&str, i64, i64)> = summary["top_products"]
        .as_array()
        .expect("top products")
        .iter()
        .map(|p| {
            (
                p["sku"].as_str().unwrap_or_default(),
                p["units"].as_i64().unwrap_or_default(),
                p["revenue_centavos"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let mut expected: Vec<(&str, i64, i64)> = second
        .lines
        .iter()
        .map(|l| (l.sku.as_str(), i64::from(l.qty), l.amounts.total.0))
        .collect();
    expected.sort_by_key(|l| std::cmp::Reverse(l.2));
    assert_eq!(top, expected);
    app.stop().await;
}

on_both_engines!(paid_orders_are_invoiced_and_the_rest_goes_global);

/// The customer says "factura" in the chat and gives their data step by step.
async fn factura_in_the_chat_collects_validates_and_reuses_fiscal_data(engine: Engine) {
    let clock = FixedClock::at(Utc::now());
    let app = TestApp::spawn_with(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: true,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    let branch = demo.branches[0].id.clone();
    for (path, body) in [
        (
            "/v1/settings/invoicing",
            json!({ "rfc": "EKU9003173C9", "nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601" }),
        ),
        (
            "/v1/settings/invoicing/csd",
            json!({ "certificate": csd_file("EKU9003173C9.cer"), "private_key": csd_file("EKU9003173C9.key"), "password": "12345678a" }),
        ),
    ] {
        let (status, answer) = json_of(app.as_merchant(&key, Method::PUT, path).json(&body)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let first = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("OCHAT1", &branch, clock.now()),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    pay(&app, &merchant, &first, "evt_chat_1").await;

    let mut n = 0;
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut say = |message: Value| {
        n += 1;
        let mut message = message;
        message["from"] = json!("5215512345678");
        message["id"] = json!(format!("wamid.fac.{}.{n}", std::process::id()));
        message["timestamp"] = json!(clock.now_secs().to_string());
        serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "display_phone_number": "5215550000001", "phone_number_id": CENTRO },
            "contacts": [{ "profile": { "name": "Xochilt" }, "wa_id": "5215512345678" }], "messages": [message] } }] }] }))
        .expect("json")
    };
    let (app_ref, key_ref) = (&app, &key);
    let outbox = || async move {
        let (_, o) =
            json_of(app_ref.as_merchant(key_ref, Method::GET, "/v1/outbox?limit=200")).await;
        o["messages"].as_array().cloned().unwrap_or_default()
    };
    // Sends a message and waits for a new reply containing `needle` (under a stopped clock the
    // outbox order is not chronological: new messages are the ones not seen before).
    macro_rules! exchange {
        ($message:expr, $needle:expr) => {{
            // A customer types at human speed: the per-customer send rate (one per 6 s after a
            // burst) follows the injected clock.
            clock.advance(Duration::seconds(7));
            let body = say($message);
            assert_eq!(app.post_webhook(&body).await.status(), 200);
            let needle: &str = $needle;
            let what = format!("a reply containing {needle:?}");
            let known = &seen;
            eventually(&what, || async {
                outbox().await.iter().any(|m| {
                    !known.contains(&m.to_string()) && m["message"].to_string().contains(needle)
                })
            })
            .await;
            seen = outbox().await.iter().map(|m| m.to_string()).collect();
        }};
    }
    exchange!(
        json!({ "type": "text", "text": { "body": "Factura" } }),
        "1/5"
    );
    // A wrong check digit is explained, and the question asked again.
    exchange!(
        json!({ "type": "text", "text": { "body": "CACX7605101P9" } }),
        "verificador"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "cacx7605101p8" } }),
        "2/5"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "Xochilt Casas Chavez" } }),
        "3/5"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "362" } }),
        "de nuevo"
    );
    // The régimenes come as a list, and the usos allowed for the chosen one.
    exchange!(
        json!({ "type": "text", "text": { "body": "36257" } }),
        "reg:626"
    );
    exchange!(
        json!({ "type": "interactive", "interactive": { "type": "list_reply", "list_reply": { "id": "reg:626", "title": "626" } } }),
        "uso:G03"
    );
    exchange!(
        json!({ "type": "interactive", "interactive": { "type": "list_reply", "list_reply": { "id": "uso:G03", "title": "G03" } } }),
        "CACX7605101P8"
    );
    exchange!(
        json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "fac:ok", "title": "Sí, facturar" } } }),
        "generando tu factura"
    );
    eventually("the invoice as two documents", || async {
        outbox()
            .await
            .iter()
            .filter(|m| m["message"]["type"] == "document")
            .count()
            == 2
    })
    .await;
    let stored: Value = app
        .as_merchant(
            &key,
            Method::GET,
            &format!("/v1/customers/{CUSTOMER}/fiscal"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(stored["uso_cfdi"], "G03");
    assert_eq!(stored["nombre"], "XOCHILT CASAS CHAVEZ");

    // Next time the data is offered again.
    let second = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("OCHAT2", &branch, clock.now()),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    pay(&app, &merchant, &second, "evt_chat_2").await;
    assert!(seen.len() >= 10, "every step answered");
    seen = outbox().await.iter().map(|m| m.to_string()).collect();
    exchange!(
        json!({ "type": "text", "text": { "body": "quiero factura" } }),
        "vez pasada"
    );
    assert!(!seen.is_empty());

    // This time the invoice goes to a visitor from abroad: the foreign generic RFC, their country
    // (a country no one knows is asked again, Mexico is refused) and their tax number.
    exchange!(
        json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "fac:cambiar", "title": "Cambiar datos" } } }),
        "1/5"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "XEXX010101000" } }),
        "2/5"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "John Smith" } }),
        "3/4"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "Narnia" } }),
        "No reconozco"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "México" } }),
        "factura con tu RFC"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "Estados Unidos" } }),
        "4/4"
    );
    exchange!(
        json!({ "type": "text", "text": { "body": "123-45-6789" } }),
        "Estados Unidos (USA)"
    );
    exchange!(
        json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "fac:ok", "title": "Sí, facturar" } } }),
        "generando tu factura"
    );
    let invoice: Value = mostrador_e2e::eventually_value("the visitor's invoice", || async {
        let (_, list) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices")).await;
        list["invoices"].as_array().and_then(|l| {
            l.iter()
                .find(|i| i["order_id"] == "OCHAT2" && i["status"] == "stamped")
                .cloned()
        })
    })
    .await;
    let xml = app
        .as_merchant(
            &key,
            Method::GET,
            &format!("/v1/invoices/{}/xml", invoice["id"].as_str().expect("id")),
        )
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("xml");
    assert!(
        xml.contains(r#"Rfc="XEXX010101000" Nombre="JOHN SMITH""#)
            && xml.contains(r#"ResidenciaFiscal="USA" NumRegIdTrib="123-45-6789" RegimenFiscalReceptor="616" UsoCFDI="S01""#),
        "{xml}"
    );
    assert_verified(&[CfdiFile::xml("visitor.xml", xml)]);
    assert!(seen.len() >= 20, "every step answered");
    app.stop().await;
}

mod chat {
    use super::*;
    on_both_engines!(factura_in_the_chat_collects_validates_and_reuses_fiscal_data);
}

#[path = "../../../shared/cfdi/tests/pac_support/mod.rs"]
mod pac_support;

/// A Finkok that is down for the first `down_for` calls and stamps afterwards, remembering what it
/// was sent.
struct FlakyFinkok {
    sent: std::sync::Mutex<Vec<String>>,
    down_for: usize,
}

impl wiremock::Respond for FlakyFinkok {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        if request.url.path().contains("cancel") {
            let body = String::from_utf8_lossy(&request.body);
            // The CSD travels re-encrypted with the account's password (base64 of the PEMs).
            let has_csd = body.contains("cer>") && body.contains("key>");
            return if has_csd {
                wiremock::ResponseTemplate::new(200).set_body_raw(
                    pac_support::finkok_cancel_answer(
                        "6F3E2A1B-9C4D-4E5F-8A7B-1C2D3E4F5A6B",
                        "201",
                        "Cancelado sin aceptación",
                    ),
                    "text/xml",
                )
            } else {
                wiremock::ResponseTemplate::new(500)
            };
        }
        let sealed = pac_support::finkok_request_xml(&request.body);
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.push(sealed.clone());
        if sent.len() <= self.down_for {
            return wiremock::ResponseTemplate::new(503);
        }
        let uuid = "6F3E2A1B-9C4D-4E5F-8A7B-1C2D3E4F5A6B";
        let stamped = pac_support::Tfd::for_sealed(&sealed, uuid).stamp(&sealed);
        wiremock::ResponseTemplate::new(200).set_body_raw(
            pac_support::finkok_stamp_answer("stamp", Some(&stamped), Some(uuid), &[]),
            "text/xml",
        )
    }
}

/// Finkok is down: the invoice waits as `retrying` and is retried with the very same sealed
/// document and folio, first as delayed receives (1 and 5 minutes), then from a due entry (15
/// minutes) so waiting never spends the queue's receives; once stamped, a redelivery stamps nothing
/// again.
async fn a_pac_outage_is_retried_with_the_same_document_and_never_stamps_twice(engine: Engine) {
    let finkok = wiremock::MockServer::start().await;
    let fake = std::sync::Arc::new(FlakyFinkok {
        sent: std::sync::Mutex::new(Vec::new()),
        down_for: 3,
    });
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ArcResponder(fake.clone()))
        .mount(&finkok)
        .await;
    let clock = FixedClock::at(Utc::now());
    let app = TestApp::spawn_full(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: false,
            scheduler: false,
            ..Default::default()
        },
        &[("MOSTRADOR_FINKOK_API_BASE", &finkok.uri())],
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    for (path, body) in [
        (
            "/v1/settings/invoicing",
            json!({ "rfc": "EKU9003173C9", "nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601",
            "pac": { "provider": "finkok", "username": "demo@mostrador.mx", "password": "finkok-demo", "demo": true } }),
        ),
        (
            "/v1/settings/invoicing/csd",
            json!({ "certificate": csd_file("EKU9003173C9.cer"), "private_key": csd_file("EKU9003173C9.key"), "password": "12345678a" }),
        ),
        (
            &format!("/v1/customers/{CUSTOMER}/fiscal"),
            json!({ "rfc": "CACX7605101P8", "nombre": "XOCHILT CASAS CHAVEZ", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" }),
        ),
    ] {
        let (status, answer) = json_of(app.as_merchant(&key, Method::PUT, path).json(&body)).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let placed = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("OPAC1", &demo.branches[0].id, clock.now()),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    pay(&app, &merchant, &placed, "evt_pac_1").await;
    mostrador_app::invoicing::issue::request_individual(&app.deps, &merchant, "OPAC1")
        .await
        .expect("queued");
    let received = app
        .deps
        .queues
        .invoicing
        .receive(
            1,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .expect("receive");
    let m = received.first().expect("the request is queued");
    let record = |count: u32| mostrador_app::platform::records::QueueRecord {
        message_id: m.message_id.clone(),
        body: m.body.clone(),
        group_id: None,
        receive_count: count,
        receipt: None,
    };
    for (n, expected) in [(1, 60), (2, 300)] {
        match mostrador_app::entry::pipeline::handle_invoice_request(&app.deps, &record(n)).await {
            Err(mostrador_app::platform::records::RecordError::RetryAfter(delay, _)) => {
                assert_eq!(
                    delay,
                    std::time::Duration::from_secs(expected),
                    "attempt {n}"
                )
            }
            other => panic!("a PAC outage is retried after a delay, got {other:?}"),
        }
        clock.advance(Duration::seconds(expected as i64));
    }
    let (_, waiting) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/OPAC1")).await;
    assert_eq!(waiting["status"], "retrying", "{waiting}");
    assert!(
        waiting["error"].as_str().is_some_and(|e| e.contains("PAC")),
        "{waiting}"
    );
    // The third failure waits 15 minutes: longer than the queue should hold it. The request is
    // acknowledged (a receive count of 3 would otherwise approach the dead-letter queue's 5).
    mostrador_app::entry::pipeline::handle_invoice_request(&app.deps, &record(3))
        .await
        .expect("a long wait is acknowledged, not failed");
    // The consumer deletes what was acknowledged (this test drives the handler by hand).
    let acknowledged = app
        .deps
        .queues
        .invoicing
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::ZERO,
        )
        .await
        .expect("receive");
    for done in acknowledged {
        app.deps
            .queues
            .invoicing
            .delete(&done.receipt)
            .await
            .expect("delete");
    }
    let none = app
        .deps
        .queues
        .invoicing
        .receive(
            1,
            std::time::Duration::from_secs(1),
            std::time::Duration::ZERO,
        )
        .await
        .expect("receive");
    assert!(none.is_empty(), "nothing back on the queue before its time");
    clock.advance(Duration::minutes(14));
    let early = jobs::run(&app.deps, Job::DueNotifications, clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(early.processed, 0, "not due after 14 minutes");
    clock.advance(Duration::minutes(2));
    let due = jobs::run(&app.deps, Job::DueNotifications, clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(due.processed, 1, "the request comes back after 15 minutes");
    let back = app
        .deps
        .queues
        .invoicing
        .receive(
            1,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .expect("receive");
    let again = back.first().expect("the request is on the queue again");
    assert_eq!(again.body, m.body);
    let record = |count: u32| mostrador_app::platform::records::QueueRecord {
        message_id: again.message_id.clone(),
        body: again.body.clone(),
        group_id: None,
        receive_count: count,
        receipt: None,
    };
    mostrador_app::entry::pipeline::handle_invoice_request(&app.deps, &record(1))
        .await
        .expect("stamped on the fourth attempt");
    mostrador_app::entry::pipeline::handle_invoice_request(&app.deps, &record(2))
        .await
        .expect("a redelivery after success");
    let sent = fake.sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(sent.len(), 4, "no PAC call once stamped");
    assert!(
        sent.iter().all(|x| *x == sent[0]),
        "every retry sends the very same sealed document"
    );
    let (_, stamped) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/OPAC1")).await;
    assert_eq!(stamped["status"], "stamped", "{stamped}");
    assert_eq!(stamped["uuid"], "6F3E2A1B-9C4D-4E5F-8A7B-1C2D3E4F5A6B");
    assert_eq!(stamped["folio"], 1, "one folio reserved");
    assert_verified(&[CfdiFile::xml("sealed-for-finkok.xml", sent[0].clone())]);
    let (status, cancelled) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/invoices/OPAC1/cancel")
            .json(&json!({ "motivo": "03" })),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    app.stop().await;
}

/// wiremock takes responders by value; this shares one.
struct ArcResponder(std::sync::Arc<FlakyFinkok>);

impl wiremock::Respond for ArcResponder {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        self.0.respond(request)
    }
}

mod pac {
    use super::*;
    on_both_engines!(a_pac_outage_is_retried_with_the_same_document_and_never_stamps_twice);
}

/// The invoice goes to the receptor it was asked with, even when the customer's saved fiscal data
/// changes before it is stamped; other data for an invoiced order substitutes it (relation 04, the
/// old one cancelled with motivo 01); a cancellation "en proceso" is followed until settled.
async fn an_invoice_keeps_the_receptor_it_was_asked_with(engine: Engine) {
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
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    for (path, body) in [
        (
            "/v1/settings/invoicing",
            json!({ "rfc": "EKU9003173C9", "nombre": "ESCUELA KEMPER URGATE", "regimen_fiscal": "601" }),
        ),
        (
            "/v1/settings/invoicing/csd",
            json!({ "certificate": csd_file("EKU9003173C9.cer"), "private_key": csd_file("EKU9003173C9.key"), "password": "12345678a" }),
        ),
    ] {
        let (status, answer) = json_of(app.as_merchant(&key, Method::PUT, path).json(&body)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let placed = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("ORCPT1", &demo.branches[0].id, clock.now()),
    )
    .await
    .map_err(|_| "place")
    .expect("placed");
    pay(&app, &merchant, &placed, "evt_rcpt_1").await;
    let asked = json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" });
    let (status, _) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/ORCPT1/invoice")
            .json(&asked),
    )
    .await;
    assert_eq!(status, 202);
    // Before it is stamped, the customer's saved data changes (another purchase, another RFC).
    let other = json!({ "rfc": "MISC491214B86", "nombre": "Cecilia Miranda Sanchez", "codigo_postal": "01010", "regimen_fiscal": "612", "uso_cfdi": "G03" });
    let (status, answer) = json_of(
        app.as_merchant(
            &key,
            Method::PUT,
            &format!("/v1/customers/{CUSTOMER}/fiscal"),
        )
        .json(&other),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let received = app
        .deps
        .queues
        .invoicing
        .receive(
            10,
            std::time::Duration::from_secs(30),
            std::time::Duration::from_secs(1),
        )
        .await
        .expect("receive");
    for m in &received {
        let record = mostrador_app::platform::records::QueueRecord {
            message_id: m.message_id.clone(),
            body: m.body.clone(),
            group_id: None,
            receive_count: 1,
            receipt: None,
        };
        mostrador_app::entry::pipeline::handle_invoice_request(&app.deps, &record)
            .await
            .expect("stamped");
    }
    let (_, invoice) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/ORCPT1")).await;
    assert_eq!(invoice["status"], "stamped", "{invoice}");
    assert_eq!(
        invoice["receptor_rfc"], "CACX7605101P8",
        "the receptor it was asked with"
    );
    // Other data for the invoiced order: SAT's substitution. A new invoice to the new receptor
    // relates the old one (relation 04); once it is stamped, the old one is cancelled with motivo
    // 01 naming it, and the order points at the new one.
    let (status, queued) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/ORCPT1/invoice")
            .json(&other),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["invoice"], "/v1/invoices/ORCPT1-S1", "{queued}");
    assert_eq!(queued["substitutes"], "ORCPT1", "{queued}");
    let (status, twice) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/ORCPT1/invoice")
            .json(&asked),
    )
    .await;
    assert_eq!(status, 409, "one substitution at a time: {twice}");
    drain_invoicing(&app).await;
    let (_, substitute) =
        json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/ORCPT1-S1")).await;
    assert_eq!(substitute["status"], "stamped", "{substitute}");
    assert_eq!(substitute["receptor_rfc"], "MISC491214B86", "{substitute}");
    assert_eq!(substitute["replaces"], "ORCPT1", "{substitute}");
    let xml = app
        .as_merchant(&key, Method::GET, "/v1/invoices/ORCPT1-S1/xml")
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("xml");
    let old_uuid = invoice["uuid"].as_str().expect("uuid").to_uppercase();
    assert!(
        xml.contains(r#"TipoRelacion="04""#) && xml.to_uppercase().contains(&old_uuid),
        "{xml}"
    );
    assert_verified(&[CfdiFile::xml("substitute.xml", xml)]);
    let (_, old) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/ORCPT1")).await;
    assert_eq!(old["status"], "cancelled", "{old}");
    assert_eq!(old["cancel_motivo"], "01", "{old}");
    assert_eq!(old["cancel_folio_sustitucion"], substitute["uuid"], "{old}");
    assert_eq!(old["replaced_by"], "ORCPT1-S1", "{old}");
    let (_, order) = json_of(app.as_merchant(&key, Method::GET, "/v1/orders/ORCPT1")).await;
    assert_eq!(order["invoice"]["id"], "ORCPT1-S1", "{order}");

    // A cancellation that needs the receptor's acceptance (over $1,000 to a taxpayer) stays "en
    // proceso" and is asked about again until SAT settles it; afterwards the order can be
    // invoiced anew.
    let mut big = order_of("ORCPT2", &demo.branches[0].id, clock.now(), 30);
    big.wa_id = CUSTOMER.into();
    let placed = mostrador_app::flows::chat::place_order(&app.deps, &merchant, big)
        .await
        .map_err(|_| "place")
        .expect("placed");
    pay(&app, &merchant, &placed, "evt_rcpt_2").await;
    let (status, _) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/ORCPT2/invoice")
            .json(&asked),
    )
    .await;
    assert_eq!(status, 202);
    drain_invoicing(&app).await;
    let (status, pending) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/invoices/ORCPT2/cancel")
            .json(&json!({ "motivo": "02" })),
    )
    .await;
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["status"], "stamped", "{pending}");
    assert!(
        pending["cancel_status"]
            .as_str()
            .is_some_and(|s| s.starts_with("InProcess")),
        "{pending}"
    );
    clock.advance(chrono::Duration::hours(6) + chrono::Duration::minutes(1));
    jobs::run(&app.deps, Job::DueNotifications, clock.now_ms() + 60_000)
        .await
        .expect("due");
    drain_invoicing(&app).await;
    let (_, settled) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/ORCPT2")).await;
    assert_eq!(settled["status"], "cancelled", "{settled}");
    assert_eq!(settled["cancel_checks"], 1, "{settled}");
    let (status, anew) =
        json_of(app.as_merchant(&key, Method::POST, "/v1/orders/ORCPT2/invoice")).await;
    assert_eq!(status, 202, "{anew}");
    assert_eq!(anew["invoice"], "/v1/invoices/ORCPT2-S1", "{anew}");
    drain_invoicing(&app).await;
    let (_, fresh) = json_of(app.as_merchant(&key, Method::GET, "/v1/invoices/ORCPT2-S1")).await;
    assert_eq!(fresh["status"], "stamped", "{fresh}");
    assert!(
        fresh["replaces"].is_null(),
        "no relation after motivo 02: {fresh}"
    );
    app.stop().await;
}

/// Runs what the invoicing queue holds, as invoice-stamp would, until it is empty.
async fn drain_invoicing(app: &TestApp) {
    for _ in 0..10 {
        let received = app
            .deps
            .queues
            .invoicing
            .receive(
                10,
                std::time::Duration::from_secs(30),
                std::time::Duration::from_millis(200),
            )
            .await
            .expect("receive");
        if received.is_empty() {
            return;
        }
        for m in &received {
            let record = mostrador_app::platform::records::QueueRecord {
                message_id: m.message_id.clone(),
                body: m.body.clone(),
                group_id: None,
                receive_count: 1,
                receipt: None,
            };
            mostrador_app::entry::pipeline::handle_invoice_request(&app.deps, &record)
                .await
                .expect("handled");
            app.deps
                .queues
                .invoicing
                .delete(&m.receipt)
                .await
                .expect("delete");
        }
    }
}

mod receptor {
    use super::*;
    on_both_engines!(an_invoice_keeps_the_receptor_it_was_asked_with);
}

/// A Tijuana branch's sale at 23:30 local (already the next day in Mexico City) belongs to its own
/// day, and its global comes due 20 minutes after its own midnight.
async fn a_border_branch_sells_and_closes_its_day_in_its_own_time_zone(engine: Engine) {
    // 2026-12-05 07:30 UTC = Dec 4 23:30 in Tijuana (UTC-8) = Dec 5 01:30 in Mexico City.
    let now = Utc
        .with_ymd_and_hms(2026, 12, 5, 7, 30, 0)
        .single()
        .expect("time");
    let clock = FixedClock::at(now);
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
    let (id, key) = app.merchant("Farmacia Frontera").await;
    let merchant = MerchantId::try_from(id).expect("id");
    let (status, branch) = json_of(app.as_merchant(&key, Method::POST, "/v1/branches").json(&json!({
        "name": "Tijuana", "postal_code": "22000", "timezone": "America/Tijuana", "phone_number_id": "400000000000001"
    })))
    .await;
    assert_eq!(status, 201, "{branch}");
    let branch = branch["id"].as_str().expect("id").to_owned();
    for sku in ["7501008491072", "7501035911208"] {
        let product = json!({ "sku": sku, "name": "Producto", "price": 4550, "tax": "iva0", "clave_prod_serv": "51142001", "clave_unidad": "H87" });
        let (status, _) = json_of(
            app.as_merchant(&key, Method::PUT, &format!("/v1/products/{sku}"))
                .json(&product),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = json_of(
        app.as_merchant(&key, Method::PUT, &format!("/v1/branches/{branch}/stock"))
            .json(&json!([{ "sku": "7501008491072", "quantity": 10 }, { "sku": "7501035911208", "quantity": 10 }])),
    )
    .await;
    assert_eq!(status, 200);
    let mut o = order("OTIJ1", &branch, clock.now());
    o.phone_number_id = "400000000000001".into();
    let placed = mostrador_app::flows::chat::place_order(&app.deps, &merchant, o)
        .await
        .map_err(|_| "place")
        .expect("placed");
    pay(&app, &merchant, &placed, "evt_tij_1").await;
    let table = mostrador_app::platform::tenant::TenantTable::of(&app.deps, &merchant);
    use mostrador_store::Table;
    let item = table
        .get(&mostrador_app::platform::schema::order("OTIJ1"))
        .await
        .expect("get")
        .expect("order");
    assert_eq!(
        item.get_s("sale_day"),
        Some("2026-12-04"),
        "Tijuana's day, not Mexico City's"
    );
    // The global is due at 00:20 Tijuana time on Dec 5 (08:20 UTC), not at Mexico City's midnight.
    clock.advance(Duration::minutes(49)); // 08:19 UTC
    let early = jobs::run(&app.deps, Job::GlobalInvoices, clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(early.processed, 0, "not before Tijuana's day has ended");
    clock.advance(Duration::minutes(2)); // 08:21 UTC
    let due = jobs::run(&app.deps, Job::GlobalInvoices, clock.now_ms() + 60_000)
        .await
        .expect("job");
    assert_eq!(due.processed, 1, "due after Tijuana's midnight");
    app.stop().await;
}

mod border {
    use super::*;
    on_both_engines!(a_border_branch_sells_and_closes_its_day_in_its_own_time_zone);
}

/// An invoice that cannot be issued (here: the issuer changed its RFC and has no CSD for it) is
/// recorded as blocked with the reason, and the customer is told it is under review instead of
/// waiting for documents that will not come.
async fn a_blocked_invoice_is_told_to_the_customer(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Arc::new(mostrador_core::SystemClock),
        Options {
            pollers: true,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    let branch = demo.branches[0].id.clone();
    // A new RFC cannot keep the CSD of the old one: invoices block until one is uploaded.
    let (status, answer) = json_of(
        app.as_merchant(&key, Method::PUT, "/v1/settings/invoicing")
            .json(&json!({ "rfc": "XIA190128J61", "nombre": "XENON INDUSTRIAL ARTICLES", "regimen_fiscal": "601" })),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let placed = mostrador_app::flows::chat::place_order(
        &app.deps,
        &merchant,
        order("OBLOCKED1", &branch, Utc::now()),
    )
    .await
    .expect("placed");
    pay(&app, &merchant, &placed, "evt_blocked_1").await;
    let (status, answer) = json_of(
        app.as_merchant(&key, Method::POST, &format!("/v1/orders/{}/invoice", placed.id))
            .json(&json!({ "rfc": "CACX7605101P8", "nombre": "XOCHILT CASAS CHAVEZ", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" })),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let record = mostrador_e2e::eventually_value("the invoice to be blocked", || async {
        let (status, body) =
            json_of(app.as_merchant(&key, Method::GET, &format!("/v1/invoices/{}", placed.id)))
                .await;
        (status == 200 && body["status"] == "blocked").then_some(body)
    })
    .await;
    assert!(
        record["error"].as_str().is_some_and(|e| !e.is_empty()),
        "the reason is kept: {record}"
    );
    let told = mostrador_e2e::eventually_value("the customer to be told", || async {
        let (_, outbox) = json_of(app.as_merchant(&key, Method::GET, "/v1/outbox?limit=200")).await;
        outbox["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                let text = m["message"].to_string();
                text.contains("necesita una revisión") || text.contains("Factura en revisión")
            })
            .cloned()
    })
    .await;
    assert_eq!(told["message"]["to"], CUSTOMER, "{told}");
    app.stop().await;
}

mod blocked {
    use super::*;
    on_both_engines!(a_blocked_invoice_is_told_to_the_customer);
}

/// Partial refunds give back their part with its nota de crédito: by line or by amount from an
/// individually invoiced order (notas to the customer), from a ticket already in a stamped global
/// (a nota to the general public with the global's period), and from a sale whose global is not
/// issued yet (the global declares what was kept); over-refunds are refused; the rest of the order
/// goes back at the end and the order is refunded. Every nota checked by satcfdi.
async fn partial_refunds_give_back_their_part_with_its_nota(engine: Engine) {
    let start = chrono_tz::America::Mexico_City
        .from_local_datetime(
            &Utc::now()
                .with_timezone(&chrono_tz::America::Mexico_City)
                .date_naive()
                .and_hms_opt(13, 0, 0)
                .expect("time"),
        )
        .earliest()
        .expect("local time")
        .with_timezone(&Utc);
    let clock = FixedClock::at(start);
    let app = TestApp::spawn_with(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: true,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    let branch = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == CENTRO)
        .expect("centro")
        .id
        .clone();
    let hello = text_webhook(CENTRO, "5215512345678", "wamid.part.hello", "Hola");
    assert_eq!(app.post_webhook(&hello).await.status(), 200);
    let mut placed = Vec::new();
    for (n, id) in ["OPR1", "OPR2", "OPR3", "OPR4"].into_iter().enumerate() {
        // Three boxes of paracetamol (IVA 0 %) and a toothpaste (IVA 16 % included): $168.50.
        let o = mostrador_app::flows::chat::place_order(
            &app.deps,
            &merchant,
            order_of(id, &branch, start, 3),
        )
        .await
        .map_err(|_| "place")
        .expect("placed");
        pay(&app, &merchant, &o, &format!("evt_part_{n}")).await;
        placed.push(o);
    }
    let (app_ref, key_ref) = (&app, &key);
    let stamped = |id: String| async move {
        let what = format!("{id} stamped");
        eventually(&what, || async {
            let (_, inv) =
                json_of(app_ref.as_merchant(key_ref, Method::GET, &format!("/v1/invoices/{id}")))
                    .await;
            inv["status"] == "stamped"
        })
        .await;
        app_ref
            .as_merchant(key_ref, Method::GET, &format!("/v1/invoices/{id}/xml"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("xml")
    };
    let refund = |id: &'static str, body: Value| async move {
        json_of(
            app_ref
                .as_merchant(key_ref, Method::POST, &format!("/v1/orders/{id}/refund"))
                .json(&body),
        )
        .await
    };

    // OPR1 is invoiced to its customer.
    let (status, queued) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/OPR1/invoice")
            .json(&json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" })),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let invoice_xml = stamped("OPR1".into()).await;

    // A tourist asks for an invoice: the foreign generic RFC, with the only régimen, uso and
    // domicilio fiscal it can have filled in (nobody abroad knows the branch's postal code).
    let (status, queued) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/OPR4/invoice")
            .json(&json!({ "rfc": "xexx010101000", "nombre": "John Smith", "codigo_postal": "", "regimen_fiscal": "", "uso_cfdi": "" })),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let foreign = stamped("OPR4".into()).await;
    let branch_cp = demo_branch_cp(&app, &key, &branch).await;
    for attr in [
        "Rfc=\"XEXX010101000\"".to_owned(),
        "Nombre=\"JOHN SMITH\"".to_owned(),
        format!("DomicilioFiscalReceptor=\"{branch_cp}\""),
        "RegimenFiscalReceptor=\"616\"".to_owned(),
        "UsoCFDI=\"S01\"".to_owned(),
    ] {
        assert!(foreign.contains(&attr), "{attr} in {foreign}");
    }

    // Bad requests first: nothing is given back.
    for (body, code) in [
        (json!({ "amount": 1_000_000 }), 409),
        (
            json!({ "lines": [{ "sku": "7501008491072", "qty": 4 }] }),
            409,
        ),
        (
            json!({ "lines": [{ "sku": "0000000000000", "qty": 1 }] }),
            422,
        ),
        (
            json!({ "lines": [{ "sku": "7501008491072", "qty": 0 }] }),
            422,
        ),
        (json!({ "amount": 0 }), 422),
        (
            json!({ "amount": 100, "lines": [{ "sku": "7501008491072", "qty": 1 }] }),
            422,
        ),
    ] {
        let (status, answer) = refund("OPR1", body.clone()).await;
        assert_eq!(status, code, "{body} → {answer}");
    }
    let (_, o) = json_of(app.as_merchant(&key, Method::GET, "/v1/orders/OPR1")).await;
    assert!(o.get("refunds").is_none(), "{o}");

    // The toothpaste comes back: a nota to the customer for $32.00, IVA 16 % on 27.59.
    let (status, o) = refund(
        "OPR1",
        json!({ "lines": [{ "sku": "7501035911208", "qty": 1 }], "reason": "dañada" }),
    )
    .await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["status"], "paid");
    assert_eq!(o["refunds"][0]["amount"], 3_200);
    let first = stamped("E-OPR1-R1".into()).await;
    assert!(
        first.contains("TipoDeComprobante=\"E\"") && first.contains("Total=\"32.00\""),
        "{first}"
    );
    assert!(
        first.contains("Rfc=\"CACX7605101P8\"") && first.contains("TipoRelacion=\"03\""),
        "{first}"
    );
    assert!(
        first.contains("Base=\"27.59\"") && first.contains("Importe=\"4.41\""),
        "{first}"
    );
    let invoice_uuid = invoice_xml
        .split("UUID=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("uuid")
        .to_uppercase();
    assert!(
        first.to_uppercase().contains(&invoice_uuid),
        "related to the invoice"
    );
    // $45.50 by amount: only paracetamol (IVA 0 %) is left to give back from.
    let (status, o) = refund("OPR1", json!({ "amount": 4_550 })).await;
    assert_eq!(status, 200, "{o}");
    let second = stamped("E-OPR1-R2".into()).await;
    assert!(second.contains("Total=\"45.50\""), "{second}");
    let (status, over) = refund("OPR1", json!({ "amount": 9_101 })).await;
    assert_eq!(status, 409, "only $91.00 left: {over}");
    assert!(
        over["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("$91.00")),
        "{over}"
    );

    // OPR2: part of it before its global is issued; no individual invoice after that.
    let (status, o) = refund("OPR2", json!({ "amount": 1_000 })).await;
    assert_eq!(status, 200, "{o}");
    let (status, refused) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/OPR2/invoice")
            .json(&json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" })),
    )
    .await;
    assert_eq!(status, 409, "{refused}");

    // The day's global: OPR2 less its $10.00 and OPR3 whole.
    clock.advance(Duration::hours(11) + Duration::minutes(30));
    let run = jobs::run(&app.deps, Job::GlobalInvoices, clock.now_ms() + 60_000)
        .await
        .expect("run");
    assert_eq!(run.processed, 1);
    let global: Value = mostrador_e2e::eventually_value("the global stamped", || async {
        let (_, list) = json_of(app_ref.as_merchant(key_ref, Method::GET, "/v1/invoices")).await;
        list["invoices"].as_array().and_then(|l| {
            l.iter()
                .find(|i| i["kind"] == "global" && i["status"] == "stamped")
                .cloned()
        })
    })
    .await;
    assert_eq!(global["total"], "327.00", "158.50 + 168.50: {global}");
    let global_id = global["id"].as_str().expect("id").to_owned();
    let global_xml = stamped(global_id.clone()).await;
    let global_uuid = global_xml
        .split("UUID=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("uuid")
        .to_uppercase();

    // OPR3, already declared: its toothpaste back is a nota to the general public with the period.
    let (status, o) = refund(
        "OPR3",
        json!({ "lines": [{ "sku": "7501035911208", "qty": 1 }] }),
    )
    .await;
    assert_eq!(status, 200, "{o}");
    let third = stamped("E-OPR3-R1".into()).await;
    assert!(
        third.contains("Rfc=\"XAXX010101000\"") && third.contains("<cfdi:InformacionGlobal"),
        "{third}"
    );
    assert!(
        third.contains("Total=\"32.00\"") && third.to_uppercase().contains(&global_uuid),
        "{third}"
    );

    // The rest of OPR1 (no body): $91.00, and the order is refunded.
    let (status, o) = json_of(app.as_merchant(&key, Method::POST, "/v1/orders/OPR1/refund")).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["status"], "refunded", "{o}");
    let last = stamped("E-OPR1-R3".into()).await;
    assert!(last.contains("Total=\"91.00\""), "{last}");
    let (status, _) = refund("OPR1", json!({ "amount": 1 })).await;
    assert_eq!(status, 409, "nothing left");

    assert_verified(&[
        CfdiFile::xml("foreign.xml", foreign),
        CfdiFile::xml("global.xml", global_xml),
        CfdiFile::xml("E-OPR1-R1.xml", first),
        CfdiFile::xml("E-OPR1-R2.xml", second),
        CfdiFile::xml("E-OPR1-R3.xml", last),
        CfdiFile::xml("E-OPR3-R1.xml", third),
    ]);
    app.stop().await;
}

/// The postal code of a branch, as the API gives it.
async fn demo_branch_cp(app: &TestApp, key: &str, branch: &str) -> String {
    let (_, branches) = json_of(app.as_merchant(key, Method::GET, "/v1/branches")).await;
    branches
        .as_array()
        .or_else(|| branches["branches"].as_array())
        .and_then(|l| l.iter().find(|b| b["id"] == branch))
        .and_then(|b| b["postal_code"].as_str())
        .expect("the branch's postal code")
        .to_owned()
}

mod partial {
    use super::*;
    on_both_engines!(partial_refunds_give_back_their_part_with_its_nota);
}

/// A discounted order (a 2×1 on paracetamol, 10 % off the toothpaste) is invoiced with each
/// Concepto's Descuento and IVA on the discounted base, so the invoice's Total is what the customer
/// paid; a box given back by line gets a nota that repeats the line at what was paid for it, with
/// its own Descuento. Both checked by satcfdi.
async fn a_discounted_order_is_invoiced_with_its_descuento_and_refunded_at_what_was_paid(
    engine: Engine,
) {
    let clock = FixedClock::at(Utc::now());
    let app = TestApp::spawn_with(
        engine,
        Arc::new(clock.clone()),
        Options {
            pollers: true,
            scheduler: false,
            ..Default::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = mostrador_local::demo::seed(&app.deps, dir.path())
        .await
        .expect("demo");
    let key = demo.api_key.clone();
    let merchant = MerchantId::try_from(demo.merchant_id.clone()).expect("id");
    let branch = demo
        .branches
        .iter()
        .find(|b| b.phone_number_id == CENTRO)
        .expect("centro")
        .id
        .clone();
    let hello = text_webhook(CENTRO, "5215512345678", "wamid.disc.hello", "Hola");
    assert_eq!(app.post_webhook(&hello).await.status(), 200);
    let mut o = order_of("OPD1", &branch, clock.now(), 3);
    let discounts = [Centavos(4_550), Centavos(320)];
    let taxes = [TaxTreatment::Iva0, TaxTreatment::Iva16];
    for ((line, discount), tax) in o.lines.iter_mut().zip(discounts).zip(taxes) {
        line.discount = discount;
        line.amounts =
            mostrador_core::tax::discounted_line_amounts(line.unit, line.qty, tax, true, discount)
                .expect("amounts");
    }
    o.subtotal = Centavos(o.lines.iter().map(|l| l.amounts.base.0).sum());
    o.iva = Centavos(o.lines.iter().map(|l| l.amounts.iva.0).sum());
    o.total = Centavos(o.lines.iter().map(|l| l.amounts.total.0).sum());
    assert_eq!(o.total, Centavos(11_980));
    let placed = mostrador_app::flows::chat::place_order(&app.deps, &merchant, o)
        .await
        .map_err(|_| "place")
        .expect("placed");
    pay(&app, &merchant, &placed, "evt_disc_1").await;
    let (app_ref, key_ref) = (&app, &key);
    let stamped = |id: String| async move {
        let what = format!("{id} stamped");
        eventually(&what, || async {
            let (_, inv) =
                json_of(app_ref.as_merchant(key_ref, Method::GET, &format!("/v1/invoices/{id}")))
                    .await;
            inv["status"] == "stamped"
        })
        .await;
        app_ref
            .as_merchant(key_ref, Method::GET, &format!("/v1/invoices/{id}/xml"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("xml")
    };
    let (status, queued) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/OPD1/invoice")
            .json(&json!({ "rfc": "CACX7605101P8", "nombre": "Xochilt Casas Chavez", "codigo_postal": "36257", "regimen_fiscal": "626", "uso_cfdi": "G03" })),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let invoice = stamped("OPD1".into()).await;
    // Paracetamol: importe 136.50 − 45.50; toothpaste: 27.59 − 2.76 at 16 %, IVA 3.97.
    for attr in [
        "SubTotal=\"164.09\"",
        "Descuento=\"48.26\"",
        "Total=\"119.80\"",
        "Descuento=\"45.50\"",
        "Descuento=\"2.76\"",
        "Base=\"24.83\"",
        "Importe=\"3.97\"",
    ] {
        assert!(invoice.contains(attr), "{attr} in {invoice}");
    }
    let (status, refunded) = json_of(
        app.as_merchant(&key, Method::POST, "/v1/orders/OPD1/refund")
            .json(&json!({ "lines": [{ "sku": "7501008491072", "qty": 1 }] })),
    )
    .await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(
        refunded["refunds"][0]["amount"], 3_033,
        "a third of what was paid for the paracetamol, not its shelf price"
    );
    let nota = stamped("E-OPD1-R1".into()).await;
    for attr in [
        "TipoDeComprobante=\"E\"",
        "Total=\"30.33\"",
        "Descuento=\"15.17\"",
    ] {
        assert!(nota.contains(attr), "{attr} in {nota}");
    }
    assert_verified(&[
        CfdiFile::xml("discounted.xml", invoice),
        CfdiFile::xml("discounted-nota.xml", nota),
    ]);
    app.stop().await;
}

mod discounts {
    use super::*;
    on_both_engines!(
        a_discounted_order_is_invoiced_with_its_descuento_and_refunded_at_what_was_paid
    );
}
