//! Stripe adapter against a fake Stripe (wiremock) speaking Stripe's formats, and against signature
//! vectors produced by stripe-python (see tests/vectors/generate.py).

use mostrador_core::money::Centavos;
use mostrador_core::FixedClock;
use mostrador_payments::stripe::{Stripe, MAX_SESSION_SECS, MIN_SESSION_SECS, TOLERANCE_SECS};
use mostrador_payments::{
    Callback, Method, PaymentError, PaymentProvider, PaymentRequest, PaymentState, Verified,
};
use serde_json::{json, Value};
use std::sync::Arc;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET_KEY: &str = "sk_test_mostrador_0000";
/// 2026-01-01T18:30:00Z, the vectors' `t`.
const T: i64 = 1_767_292_200;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/stripe.json"
    ))
    .expect("tests/vectors/stripe.json is committed");
    serde_json::from_str(&text).expect("stripe.json is JSON")
}

fn cases() -> Vec<Value> {
    vectors()["cases"].as_array().expect("cases").clone()
}

fn case(name: &str) -> Value {
    cases()
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

fn stripe_with_secret(webhook_secret: &str) -> Stripe {
    Stripe::new(reqwest::Client::new(), SECRET_KEY, webhook_secret)
}

fn stripe() -> Stripe {
    stripe_with_secret(vectors()["secret"].as_str().expect("secret"))
}

fn callback<'a>(body: &'a [u8], signature: Option<&str>, now: i64) -> Callback<'a> {
    Callback {
        body,
        headers: signature
            .map(|s| vec![("stripe-signature".to_owned(), s.to_owned())])
            .unwrap_or_default(),
        query: "",
        now,
    }
}

async fn verify_case(provider: &Stripe, case: &Value, now: i64) -> Result<Verified, PaymentError> {
    let body = case["payload"].as_str().expect("payload").as_bytes();
    let header = case["header"].as_str().expect("header");
    provider.verify(&callback(body, Some(header), now)).await
}

