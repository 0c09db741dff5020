//! The Openpay adapter against a fake Openpay México: store, SPEI, CoDi and card-form charges in
//! decimal pesos, webhooks authenticated with Basic credentials and confirmed by re-reading the
//! charge, the verification handshake, refunds. Bodies are written as raw text so that amounts such
//! as `200.50` reach the adapter exactly as Openpay writes them.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use mostrador_core::money::Centavos;
use mostrador_payments::openpay::{Openpay, OpenpayConfigError, OpenpayCustomer};
use mostrador_payments::{
    Callback, Method, PaymentError, PaymentProvider, PaymentRequest, PaymentState, Verified,
};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MERCHANT: &str = "mzdtln0bmtms6o3kck8f";
const PRIVATE_KEY: &str = "sk_e568c42a6c384b7ab02cd47d2e407cab";
const WEBHOOK_USER: &str = "mostrador";
const WEBHOOK_PASSWORD: &str = "s3cr3t-webhook";
const CHARGES: &str = "/v1/mzdtln0bmtms6o3kck8f/charges";

fn openpay(server: &MockServer) -> Openpay {
    Openpay::new(
        reqwest::Client::new(),
        MERCHANT,
        PRIVATE_KEY,
        WEBHOOK_USER,
        WEBHOOK_PASSWORD,
    )
    .expect("config")
    .with_base_url(server.uri())
}

fn private_key_auth() -> String {
    format!("Basic {}", BASE64.encode(format!("{PRIVATE_KEY}:")))
}

fn request(methods: Vec<Method>, amount: i64) -> PaymentRequest {
    PaymentRequest {
        order_id: "ORD-1A2B3C".into(),
        amount: Centavos(amount),
        currency: "MXN".into(),
        description: "Pedido 1A2B3C — Farmacia San Juan".into(),
        methods,
        // 2026-01-01T00:00:00Z: 2025-12-31 18:00 in Mexico City.
        expires_at: 1_767_225_600,
        notification_url: "https://mostrador.example/webhooks/payments/openpay".into(),
        idempotency_key: "link-ORD-1A2B3C-1".into(),
    }
}

async fn sent_body(server: &MockServer) -> (String, Value) {
    let requests = server.received_requests().await.unwrap_or_default();
    let last = requests.last().expect("a request was sent");
    let text = String::from_utf8(last.body.clone()).expect("utf-8");
    let json = serde_json::from_str(&text).expect("json");
    (text, json)
}

/// An Openpay transaction as its API writes it (amount as raw JSON text).
fn charge(status: &str, method: &str, amount: &str, payment_method: &str) -> String {
    format!(
        r#"{{
  "id": "trzjaozcik8msyqshka4",
  "amount": {amount},
  "authorization": null,
  "method": "{method}",
  "operation_type": "in",
  "transaction_type": "charge",
  "status": "{status}",
  "conciliated": false,
  "creation_date": "2025-12-31T10:43:53-06:00",
  "operation_date": "2025-12-31T10:43:53-06:00",
  "description": "Pedido 1A2B3C — Farmacia San Juan",
  "error_message": null,
  "order_id": "ORD-1A2B3C",
  "due_date": "2025-12-31T18:00:00-06:00",
  "payment_method": {payment_method},
  "currency": "MXN"
}}"#
    )
}

const STORE_METHOD: &str = r#"{"type": "store", "reference": "OPENPAY02DQ35YOY7", "barcode_url": "https://sandbox-api.openpay.mx/barcode/OPENPAY02DQ35YOY7?width=1&height=45&text=false"}"#;

fn json_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

