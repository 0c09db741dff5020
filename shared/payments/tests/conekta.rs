//! The Conekta adapter against a fake Conekta speaking API v2.1: orders with hosted checkout or direct
//! cash/SPEI charges, RSA-signed webhooks (`digest`), refunds.
//!
//! Conekta signs with a private key only it holds, so these tests make an RSA key pair of their own,
//! register its public half as the "webhook key" and sign bodies exactly as Conekta documents it:
//! RSA PKCS#1 v1.5 over SHA-256 of the raw body, base64 in the `digest` header.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use mostrador_core::money::Centavos;
use mostrador_payments::conekta::{Conekta, ConektaConfigError, ConektaCustomer, ACCEPT};
use mostrador_payments::{
    Callback, Method, PaymentError, PaymentProvider, PaymentRequest, PaymentState, Verified,
};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::LazyLock;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PRIVATE_KEY: &str = "key_test_eYvWV7gSDkNYXsmr";

/// Conekta's key and a forger's key (generated once: RSA generation is slow in debug builds).
static KEYS: LazyLock<(RsaPrivateKey, RsaPrivateKey)> = LazyLock::new(|| {
    let mut rng = rand::thread_rng();
    let conekta = RsaPrivateKey::new(&mut rng, 2048).expect("key");
    let forger = RsaPrivateKey::new(&mut rng, 2048).expect("key");
    (conekta, forger)
});

fn webhook_public_key_pem() -> String {
    KEYS.0
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("pem")
}

fn digest(key: &RsaPrivateKey, body: &[u8]) -> String {
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(body);
    BASE64.encode(signature.to_bytes())
}

fn buyer() -> ConektaCustomer {
    ConektaCustomer {
        name: "Farmacia San Juan".into(),
        email: "pagos@farmaciasanjuan.mx".into(),
        phone: "+525512345678".into(),
    }
}

fn conekta(server: &MockServer) -> Conekta {
    Conekta::new(
        reqwest::Client::new(),
        PRIVATE_KEY,
        &webhook_public_key_pem(),
    )
    .expect("config")
    .with_base_url(server.uri())
    .with_customer(buyer())
    .with_return_urls(Some("https://wa.me/525512345678".into()), None)
}

fn request(methods: Vec<Method>, amount: i64) -> PaymentRequest {
    PaymentRequest {
        order_id: "ORD-1A2B3C".into(),
        amount: Centavos(amount),
        currency: "MXN".into(),
        description: "Pedido 1A2B3C — Farmacia San Juan".into(),
        methods,
        expires_at: 1_767_225_600,
        notification_url: "https://mostrador.example/webhooks/payments/conekta".into(),
        idempotency_key: "link-ORD-1A2B3C-1".into(),
    }
}

async fn sent_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap_or_default();
    let last = requests.last().expect("a request was sent");
    serde_json::from_slice(&last.body).expect("json body")
}

/// An order as Conekta returns it for a hosted checkout (shape of Conekta's OpenAPI example).
fn checkout_order() -> Value {
    json!({
        "amount": 20050, "amount_refunded": 0, "charges": null,
        "checkout": {
            "allowed_payment_methods": ["card", "cash", "bank_transfer"],
            "can_not_expire": false, "emails_sent": 0, "expires_at": 1767225600,
            "failure_url": null, "id": "1263626c-53ae-4829-b092-2e7393f2d1b7",
            "livemode": false, "name": "Pedido 1A2B3C — Farmacia San Juan", "object": "checkout",
            "slug": "1263626c53ae4829b0922e7393f2d1b7", "status": "Issued",
            "success_url": "https://wa.me/525512345678", "type": "HostedPayment",
            "url": "https://pay.conekta.com/checkout/1263626c53ae4829b0922e7393f2d1b7"
        },
        "created_at": 1767139200, "currency": "MXN",
        "customer_info": {"email": "pagos@farmaciasanjuan.mx", "name": "Farmacia San Juan", "object": "customer_info", "phone": "+525512345678"},
        "id": "ord_2zbhesToa1DAgNbP6", "livemode": false,
        "metadata": {"order_id": "ORD-1A2B3C"}, "object": "order", "payment_status": null
    })
}