/// Signs like stripe-python's `generate_signature_header` (proven equal by the vector tests).
fn sign(secret: &str, body: &str, t: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn assert_expected(case: &Value, verified: &Verified) {
    let expect = &case["expect"];
    let name = case["name"].as_str().unwrap_or("?");
    match (expect["kind"].as_str(), verified) {
        (Some("event"), Verified::Event(e)) => {
            assert_eq!(
                Some(e.event_id.as_str()),
                expect["event_id"].as_str(),
                "{name}"
            );
            assert_eq!(
                serde_json::to_value(e.state).ok().as_ref(),
                Some(&expect["state"]),
                "{name}"
            );
            assert_eq!(e.order_id.as_deref(), expect["order_id"].as_str(), "{name}");
            assert_eq!(e.amount, expect["amount"].as_i64().map(Centavos), "{name}");
            assert_eq!(e.currency.as_deref(), expect["currency"].as_str(), "{name}");
            let method = e.method.map(|m| serde_json::to_value(m).expect("method"));
            assert_eq!(method.unwrap_or(Value::Null), expect["method"], "{name}");
            assert_eq!(
                e.payment_ref.as_deref(),
                expect["payment_ref"].as_str(),
                "{name}"
            );
        }
        (Some("ignored"), Verified::Ignored { event_id, kind }) => {
            assert_eq!(
                Some(event_id.as_str()),
                expect["event_id"].as_str(),
                "{name}"
            );
            assert_eq!(Some(kind.as_str()), expect["type"].as_str(), "{name}");
        }
        _ => panic!("{name}: expected {expect}, got {verified:?}"),
    }
}

fn unauthenticated(result: &Result<Verified, PaymentError>) -> bool {
    matches!(result, Err(PaymentError::Unauthenticated(_)))
}

#[tokio::test]
async fn every_vector_signed_by_stripe_python_is_accepted_and_translated() {
    let provider = stripe();
    let cases = cases();
    assert!(cases.len() >= 9, "vectors cover every mapped event");
    for case in &cases {
        let verified = verify_case(&provider, case, T + 10).await;
        match verified {
            Ok(v) => assert_expected(case, &v),
            Err(e) => panic!("{}: {e}", case["name"]),
        }
    }
}

#[tokio::test]
async fn changing_any_one_byte_of_a_signed_body_is_rejected() {
    let provider = stripe();
    for case in cases() {
        let body = case["payload"]
            .as_str()
            .expect("payload")
            .as_bytes()
            .to_vec();
        let header = case["header"].as_str().expect("header");
        for at in [0, body.len() / 3, body.len() / 2, body.len() - 1] {
            let mut tampered = body.clone();
            tampered[at] ^= 0x01;
            let result = provider.verify(&callback(&tampered, Some(header), T)).await;
            assert!(
                unauthenticated(&result),
                "{} byte {at}: {result:?}",
                case["name"]
            );
        }
    }
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_rejected() {
    let forged = stripe_with_secret("whsec_someone_else");
    for case in cases() {
        let result = verify_case(&forged, &case, T).await;
        assert!(unauthenticated(&result), "{}: {result:?}", case["name"]);
    }
}

#[tokio::test]
async fn a_timestamp_more_than_300_seconds_away_is_rejected() {
    let provider = stripe();
    let case = case("checkout_completed_paid_card");
    let tolerance = TOLERANCE_SECS as i64;
    assert_eq!(
        tolerance,
        vectors()["tolerance_secs"].as_i64().expect("tolerance")
    );
    assert!(verify_case(&provider, &case, T + tolerance).await.is_ok());
    assert!(verify_case(&provider, &case, T - tolerance).await.is_ok());
    assert!(unauthenticated(
        &verify_case(&provider, &case, T + tolerance + 1).await
    ));
    // A replay three days later, as Stripe's own retries would look if re-sent verbatim.
    assert!(unauthenticated(
        &verify_case(&provider, &case, T + 3 * 86_400).await
    ));
    assert!(unauthenticated(
        &verify_case(&provider, &case, T - tolerance - 1).await
    ));
}

#[tokio::test]
async fn an_unsigned_callback_is_rejected() {
    let case = case("checkout_completed_paid_card");
    let body = case["payload"].as_str().expect("payload").as_bytes();
    let result = stripe().verify(&callback(body, None, T)).await;
    assert!(unauthenticated(&result), "{result:?}");
}

#[tokio::test]
async fn garbled_signature_headers_are_rejected() {
    let provider = stripe();
    let case = case("checkout_completed_paid_card");
    let body = case["payload"].as_str().expect("payload");
    let good = case["header"].as_str().expect("header");
    let v1 = good.split_once(",v1=").map(|(_, v)| v).expect("v1");
    for header in [
        String::new(),
        "garbage".to_owned(),
        format!("v1={v1}"),
        format!("t={T}"),
        format!("t={T},v0={v1}"),
        format!("t=soon,v1={v1}"),
        format!("t={T},v1=not-hex"),
        format!("t={T},v1={}", &v1[..32]),
    ] {
        let result = provider
            .verify(&callback(body.as_bytes(), Some(&header), T))
            .await;
        assert!(unauthenticated(&result), "{header:?}: {result:?}");
    }
}

#[tokio::test]
async fn the_same_event_delivered_twice_has_the_same_event_id() {
    let provider = stripe();
    let case = case("checkout_completed_paid_card");
    let first = verify_case(&provider, &case, T + 1)
        .await
        .expect("first delivery");
    let again = verify_case(&provider, &case, T + 200)
        .await
        .expect("second delivery");
    assert_eq!(first, again);
}

#[tokio::test]
async fn pending_paid_failed_and_expired_events_map_to_their_states() {
    // Ordering is the app's job; each event only has to say what it means.
    let provider = stripe();
    for (name, state) in [
        (
            "checkout_completed_unpaid_oxxo_ten_centavos",
            PaymentState::Pending,
        ),
        (
            "payment_intent_requires_action_oxxo_voucher",
            PaymentState::Pending,
        ),
        ("checkout_completed_paid_card", PaymentState::Paid),
        (
            "async_payment_succeeded_spei_reference_in_metadata",
            PaymentState::Paid,
        ),
        ("async_payment_failed", PaymentState::Failed),
        ("checkout_expired", PaymentState::Expired),
        ("charge_refunded_in_full", PaymentState::Refunded),
    ] {
        match verify_case(&provider, &case(name), T).await {
            Ok(Verified::Event(e)) => assert_eq!(e.state, state, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn amounts_are_the_exact_centavos_stripe_reports() {
    let provider = stripe();
    for (name, centavos) in [
        ("checkout_completed_paid_card", 20_050),
        ("checkout_completed_unpaid_oxxo_ten_centavos", 10),
    ] {
        match verify_case(&provider, &case(name), T).await {
            Ok(Verified::Event(e)) => assert_eq!(e.amount, Some(Centavos(centavos)), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_partial_refund_does_not_refund_the_order() {
    let secret = "whsec_partial";
    let body = json!({
        "id": "evt_partial",
        "object": "event",
        "type": "charge.refunded",
        "data": {"object": {
            "id": "ch_1", "object": "charge", "amount": 20050, "amount_refunded": 5000,
            "currency": "mxn", "payment_intent": "pi_1", "refunded": false,
            "metadata": {"order_id": "ord_1"}
        }}
    })
    .to_string();
    let header = sign(secret, &body, T);
    let result = stripe_with_secret(secret)
        .verify(&callback(body.as_bytes(), Some(&header), T))
        .await;
    assert!(
        matches!(&result, Ok(Verified::Ignored { event_id, .. }) if event_id == "evt_partial"),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_malformed() {
    let secret = "whsec_x";
    let header = sign(secret, "not json", T);
    let result = stripe_with_secret(secret)
        .verify(&callback(b"not json", Some(&header), T))
        .await;
    assert!(
        matches!(result, Err(PaymentError::Malformed(_))),
        "{result:?}"
    );
}

// --- Link creation -------------------------------------------------------------------------------

fn request(methods: Vec<Method>, expires_at: i64) -> PaymentRequest {
    PaymentRequest {
        order_id: "ord_01JQ7ZK3M8".into(),
        amount: Centavos(20_050),
        currency: "MXN".into(),
        description: "Pedido 1A2B3C — Farmacia San Juan".into(),
        methods,
        expires_at,
        notification_url: "https://api.example.mx/webhooks/payments/stripe".into(),
        idempotency_key: "link:ord_01JQ7ZK3M8:1".into(),
    }
}

fn clock_at(t: i64) -> Arc<FixedClock> {
    let rfc3339 = format!("\"{}\"", iso_utc(t));
    Arc::new(FixedClock::at(
        serde_json::from_str(&rfc3339).expect("RFC 3339 instant"),
    ))
}

/// `t` as `YYYY-MM-DDTHH:MM:SSZ` (only for instants on 2026-01-01, which is all these tests use).
fn iso_utc(t: i64) -> String {
    let midnight = 1_767_225_600; // 2026-01-01T00:00:00Z
    let s = t - midnight;
    assert!((0..86_400).contains(&s));
    format!(
        "2026-01-01T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

async fn fake_stripe(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn session_response(expires_at: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "cs_test_a1b2c3",
        "object": "checkout.session",
        "amount_total": 20050,
        "currency": "mxn",
        "client_reference_id": "ord_01JQ7ZK3M8",
        "expires_at": expires_at,
        "payment_status": "unpaid",
        "status": "open",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"
    }))
}

/// The form pairs of the only request the fake Stripe received.
async fn sent_form(server: &MockServer) -> (Vec<(String, String)>, wiremock::Request) {
    let requests = server.received_requests().await.expect("recording on");
    assert_eq!(requests.len(), 1);
    let request = requests[0].clone();
    let body = String::from_utf8(request.body.clone()).expect("form is UTF-8");
    let pairs = body
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect();
    (pairs, request)
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex escape"));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8")
}

fn values<'a>(form: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn value<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    match values(form, key).as_slice() {
        [] => None,
        [one] => Some(one),
        many => panic!("{key} sent {} times", many.len()),
    }
}

#[tokio::test]
async fn a_checkout_session_is_created_with_card_oxxo_and_spei() {
    let now = T;
    let expires_at = now + 2 * 3600;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header(
            "authorization",
            format!("Bearer {SECRET_KEY}").as_str(),
        ))
        .and(header("idempotency-key", "link:ord_01JQ7ZK3M8:1"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(session_response(expires_at))
        .expect(1)
        .mount(&server)
        .await;
    let provider = stripe()
        .with_base_url(server.uri())
        .with_clock(clock_at(now));

    let link = provider
        .create(&request(
            vec![Method::Card, Method::Cash, Method::Spei],
            expires_at,
        ))
        .await
        .expect("link");

    assert_eq!(link.provider_ref, "cs_test_a1b2c3");
    assert_eq!(
        link.url.as_deref(),
        Some("https://checkout.stripe.com/c/pay/cs_test_a1b2c3")
    );
    assert_eq!(link.expires_at, expires_at);
    let (form, _) = sent_form(&server).await;
    for (key, expected) in [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "mxn"),
        ("line_items[0][price_data][unit_amount]", "20050"),
        (
            "line_items[0][price_data][product_data][name]",
            "Pedido 1A2B3C — Farmacia San Juan",
        ),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", "ord_01JQ7ZK3M8"),
        ("metadata[order_id]", "ord_01JQ7ZK3M8"),
        ("payment_intent_data[metadata][order_id]", "ord_01JQ7ZK3M8"),
        ("payment_method_options[oxxo][expires_after_days]", "1"),
        (
            "payment_method_options[customer_balance][funding_type]",
            "bank_transfer",
        ),
        (
            "payment_method_options[customer_balance][bank_transfer][type]",
            "mx_bank_transfer",
        ),
        ("customer_creation", "always"),
    ] {
        assert_eq!(value(&form, key), Some(expected), "{key}");
    }
    assert_eq!(
        value(&form, "expires_at"),
        Some(expires_at.to_string().as_str())
    );
    assert_eq!(
        values(&form, "payment_method_types[]"),
        ["card", "oxxo", "customer_balance"]
    );
}

#[tokio::test]
async fn a_card_only_session_carries_no_cash_or_transfer_options() {
    let server = fake_stripe(session_response(T + 3600)).await;
    let provider = stripe().with_base_url(server.uri()).with_clock(clock_at(T));
    provider
        .create(&request(vec![Method::Card, Method::Card], T + 3600))
        .await
        .expect("link");
    let (form, _) = sent_form(&server).await;
    assert_eq!(values(&form, "payment_method_types[]"), ["card"]);
    assert!(form
        .iter()
        .all(|(k, _)| !k.starts_with("payment_method_options")));
    assert_eq!(value(&form, "customer_creation"), None);
}

#[tokio::test]
async fn the_expiry_is_clamped_into_stripes_30_minute_to_24_hour_window() {
    for (asked, low, high) in [
        (T + 60, T + MIN_SESSION_SECS, T + MIN_SESSION_SECS + 120),
        (
            T + 3 * 86_400,
            T + MAX_SESSION_SECS - 120,
            T + MAX_SESSION_SECS,
        ),
        (T + 5 * 3600, T + 5 * 3600, T + 5 * 3600),
    ] {
        let server = fake_stripe(session_response(asked)).await;
        let provider = stripe().with_base_url(server.uri()).with_clock(clock_at(T));
        provider
            .create(&request(vec![Method::Cash], asked))
            .await
            .expect("link");
        let (form, _) = sent_form(&server).await;
        let sent: i64 = value(&form, "expires_at")
            .expect("expires_at")
            .parse()
            .expect("epoch");
        assert!((low..=high).contains(&sent), "asked {asked}, sent {sent}");
    }
}

#[tokio::test]
async fn methods_stripe_does_not_offer_are_refused_before_calling_it() {
    let server = fake_stripe(session_response(T + 3600)).await;
    let provider = stripe().with_base_url(server.uri()).with_clock(clock_at(T));
    let result = provider
        .create(&request(vec![Method::CoDi], T + 3600))
        .await;
    assert!(
        matches!(result, Err(PaymentError::Refused(_))),
        "{result:?}"
    );
    let mut free = request(vec![Method::Card], T + 3600);
    free.amount = Centavos(0);
    assert!(matches!(
        provider.create(&free).await,
        Err(PaymentError::Refused(_))
    ));
    assert!(server
        .received_requests()
        .await
        .expect("recording")
        .is_empty());
}

#[tokio::test]
async fn a_4xx_is_refused_with_stripes_message() {
    let server = fake_stripe(ResponseTemplate::new(400).set_body_json(json!({
        "error": {
            "code": "parameter_invalid_integer",
            "message": "Invalid integer: abc",
            "param": "line_items[0][price_data][unit_amount]",
            "type": "invalid_request_error"
        }
    })))
    .await;
    let provider = stripe().with_base_url(server.uri()).with_clock(clock_at(T));
    match provider
        .create(&request(vec![Method::Card], T + 3600))
        .await
    {
        Err(PaymentError::Refused(why)) => assert!(why.contains("Invalid integer: abc"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_5xx_a_429_or_no_answer_is_unavailable() {
    for status in [500, 503, 429] {
        let server = fake_stripe(ResponseTemplate::new(status).set_body_json(json!({
            "error": {"message": "try later", "type": "api_error"}
        })))
        .await;
        let provider = stripe().with_base_url(server.uri()).with_clock(clock_at(T));
        let result = provider
            .create(&request(vec![Method::Card], T + 3600))
            .await;
        assert!(
            matches!(result, Err(PaymentError::Unavailable(_))),
            "{status}: {result:?}"
        );
    }
    let nowhere = stripe()
        .with_base_url("http://127.0.0.1:9")
        .with_clock(clock_at(T));
    let result = nowhere.create(&request(vec![Method::Card], T + 3600)).await;
    assert!(
        matches!(result, Err(PaymentError::Unavailable(_))),
        "{result:?}"
    );
}

// --- Refunds -------------------------------------------------------------------------------------

#[tokio::test]
async fn refunds_name_the_payment_intent_and_the_amount_when_partial() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header(
            "authorization",
            format!("Bearer {SECRET_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_1", "object": "refund", "amount": 5000, "status": "succeeded"
        })))
        .expect(2)
        .mount(&server)
        .await;
    let provider = stripe().with_base_url(server.uri());

    provider
        .refund("pi_3QmPaidCard0001", Some(Centavos(5_000)))
        .await
        .expect("partial");
    provider
        .refund("pi_3QmPaidCard0001", None)
        .await
        .expect("full");

    let requests = server.received_requests().await.expect("recording");
    let bodies: Vec<String> = requests
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).expect("UTF-8"))
        .collect();
    assert_eq!(
        bodies,
        [
            "payment_intent=pi_3QmPaidCard0001&amount=5000",
            "payment_intent=pi_3QmPaidCard0001"
        ]
    );
    let keys: Vec<_> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap_or("").to_owned())
        })
        .collect();
    assert!(keys.iter().all(Option::is_some));
    assert_ne!(
        keys[0], keys[1],
        "a full refund is not the earlier partial one"
    );
}

#[tokio::test]
async fn a_refund_stripe_rejects_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"code": "charge_already_refunded", "message": "Charge ch_1 has already been refunded.", "type": "invalid_request_error"}
        })))
        .mount(&server)
        .await;
    let result = stripe()
        .with_base_url(server.uri())
        .refund("pi_1", None)
        .await;
    assert!(
        matches!(&result, Err(PaymentError::Refused(why)) if why.contains("already been refunded")),
        "{result:?}"
    );
}

#[test]
fn the_provider_is_named_stripe_and_its_debug_output_hides_keys() {
    let provider = stripe();
    assert_eq!(provider.name(), "stripe");
    let debug = format!("{provider:?}");
    assert!(
        !debug.contains(SECRET_KEY) && !debug.contains("whsec_"),
        "{debug}"
    );
}