#[tokio::test]
async fn store_request_sends_exact_pesos_and_a_mexico_city_due_date() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .and(header("authorization", private_key_auth().as_str()))
        .respond_with(json_response(charge(
            "in_progress",
            "store",
            "200.50",
            STORE_METHOD,
        )))
        .expect(1)
        .mount(&server)
        .await;

    let link = openpay(&server)
        .create(&request(vec![Method::Cash, Method::Card], 20_050))
        .await
        .expect("link");

    assert_eq!(link.provider_ref, "trzjaozcik8msyqshka4");
    assert_eq!(link.cash_reference.as_deref(), Some("OPENPAY02DQ35YOY7"));
    assert_eq!(
        link.barcode_url.as_deref(),
        Some(
            "https://sandbox-api.openpay.mx/barcode/OPENPAY02DQ35YOY7?width=1&height=45&text=false"
        )
    );
    assert_eq!(link.expires_at, 1_767_225_600);
    let (text, body) = sent_body(&server).await;
    assert!(text.contains(r#""amount":200.50"#), "{text}");
    assert_eq!(
        body,
        json!({
            "method": "store",
            "amount": 200.5,
            "currency": "MXN",
            "description": "Pedido 1A2B3C — Farmacia San Juan",
            "order_id": "ORD-1A2B3C",
            "due_date": "2025-12-31T18:00:00"
        })
    );
}

#[tokio::test]
async fn ten_centavos_are_sent_as_zero_point_ten() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .respond_with(json_response(charge(
            "in_progress",
            "store",
            "0.10",
            STORE_METHOD,
        )))
        .mount(&server)
        .await;

    openpay(&server)
        .create(&request(vec![Method::Cash], 10))
        .await
        .expect("link");

    assert!(sent_body(&server).await.0.contains(r#""amount":0.10"#));
}

#[tokio::test]
async fn store_amounts_above_9999_99_are_refused_before_calling_openpay() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let adapter = openpay(&server);

    let over = adapter
        .create(&request(vec![Method::Cash], 1_000_000))
        .await;

    assert!(
        matches!(&over, Err(PaymentError::Refused(m)) if m.contains("$9,999.99") && m.contains("$10,000.00")),
        "{over:?}"
    );
}

#[tokio::test]
async fn spei_request_returns_the_charges_clabe_checked() {
    let server = MockServer::start().await;
    let bank = r#"{"type": "bank_transfer", "bank": "BBVA Bancomer", "agreement": "1411217", "clabe": "012180001183597198", "name": "11094690394055678934"}"#;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .and(body_partial_json(
            json!({"method": "bank_account", "due_date": "2025-12-31T18:00:00"}),
        ))
        .respond_with(json_response(charge(
            "in_progress",
            "bank_account",
            "200.50",
            bank,
        )))
        .expect(1)
        .mount(&server)
        .await;

    let link = openpay(&server)
        .create(&request(vec![Method::Spei], 20_050))
        .await
        .expect("link");

    assert_eq!(
        link.clabe.map(|c| c.to_string()).as_deref(),
        Some("012180001183597198")
    );
}

#[tokio::test]
async fn a_clabe_with_a_wrong_check_digit_from_openpay_is_an_error() {
    let server = MockServer::start().await;
    let bank = r#"{"type": "bank_transfer", "bank": "BBVA Bancomer", "agreement": "1411217", "clabe": "012180001183597199", "name": "11094690394055678934"}"#;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .respond_with(json_response(charge(
            "in_progress",
            "bank_account",
            "200.50",
            bank,
        )))
        .mount(&server)
        .await;

    let result = openpay(&server)
        .create(&request(vec![Method::Spei], 20_050))
        .await;

    assert!(matches!(result, Err(PaymentError::Refused(m)) if m.contains("CLABE")));
}

#[tokio::test]
async fn codi_request_returns_the_qr() {
    let server = MockServer::start().await;
    let codi = r#"{"type": "codi", "barcode_base64": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}"#;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .and(body_partial_json(
            json!({"method": "codi", "codi_options": {"mode": "QR_CODE"}}),
        ))
        .respond_with(json_response(charge("in_progress", "codi", "200.50", codi)))
        .expect(1)
        .mount(&server)
        .await;

    let link = openpay(&server)
        .create(&request(vec![Method::CoDi], 20_050))
        .await
        .expect("link");

    assert!(link
        .barcode_url
        .as_deref()
        .is_some_and(|u| u.starts_with("data:image/png;base64,iVBOR")));
}

