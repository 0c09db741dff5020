//! The sandbox payment provider's checkout page (local stack in demo mode only): shows the order and
//! lets the tester pay it or fail it; either way a correctly signed callback goes through the real
//! `POST /webhooks/payments/sandbox` path. It shows and pays only orders whose link the sandbox
//! issued, of merchants that take sandbox payments: never an order a real provider charges.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mostrador_app::commerce::orders;
use mostrador_app::flows::paying;
use mostrador_app::parties::payment_settings;
use mostrador_app::platform::schema;
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_app::Deps;
use mostrador_payments::sandbox::SandboxEvent;
use mostrador_payments::Method;
use mostrador_store::Table;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Clone)]
struct Checkout {
    deps: Deps,
    callback_base: String,
    http: reqwest::Client,
}

/// `GET|POST /sandbox/pay/{order_id}?m={merchant}`.
pub fn routes(deps: Deps, addr: SocketAddr) -> Router {
    let host = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    let state = Checkout {
        deps,
        callback_base: format!("http://{host}/webhooks/payments/sandbox"),
        http: reqwest::Client::new(),
    };
    Router::new()
        .route("/sandbox/pay/{order_id}", get(page).post(pay))
        .with_state(state)
}

#[derive(Deserialize)]
struct Params {
    m: Option<String>,
    outcome: Option<String>,
    method: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The order, if the sandbox issued its link and the merchant takes sandbox payments.
async fn sandbox_order(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
) -> Option<orders::Order> {
    if order_id.contains('#')
        || !payment_settings::sandbox_allowed(deps, merchant)
            .await
            .ok()?
    {
        return None;
    }
    let table = TenantTable::of(deps, merchant);
    let item = table.get(&schema::order(order_id)).await.ok()??;
    if item.get_s("payment_provider") != Some("sandbox") {
        return None;
    }
    orders::get(&table, order_id).await.ok()?
}

async fn page(
    State(c): State<Checkout>,
    Path(order_id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let Some(merchant) =
        p.m.as_deref()
            .and_then(|m| MerchantId::try_from(m.to_owned()).ok())
    else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Liga de pago inválida</h1>".to_owned()),
        )
            .into_response();
    };
    let Some(order) = sandbox_order(&c.deps, &merchant, &order_id).await else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Pedido no encontrado</h1>".to_owned()),
        )
            .into_response();
    };
    let lines: String = order
        .lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{} × {}</td><td>{}</td></tr>",
                l.qty,
                escape(&l.name),
                l.amounts.total.display_mxn()
            )
        })
        .collect();
    let note = match p.outcome.as_deref() {
        Some("paid") => "<p class=note>¡Pago recibido! Te avisamos por WhatsApp.</p>",
        Some("declined") => "<p class=note>Pago rechazado (simulado).</p>",
        Some("error") => {
            "<p class=note>El servidor no aceptó el aviso de pago; intenta de nuevo.</p>"
        }
        _ => "",
    };
    let actions = if order.status == orders::OrderStatus::AwaitingPayment {
        format!(
            r#"<form method=post action="/sandbox/pay/{id}?m={m}&method=card"><button>Pagar con tarjeta (simulado)</button></form>
<form method=post action="/sandbox/pay/{id}?m={m}&method=cash"><button class=alt>Pagué en OXXO (simulado)</button></form>
<form method=post action="/sandbox/pay/{id}?m={m}&method=card&outcome=failed"><button class=bad>Simular pago rechazado</button></form>"#,
            id = escape(&order.id),
            m = merchant
        )
    } else {
        String::new()
    };
    Html(format!(
        r#"<!doctype html><html lang=es><meta charset=utf-8><meta name=viewport content="width=device-width"><title>Pago sandbox</title>
<style>body{{font-family:system-ui,sans-serif;max-width:420px;margin:40px auto;padding:0 16px;color:#111b21}}h1{{font-size:20px}}table{{width:100%;border-collapse:collapse}}td{{padding:6px 0;border-bottom:1px solid #eee}}td:last-child{{text-align:right}}.total{{font-weight:700;font-size:18px}}button{{width:100%;padding:12px;margin-top:10px;border:0;border-radius:8px;background:#008069;color:#fff;font-size:16px}}.alt{{background:#25d366}}.bad{{background:#b3261e}}.note{{background:#e7f8ef;padding:10px;border-radius:8px}}.badge{{display:inline-block;background:#fff3cd;padding:2px 8px;border-radius:6px;font-size:12px}}</style>
<span class=badge>SANDBOX — ningún cargo es real</span><h1>Pedido {short}</h1>{note}<table>{lines}<tr><td class=total>Total</td><td class=total id=total>{total}</td></tr></table>
<p>Estado: <b id=status>{status}</b></p>{actions}</html>"#,
        short = escape(&mostrador_app::commerce::fulfilment::short_id(&order.id)),
        total = order.total.display_mxn(),
        status = order.status.as_str(),
    ))
    .into_response()
}

async fn pay(
    State(c): State<Checkout>,
    Path(order_id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let Some(merchant) =
        p.m.as_deref()
            .and_then(|m| MerchantId::try_from(m.to_owned()).ok())
    else {
        return (StatusCode::NOT_FOUND, "liga de pago inválida").into_response();
    };
    let Some(order) = sandbox_order(&c.deps, &merchant, &order_id).await else {
        return (StatusCode::NOT_FOUND, "pedido no encontrado").into_response();
    };
    let failed = p.outcome.as_deref() == Some("failed");
    let event = SandboxEvent {
        id: format!(
            "evt_sbx_{}",
            mostrador_app::parties::merchants::new_id(&c.deps)
        ),
        kind: if failed {
            "payment.failed"
        } else {
            "payment.paid"
        }
        .into(),
        order_id: order.id.clone(),
        amount: order.total.0,
        currency: "MXN".into(),
        method: if p.method.as_deref() == Some("cash") {
            Method::Cash
        } else {
            Method::Card
        },
    };
    let body = serde_json::to_vec(&event).unwrap_or_default();
    let signature = paying::sandbox(&c.deps, &merchant).sign(&body, c.deps.clock.now_secs());
    let answer = c
        .http
        .post(format!("{}?m={merchant}", c.callback_base))
        .header("content-type", "application/json")
        .header("x-sandbox-signature", signature)
        .body(body)
        .send()
        .await;
    let outcome = match answer {
        Ok(r) if r.status().is_success() => {
            if failed {
                "declined"
            } else {
                "paid"
            }
        }
        Ok(_) | Err(_) => "error",
    };
    axum::response::Redirect::to(&format!(
        "/sandbox/pay/{}?m={merchant}&outcome={outcome}",
        order.id
    ))
    .into_response()
}