/// An order with one direct charge, `payment_method` as given.
fn charged_order(payment_method: Value) -> Value {
    json!({
        "livemode": false, "amount": 20050, "currency": "MXN", "payment_status": "pending_payment",
        "amount_refunded": 0, "object": "order", "id": "ord_2i5d4gdwpZR5Yat6U",
        "metadata": {"order_id": "ORD-1A2B3C"}, "created_at": 1767139200, "updated_at": 1767139200,
        "charges": {"object": "list", "has_more": false, "total": 1, "data": [{
            "id": "5a8634d9ffecf9376e833305", "livemode": false, "created_at": 1767139200,
            "currency": "MXN", "payment_method": payment_method, "object": "charge",
            "description": "Payment from order", "status": "pending_payment", "amount": 20050,
            "fee": 928, "customer_id": "", "order_id": "ord_2i5d4gdwpZR5Yat6U"
        }]}
    })
}

fn spei_method(clabe: &str) -> Value {
    json!({
        "clabe": clabe, "bank": "STP", "receiving_account_number": clabe,
        "receiving_account_bank": "STP", "object": "bank_transfer_payment", "type": "spei",
        "expires_at": 1767225600
    })
}

#[tokio::test]
async fn card_request_creates_a_hosted_checkout_with_conekta_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(header(
            "authorization",
            format!("Bearer {PRIVATE_KEY}").as_str(),
        ))
        .and(header("accept", ACCEPT))
        .and(header("idempotency-key", "link-ORD-1A2B3C-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(checkout_order()))
        .expect(1)
        .mount(&server)
        .await;

    let link = conekta(&server)
        .create(&request(
            vec![Method::Card, Method::Cash, Method::Spei, Method::CoDi],
            20_050,
        ))
        .await
        .expect("link");

    assert_eq!(link.provider_ref, "ord_2zbhesToa1DAgNbP6");
    assert_eq!(
        link.url.as_deref(),
        Some("https://pay.conekta.com/checkout/1263626c53ae4829b0922e7393f2d1b7")
    );
    assert_eq!(link.expires_at, 1_767_225_600);
    let body = sent_body(&server).await;
    assert_eq!(
        body,
        json!({
            "currency": "MXN",
            "customer_info": {"name": "Farmacia San Juan", "email": "pagos@farmaciasanjuan.mx", "phone": "+525512345678"},
            "line_items": [{"name": "Pedido 1A2B3C — Farmacia San Juan", "unit_price": 20050, "quantity": 1}],
            "metadata": {"order_id": "ORD-1A2B3C"},
            "checkout": {
                "type": "HostedPayment",
                "name": "Pedido 1A2B3C — Farmacia San Juan",
                "allowed_payment_methods": ["card", "cash", "bank_transfer"],
                "expires_at": 1767225600,
                "success_url": "https://wa.me/525512345678"
            }
        })
    );
}

#[tokio::test]
async fn cash_request_creates_an_oxxo_charge_and_returns_its_reference_and_barcode() {
    let server = MockServer::start().await;
    let cash = json!({
        "service_name": "OxxoPay",
        "barcode_url": "https://s3.amazonaws.com/cash_payment_barcodes/sandbox_reference.png",
        "object": "cash_payment", "type": "oxxo", "expires_at": 1767225600,
        "store_name": "OXXO", "reference": "93000262276908", "customer_ip_address": "0.0.0.0"
    });
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(body_partial_json(json!({
            "charges": [{"payment_method": {"type": "cash", "expires_at": 1767225600}}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(charged_order(cash)))
        .expect(1)
        .mount(&server)
        .await;

    let link = conekta(&server)
        .create(&request(vec![Method::Cash], 20_050))
        .await
        .expect("link");

    assert_eq!(link.provider_ref, "ord_2i5d4gdwpZR5Yat6U");
    assert_eq!(link.cash_reference.as_deref(), Some("93000262276908"));
    assert_eq!(
        link.barcode_url.as_deref(),
        Some("https://s3.amazonaws.com/cash_payment_barcodes/sandbox_reference.png")
    );
    assert_eq!(link.url, None);
    assert!(sent_body(&server).await.get("checkout").is_none());
}

#[tokio::test]
async fn spei_request_returns_the_orders_clabe_checked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(body_partial_json(json!({
            "charges": [{"payment_method": {"type": "spei", "expires_at": 1767225600}}]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(charged_order(spei_method("646180111805034237"))),
        )
        .mount(&server)
        .await;

    let link = conekta(&server)
        .create(&request(vec![Method::Spei], 20_050))
        .await
        .expect("link");

    assert_eq!(
        link.clabe.map(|c| c.to_string()).as_deref(),
        Some("646180111805034237")
    );
    assert_eq!(link.cash_reference, None);
}

#[tokio::test]
async fn a_clabe_with_a_wrong_check_digit_from_conekta_is_an_error() {
    let server = MockServer::start().await;
    // 646180111812345678 appears in a published Conekta sample; its check digit should be 6.
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(charged_order(spei_method("646180111812345678"))),
        )
        .mount(&server)
        .await;

    let result = conekta(&server)
        .create(&request(vec![Method::Spei], 20_050))
        .await;

    assert!(matches!(result, Err(PaymentError::Refused(m)) if m.contains("CLABE")));
}

#[tokio::test]
async fn conekta_refusal_carries_its_details_and_server_errors_are_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "details": [{
                "debug_message": "The parameter \"customer_info.phone\" is invalid.",
                "message": "El parámetro \"customer_info.phone\" es inválido.",
                "param": "customer_info.phone",
                "code": "conekta.errors.parameter_validation.phone.invalid"
            }],
            "object": "error", "type": "parameter_validation_error",
            "log_id": "507f1f77bcf86cd799439011"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let adapter = conekta(&server);

    let refused = adapter.create(&request(vec![Method::Card], 20_050)).await;
    let unavailable = adapter.create(&request(vec![Method::Card], 20_050)).await;

    assert!(
        matches!(&refused, Err(PaymentError::Refused(m)) if m.contains("El parámetro \"customer_info.phone\" es inválido.")),
        "{refused:?}"
    );
    assert!(matches!(unavailable, Err(PaymentError::Unavailable(_))));
}

#[tokio::test]
async fn unreachable_conekta_is_unavailable() {
    let server = MockServer::start().await;
    let adapter = conekta(&server).with_base_url("http://127.0.0.1:9");

    let result = adapter.create(&request(vec![Method::Card], 20_050)).await;

    assert!(matches!(result, Err(PaymentError::Unavailable(_))));
}

#[tokio::test]
async fn requests_conekta_cannot_serve_are_refused_without_calling_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let adapter = conekta(&server);
    let no_buyer = Conekta::new(
        reqwest::Client::new(),
        PRIVATE_KEY,
        &webhook_public_key_pem(),
    )
    .expect("config")
    .with_base_url(server.uri());

    let codi = adapter.create(&request(vec![Method::CoDi], 20_050)).await;
    let zero = adapter.create(&request(vec![Method::Card], 0)).await;
    let anonymous = no_buyer.create(&request(vec![Method::Card], 20_050)).await;

    assert!(matches!(codi, Err(PaymentError::Refused(_))));
    assert!(matches!(zero, Err(PaymentError::Refused(_))));
    assert!(matches!(anonymous, Err(PaymentError::Refused(m)) if m.contains("email")));
}

/// A Conekta event as delivered (pretty-printed, as the docs show it), for an OXXO-paid order.
fn order_event(kind: &str, event_id: &str, amount: i64) -> Vec<u8> {
    format!(
        r#"{{
  "data": {{
    "object": {{
      "livemode": false,
      "amount": {amount},
      "currency": "MXN",
      "payment_status": "paid",
      "amount_refunded": 0,
      "customer_info": {{
        "email": "pagos@farmaciasanjuan.mx",
        "phone": "+525512345678",
        "name": "Farmacia San Juan",
        "object": "customer_info"
      }},
      "object": "order",
      "id": "ord_2i5d4gdwpZR5Yat6U",
      "metadata": {{ "order_id": "ORD-1A2B3C" }},
      "created_at": 1767139200,
      "updated_at": 1767142800,
      "charges": {{
        "object": "list",
        "has_more": false,
        "total": 1,
        "data": [{{
          "id": "5a8634d9ffecf9376e833305",
          "livemode": false,
          "created_at": 1767139200,
          "currency": "MXN",
          "payment_method": {{
            "service_name": "OxxoPay",
            "object": "cash_payment",
            "type": "oxxo",
            "expires_at": 1767225600,
            "store_name": "OXXO",
            "reference": "93000262276908"
          }},
          "object": "charge",
          "description": "Payment from order",
          "status": "paid",
          "amount": {amount},
          "paid_at": 1767142790,
          "fee": 537,
          "customer_id": "",
          "order_id": "ord_2i5d4gdwpZR5Yat6U"
        }}]
      }}
    }},
    "previous_attributes": {{ "payment_status": "pending_payment" }}
  }},
  "livemode": false,
  "webhook_status": "pending",
  "webhook_logs": [{{
    "id": "webhl_2tNDzi1bWnvxqfRtw",
    "url": "https://mostrador.example/webhooks/payments/conekta",
    "failed_attempts": 0,
    "last_http_response_status": -1,
    "object": "webhook_log",
    "last_attempted_at": 0
  }}],
  "id": "{event_id}",
  "object": "event",
  "type": "{kind}",
  "created_at": 1767142800
}}"#
    )
    .into_bytes()
}

fn signed(body: &[u8], key: &RsaPrivateKey) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("digest".into(), digest(key, body)),
    ]
}