#[tokio::test]
async fn card_request_uses_openpays_payment_form() {
    let server = MockServer::start().await;
    let redirect = r#"{"type": "redirect", "url": "https://sandbox-api.openpay.mx/v1/mzdtln0bmtms6o3kck8f/charges/trzjaozcik8msyqshka4/card_capture"}"#;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .respond_with(json_response(charge(
            "charge_pending",
            "card",
            "200.50",
            redirect,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = openpay(&server)
        .with_customer(OpenpayCustomer {
            name: "Farmacia San Juan".into(),
            last_name: None,
            email: Some("pagos@farmaciasanjuan.mx".into()),
            phone_number: None,
        })
        .with_redirect_url("https://wa.me/525512345678");

    let link = adapter
        .create(&request(vec![Method::Card], 20_050))
        .await
        .expect("link");

    assert_eq!(
        link.url.as_deref(),
        Some("https://sandbox-api.openpay.mx/v1/mzdtln0bmtms6o3kck8f/charges/trzjaozcik8msyqshka4/card_capture")
    );
    let (_, body) = sent_body(&server).await;
    assert_eq!(
        body,
        json!({
            "method": "card",
            "amount": 200.5,
            "currency": "MXN",
            "description": "Pedido 1A2B3C — Farmacia San Juan",
            "order_id": "ORD-1A2B3C",
            "customer": {"name": "Farmacia San Juan", "email": "pagos@farmaciasanjuan.mx"},
            "confirm": false,
            "send_email": false,
            "redirect_url": "https://wa.me/525512345678"
        })
    );
}

#[tokio::test]
async fn card_links_without_a_redirect_url_or_buyer_are_refused_before_calling_openpay() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;

    let no_redirect = openpay(&server)
        .create(&request(vec![Method::Card], 20_050))
        .await;
    let no_buyer = openpay(&server)
        .with_redirect_url("https://wa.me/525512345678")
        .create(&request(vec![Method::Card], 20_050))
        .await;

    assert!(matches!(no_redirect, Err(PaymentError::Refused(m)) if m.contains("redirect")));
    assert!(matches!(no_buyer, Err(PaymentError::Refused(m)) if m.contains("buyer")));
}

#[tokio::test]
async fn openpay_refusal_carries_its_description_and_server_errors_are_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "category": "request",
            "description": "The orderId 'ORD-1A2B3C' has already been processed",
            "http_code": 409,
            "error_code": 1006,
            "request_id": "4fc452d8-5ddc-4464-ae70-e03569622850"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CHARGES))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let adapter = openpay(&server);

    let refused = adapter.create(&request(vec![Method::Cash], 20_050)).await;
    let unavailable = adapter.create(&request(vec![Method::Cash], 20_050)).await;

    assert!(
        matches!(&refused, Err(PaymentError::Refused(m)) if m.contains("already been processed (error 1006)")),
        "{refused:?}"
    );
    assert!(matches!(unavailable, Err(PaymentError::Unavailable(_))));
}

fn basic(user: &str, password: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        (
            "authorization".into(),
            format!("Basic {}", BASE64.encode(format!("{user}:{password}"))),
        ),
    ]
}

fn callback(body: &[u8], headers: Vec<(String, String)>) -> Callback<'_> {
    Callback {
        body,
        headers,
        query: "",
        now: 1_767_200_000,
    }
}

/// `body` as Openpay delivers it, with the webhook's credentials.
async fn deliver(adapter: &Openpay, body: &[u8]) -> Result<Verified, PaymentError> {
    adapter
        .verify(&callback(body, basic(WEBHOOK_USER, WEBHOOK_PASSWORD)))
        .await
}

/// A notification as Openpay posts it; its transaction says whatever the sender wants.
fn notification(kind: &str, status: &str, amount: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"{kind}","event_date":"2025-12-31T12:54:01-06:00","transaction":{{"id":"trzjaozcik8msyqshka4","authorization":"305180","operation_type":"in","method":"store","transaction_type":"charge","status":"{status}","conciliated":false,"creation_date":"2025-12-31T10:43:53-06:00","operation_date":"2025-12-31T12:54:00-06:00","description":"Pedido 1A2B3C — Farmacia San Juan","error_message":null,"order_id":"ORD-1A2B3C","currency":"MXN","amount":{amount},"fee":{{"amount":2.85,"tax":0.456,"currency":"MXN"}},"payment_method":{{"type":"store","reference":"OPENPAY02DQ35YOY7","barcode_url":"https://sandbox-api.openpay.mx/barcode/OPENPAY02DQ35YOY7"}}}}}}"#
    )
    .into_bytes()
}

async fn charge_reads(server: &MockServer, status: &str, amount: &str) {
    Mock::given(method("GET"))
        .and(path(format!("{CHARGES}/trzjaozcik8msyqshka4")))
        .and(header("authorization", private_key_auth().as_str()))
        .respond_with(json_response(charge(status, "store", amount, STORE_METHOD)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_verification_handshake_hands_back_its_code() {
    let server = MockServer::start().await;
    let body = br#"{"type":"verification","event_date":"2016-11-25T14:45:09-06:00","verification_code":"3vWQ1x6I","id":"w7evenqvf4a3crkdmkj6"}"#;

    let verified = deliver(&openpay(&server), body).await;

    assert_eq!(
        verified.ok(),
        Some(Verified::Handshake {
            answer: "3vWQ1x6I".into()
        })
    );
}

#[tokio::test]
async fn a_charge_succeeded_is_paid_with_the_amount_openpay_re_reads() {
    let server = MockServer::start().await;
    charge_reads(&server, "completed", "200.50").await;
    // The notification itself claims ten centavos: only the re-read counts.
    let body = notification("charge.succeeded", "completed", "0.10");

    let verified = deliver(&openpay(&server), &body).await;

    let Ok(Verified::Event(event)) = verified else {
        panic!("{verified:?}")
    };
    assert_eq!(event.event_id, "trzjaozcik8msyqshka4:charge.succeeded");
    assert_eq!(event.state, PaymentState::Paid);
    assert_eq!(event.amount, Some(Centavos(20_050)));
    assert_eq!(event.currency.as_deref(), Some("MXN"));
    assert_eq!(event.order_id.as_deref(), Some("ORD-1A2B3C"));
    assert_eq!(event.method, Some(Method::Cash));
    assert_eq!(event.payment_ref.as_deref(), Some("trzjaozcik8msyqshka4"));
}

#[tokio::test]
async fn ten_centavos_re_read_are_ten_centavos() {
    let server = MockServer::start().await;
    charge_reads(&server, "completed", "0.10").await;
    let body = notification("charge.succeeded", "completed", "0.10");

    let verified = deliver(&openpay(&server), &body).await;

    assert!(matches!(verified, Ok(Verified::Event(e)) if e.amount == Some(Centavos(10))));
}

#[tokio::test]
async fn a_succeeded_event_whose_charge_is_still_in_progress_is_not_paid() {
    let server = MockServer::start().await;
    charge_reads(&server, "in_progress", "200.50").await;
    let body = notification("charge.succeeded", "completed", "200.50");

    let verified = deliver(&openpay(&server), &body).await;

    let Ok(Verified::Event(event)) = verified else {
        panic!("{verified:?}")
    };
    assert_eq!(event.state, PaymentState::Pending);
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_unauthenticated_and_nothing_is_re_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let adapter = openpay(&server);
    let body = notification("charge.succeeded", "completed", "200.50");

    let wrong_password = adapter
        .verify(&callback(&body, basic(WEBHOOK_USER, "guess")))
        .await;
    let wrong_user = adapter
        .verify(&callback(&body, basic("admin", WEBHOOK_PASSWORD)))
        .await;
    let missing = adapter.verify(&callback(&body, vec![])).await;
    let bearer = adapter
        .verify(&callback(
            &body,
            vec![("authorization".into(), format!("Bearer {WEBHOOK_PASSWORD}"))],
        ))
        .await;

    for result in [wrong_password, wrong_user, missing, bearer] {
        assert!(
            matches!(result, Err(PaymentError::Unauthenticated(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_repeated_delivery_carries_the_same_event_id() {
    let server = MockServer::start().await;
    charge_reads(&server, "completed", "200.50").await;
    let adapter = openpay(&server);
    let body = notification("charge.succeeded", "completed", "200.50");

    let first = deliver(&adapter, &body).await;
    let again = deliver(&adapter, &body).await;

    let (Ok(Verified::Event(first)), Ok(Verified::Event(again))) = (first, again) else {
        panic!()
    };
    assert_eq!(first.event_id, again.event_id);
}

#[tokio::test]
async fn re_read_statuses_map_to_payment_states() {
    let cases = [
        ("charge.failed", "failed", PaymentState::Failed),
        ("charge.cancelled", "cancelled", PaymentState::Failed),
        ("charge.refunded", "refunded", PaymentState::Refunded),
        ("transaction.expired", "cancelled", PaymentState::Expired),
        ("transaction.expired", "expired", PaymentState::Expired),
    ];
    for (kind, status, expected) in cases {
        let server = MockServer::start().await;
        charge_reads(&server, status, "200.50").await;
        let body = notification(kind, "completed", "200.50");

        let verified = deliver(&openpay(&server), &body).await;

        match verified {
            Ok(Verified::Event(e)) => {
                assert_eq!(e.state, expected, "{kind}/{status}");
                assert_eq!(e.event_id, format!("trzjaozcik8msyqshka4:{kind}"));
            }
            other => panic!("{kind}/{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn other_events_are_ignored_without_a_re_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let body = notification("charge.created", "in_progress", "200.50");

    let verified = deliver(&openpay(&server), &body).await;

    assert_eq!(
        verified.ok(),
        Some(Verified::Ignored {
            event_id: "trzjaozcik8msyqshka4:charge.created".into(),
            kind: "charge.created".into()
        })
    );
}

#[tokio::test]
async fn an_event_for_a_transaction_openpay_does_not_know_is_not_applied() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "category": "request", "description": "The requested resource doesn't exist",
            "http_code": 404, "error_code": 1005, "request_id": "1981cdb8-19cb-4bad-8256-e95d58bc035c"
        })))
        .mount(&server)
        .await;
    let adapter = openpay(&server);
    let body = notification("charge.succeeded", "completed", "200.50");
    let traversal = br#"{"type":"charge.succeeded","transaction":{"id":"../../customers"}}"#;

    let unknown = deliver(&adapter, &body).await;
    let injected = deliver(&adapter, traversal).await;

    assert!(
        matches!(unknown, Err(PaymentError::Unauthenticated(_))),
        "{unknown:?}"
    );
    assert!(
        matches!(injected, Err(PaymentError::Malformed(_))),
        "{injected:?}"
    );
}

#[tokio::test]
async fn refunds_send_decimal_pesos_and_a_description() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{CHARGES}/trzjaozcik8msyqshka4/refund")))
        .and(header("authorization", private_key_auth().as_str()))
        .respond_with(json_response(charge("refunded", "card", "200.50", "null")))
        .expect(2)
        .mount(&server)
        .await;
    let adapter = openpay(&server);

    let partial = adapter
        .refund("trzjaozcik8msyqshka4", Some(Centavos(10_010)))
        .await;
    let partial_body = sent_body(&server).await.0;
    let full = adapter.refund("trzjaozcik8msyqshka4", None).await;
    let full_body = sent_body(&server).await.1;

    assert!(partial.is_ok() && full.is_ok(), "{partial:?} {full:?}");
    assert_eq!(
        partial_body,
        r#"{"description":"Reembolso solicitado por el comercio","amount":100.10}"#
    );
    assert_eq!(
        full_body,
        json!({"description": "Reembolso solicitado por el comercio"})
    );
}

#[test]
fn configuration_is_checked_and_never_printed() {
    let http = reqwest::Client::new;
    assert!(matches!(
        Openpay::new(http(), "../x", PRIVATE_KEY, WEBHOOK_USER, WEBHOOK_PASSWORD),
        Err(OpenpayConfigError::MerchantId)
    ));
    assert!(matches!(
        Openpay::new(http(), MERCHANT, "", WEBHOOK_USER, WEBHOOK_PASSWORD),
        Err(OpenpayConfigError::PrivateKey)
    ));
    assert!(matches!(
        Openpay::new(http(), MERCHANT, PRIVATE_KEY, WEBHOOK_USER, ""),
        Err(OpenpayConfigError::WebhookCredentials)
    ));
    let adapter = Openpay::new(
        http(),
        MERCHANT,
        PRIVATE_KEY,
        WEBHOOK_USER,
        WEBHOOK_PASSWORD,
    )
    .expect("config");
    let printed = format!("{adapter:?}");
    assert!(!printed.contains(PRIVATE_KEY) && !printed.contains(WEBHOOK_PASSWORD));
}