fn callback(body: &[u8], headers: Vec<(String, String)>) -> Callback<'_> {
    Callback {
        body,
        headers,
        query: "",
        now: 1_767_142_801,
    }
}

/// `body` as delivered with a `digest` made by `key`.
async fn deliver(
    adapter: &Conekta,
    body: &[u8],
    key: &RsaPrivateKey,
) -> Result<Verified, PaymentError> {
    adapter.verify(&callback(body, signed(body, key))).await
}

#[tokio::test]
async fn signed_order_paid_becomes_a_paid_event_with_conekta_amounts() {
    let server = MockServer::start().await;
    let body = order_event("order.paid", "6307a60c41de27127515a575", 20_050);

    let verified = deliver(&conekta(&server), &body, &KEYS.0).await;

    let Ok(Verified::Event(event)) = verified else {
        panic!("{verified:?}")
    };
    assert_eq!(event.event_id, "6307a60c41de27127515a575");
    assert_eq!(event.state, PaymentState::Paid);
    assert_eq!(event.order_id.as_deref(), Some("ORD-1A2B3C"));
    assert_eq!(event.amount, Some(Centavos(20_050)));
    assert_eq!(event.currency.as_deref(), Some("MXN"));
    assert_eq!(event.method, Some(Method::Cash));
    assert_eq!(event.payment_ref.as_deref(), Some("ord_2i5d4gdwpZR5Yat6U"));
}

#[tokio::test]
async fn ten_centavos_stay_ten_centavos() {
    let server = MockServer::start().await;
    let body = order_event("order.paid", "6307a60c41de27127515a576", 10);

    let verified = deliver(&conekta(&server), &body, &KEYS.0).await;

    assert!(matches!(verified, Ok(Verified::Event(e)) if e.amount == Some(Centavos(10))));
}

#[tokio::test]
async fn a_body_signed_by_another_key_is_unauthenticated() {
    let server = MockServer::start().await;
    let body = order_event("order.paid", "6307a60c41de27127515a575", 20_050);

    let verified = deliver(&conekta(&server), &body, &KEYS.1).await;

    assert!(
        matches!(verified, Err(PaymentError::Unauthenticated(_))),
        "{verified:?}"
    );
}

#[tokio::test]
async fn an_unsigned_or_garbled_callback_is_unauthenticated() {
    let server = MockServer::start().await;
    let adapter = conekta(&server);
    let body = order_event("order.paid", "6307a60c41de27127515a575", 20_050);

    let unsigned = adapter.verify(&callback(&body, vec![])).await;
    let not_base64 = adapter
        .verify(&callback(
            &body,
            vec![("digest".into(), "not a signature!".into())],
        ))
        .await;
    let short = adapter
        .verify(&callback(
            &body,
            vec![("digest".into(), BASE64.encode(b"short"))],
        ))
        .await;

    for result in [unsigned, not_base64, short] {
        assert!(
            matches!(result, Err(PaymentError::Unauthenticated(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_changed_amount_or_a_reserialized_body_breaks_the_signature() {
    let server = MockServer::start().await;
    let adapter = conekta(&server);
    let body = order_event("order.paid", "6307a60c41de27127515a575", 20_050);
    let headers = signed(&body, &KEYS.0);
    let cheaper = order_event("order.paid", "6307a60c41de27127515a575", 10);
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&body).expect("json")).expect("json");

    let tampered = adapter.verify(&callback(&cheaper, headers.clone())).await;
    let compacted = adapter.verify(&callback(&reserialized, headers)).await;

    assert!(matches!(tampered, Err(PaymentError::Unauthenticated(_))));
    assert!(matches!(compacted, Err(PaymentError::Unauthenticated(_))));
}

#[tokio::test]
async fn a_repeated_delivery_carries_the_same_event_id() {
    let server = MockServer::start().await;
    let adapter = conekta(&server);
    let body = order_event("order.paid", "6307a60c41de27127515a575", 20_050);

    let first = deliver(&adapter, &body, &KEYS.0).await;
    let again = deliver(&adapter, &body, &KEYS.0).await;

    let (Ok(Verified::Event(first)), Ok(Verified::Event(again))) = (first, again) else {
        panic!()
    };
    assert_eq!(first.event_id, again.event_id);
    assert_eq!(first, again);
}

#[tokio::test]
async fn order_events_map_to_payment_states_and_the_rest_is_ignored() {
    let server = MockServer::start().await;
    let adapter = conekta(&server);
    let cases = [
        ("order.pending_payment", Some(PaymentState::Pending)),
        ("order.expired", Some(PaymentState::Expired)),
        ("order.canceled", Some(PaymentState::Failed)),
        ("order.refunded", Some(PaymentState::Refunded)),
        ("order.partially_refunded", None),
        ("charge.paid", None),
        ("webhook_ping", None),
    ];
    for (kind, expected) in cases {
        let body = order_event(kind, "evt_1", 20_050);
        let verified = deliver(&adapter, &body, &KEYS.0).await;
        match (expected, verified) {
            (Some(state), Ok(Verified::Event(e))) => assert_eq!(e.state, state, "{kind}"),
            (None, Ok(Verified::Ignored { event_id, kind: k })) => {
                assert_eq!((event_id.as_str(), k.as_str()), ("evt_1", kind));
            }
            (_, other) => panic!("{kind}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_event_is_malformed() {
    let server = MockServer::start().await;
    let body = br#"{"type": "order.paid", "id": "evt_2", "data": {"object": {"amount": 100}}}"#;

    let verified = deliver(&conekta(&server), body, &KEYS.0).await;

    assert!(
        matches!(verified, Err(PaymentError::Malformed(_))),
        "{verified:?}"
    );
}

#[tokio::test]
async fn a_full_refund_refunds_what_is_left_of_the_order() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders/ord_2i5d4gdwpZR5Yat6U"))
        .and(header("accept", ACCEPT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "ord_2i5d4gdwpZR5Yat6U", "object": "order", "amount": 20050,
            "amount_refunded": 5000, "currency": "MXN", "payment_status": "partially_refunded"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orders/ord_2i5d4gdwpZR5Yat6U/refunds"))
        .and(header(
            "authorization",
            format!("Bearer {PRIVATE_KEY}").as_str(),
        ))
        .and(body_partial_json(
            json!({"reason": "requested_by_client", "amount": 15050}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "ord_2i5d4gdwpZR5Yat6U", "object": "order", "amount": 20050,
            "amount_refunded": 20050, "payment_status": "refunded"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let result = conekta(&server).refund("ord_2i5d4gdwpZR5Yat6U", None).await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_partial_refund_sends_its_amount_without_a_re_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orders/ord_2i5d4gdwpZR5Yat6U/refunds"))
        .and(body_partial_json(
            json!({"reason": "requested_by_client", "amount": 10}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "ord_2i5d4gdwpZR5Yat6U"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let adapter = conekta(&server);

    let partial = adapter
        .refund("ord_2i5d4gdwpZR5Yat6U", Some(Centavos(10)))
        .await;
    let injected = adapter.refund("../customers", Some(Centavos(10))).await;

    assert!(partial.is_ok(), "{partial:?}");
    assert!(matches!(injected, Err(PaymentError::Refused(_))));
}

#[test]
fn the_webhook_key_is_read_as_conekta_hands_it_out_or_rejected() {
    let escaped = webhook_public_key_pem().replace('\n', "\\n");
    let pkcs1 = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        KEYS.0
            .to_public_key()
            .to_pkcs1_pem(LineEnding::LF)
            .expect("pem")
    };

    assert!(Conekta::new(reqwest::Client::new(), PRIVATE_KEY, &escaped).is_ok());
    assert!(Conekta::new(reqwest::Client::new(), PRIVATE_KEY, &pkcs1).is_ok());
    assert!(matches!(
        Conekta::new(
            reqwest::Client::new(),
            PRIVATE_KEY,
            "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"
        ),
        Err(ConektaConfigError::WebhookKey)
    ));
    assert!(matches!(
        Conekta::new(reqwest::Client::new(), " ", &webhook_public_key_pem()),
        Err(ConektaConfigError::PrivateKey)
    ));
}

#[test]
fn debug_output_never_shows_the_private_key() {
    let adapter = Conekta::new(
        reqwest::Client::new(),
        PRIVATE_KEY,
        &webhook_public_key_pem(),
    )
    .expect("config");

    assert!(!format!("{adapter:?}").contains(PRIVATE_KEY));
}
