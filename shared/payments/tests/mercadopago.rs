//! Mercado Pago adapter against a fake Mercado Pago (wiremock) speaking its formats, and against
//! signature vectors confirmed by the official SDK's validator (see tests/vectors/generate.py).

use mostrador_core::money::Centavos;
use mostrador_payments::mercadopago::{MercadoPago, DEFAULT_TOLERANCE_SECS};
use mostrador_payments::{
    Callback, Method, PaymentError, PaymentProvider, PaymentRequest, PaymentState, Verified,
};
use serde_json::{json, Value};
use wiremock::matchers::{body_string, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCESS_TOKEN: &str = "APP_USR-mostrador-test-token";
/// 2026-01-01T18:30:00Z, the vectors' `ts` (in seconds).
const TS: i64 = 1_767_292_200;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/mercadopago.json"
    ))
    .expect("tests/vectors/mercadopago.json is committed");
    serde_json::from_str(&text).expect("mercadopago.json is JSON")
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

fn text<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field].as_str().unwrap_or_else(|| panic!("{field}"))
}

fn mercadopago(server: &MockServer, webhook_secret: &str) -> MercadoPago {
    MercadoPago::new(reqwest::Client::new(), ACCESS_TOKEN, webhook_secret)
        .with_base_url(server.uri())
}

fn secret() -> String {
    vectors()["secret"].as_str().expect("secret").to_owned()
}

/// A delivery as Mercado Pago makes it, from the parts of a vector.
struct Delivery {
    body: String,
    query: String,
    signature: Option<String>,
    request_id: Option<String>,
}

impl Delivery {
    fn of(case: &Value) -> Self {
        Self {
            body: text(case, "body").to_owned(),
            query: text(case, "query").to_owned(),
            signature: Some(text(case, "header").to_owned()),
            request_id: case["request_id"].as_str().map(str::to_owned),
        }
    }

    fn callback(&self, now: i64) -> Callback<'_> {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(s) = &self.signature {
            headers.push(("x-signature".to_owned(), s.clone()));
        }
        if let Some(id) = &self.request_id {
            headers.push(("x-request-id".to_owned(), id.clone()));
        }
        Callback {
            body: self.body.as_bytes(),
            headers,
            query: &self.query,
            now,
        }
    }
}

/// When the vector was sent, in seconds.
fn sent_at(case: &Value) -> i64 {
    let ts: i64 = text(case, "ts").parse().expect("ts digits");
    if ts > 10_000_000_000 {
        ts / 1000
    } else {
        ts
    }
}

/// A fake Mercado Pago whose `GET /v1/payments/{id}` answers `payment` (exact bytes).
async fn fake_payments(id: &str, payment: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payments/{id}")))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(payment.as_bytes().to_vec(), "application/json"),
        )
        .mount(&server)
        .await;
    server
}

async fn fake_for(case: &Value) -> MockServer {
    match case["payment_response"].as_str() {
        Some(payment) => fake_payments(text(case, "data_id"), payment).await,
        None => MockServer::start().await,
    }
}

async fn payment_reads(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("recording on")
        .iter()
        .filter(|r| r.url.path().starts_with("/v1/payments/"))
        .count()
}

fn assert_expected(case: &Value, verified: &Verified) {
    let expect = &case["expect"];
    let name = text(case, "name");
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
async fn every_vector_confirmed_by_the_sdk_is_accepted_and_the_payment_re_read() {
    let cases = cases();
    assert!(cases.len() >= 5);
    for case in &cases {
        let server = fake_for(case).await;
        let provider = mercadopago(&server, &secret());
        let delivery = Delivery::of(case);
        match provider
            .verify(&delivery.callback(sent_at(case) + 10))
            .await
        {
            Ok(verified) => assert_expected(case, &verified),
            Err(e) => panic!("{}: {e}", case["name"]),
        }
        let reads = usize::from(case["payment_response"].is_string());
        assert_eq!(payment_reads(&server).await, reads, "{}", case["name"]);
    }
}

#[tokio::test]
async fn the_vectors_manifests_are_the_documented_ones() {
    // Guards the vectors themselves: pairs omitted when missing, data.id exactly as received.
    for case in cases() {
        let mut expected = String::new();
        if let Some(id) = case["data_id"].as_str() {
            expected.push_str(&format!("id:{id};"));
        }
        if let Some(id) = case["request_id"].as_str() {
            expected.push_str(&format!("request-id:{id};"));
        }
        expected.push_str(&format!("ts:{};", text(&case, "ts")));
        assert_eq!(text(&case, "manifest"), expected);
    }
}

#[tokio::test]
async fn changing_one_byte_of_anything_signed_is_rejected_before_any_re_read() {
    for case in cases() {
        let name = text(&case, "name").to_owned();
        let data_id = text(&case, "data_id").to_owned();
        let mut tampered = Vec::new();

        let mut d = Delivery::of(&case);
        let last = data_id.chars().last().expect("id");
        let swapped = if last == '9' { '8' } else { '9' };
        let other_id = format!("{}{swapped}", &data_id[..data_id.len() - 1]);
        d.query = d.query.replace(&data_id, &other_id);
        d.body = d.body.replace(&data_id, &other_id);
        tampered.push(("data.id in query and body", d));

        let mut d = Delivery::of(&case);
        d.body = d.body.replace(&data_id, &other_id);
        tampered.push(("data.id in the body only", d));

        if case["request_id"].is_string() {
            let mut d = Delivery::of(&case);
            d.request_id = d
                .request_id
                .map(|id| id.replacen('a', "b", 1).replacen('0', "1", 1));
            tampered.push(("x-request-id", d));
        }

        let mut d = Delivery::of(&case);
        let ts = text(&case, "ts");
        let bumped = (ts.parse::<i64>().expect("ts") + 1).to_string();
        d.signature = d
            .signature
            .map(|s| s.replace(&format!("ts={ts}"), &format!("ts={bumped}")));
        tampered.push(("ts", d));

        let mut d = Delivery::of(&case);
        d.signature = d.signature.map(|s| {
            let flipped = if s.ends_with('0') { '1' } else { '0' };
            format!("{}{flipped}", &s[..s.len() - 1])
        });
        tampered.push(("v1", d));

        let server = fake_for(&case).await;
        let provider = mercadopago(&server, &secret());
        for (what, delivery) in tampered {
            let result = provider.verify(&delivery.callback(sent_at(&case))).await;
            assert!(unauthenticated(&result), "{name}, {what}: {result:?}");
        }
        assert_eq!(payment_reads(&server).await, 0, "{name}");
    }
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_rejected() {
    for case in cases() {
        let server = fake_for(&case).await;
        let forged = mercadopago(&server, "someone-elses-secret");
        let result = forged
            .verify(&Delivery::of(&case).callback(sent_at(&case)))
            .await;
        assert!(unauthenticated(&result), "{}: {result:?}", case["name"]);
        assert_eq!(payment_reads(&server).await, 0);
    }
}

#[tokio::test]
async fn a_ts_more_than_300_seconds_away_is_rejected_in_seconds_or_milliseconds() {
    let tolerance = DEFAULT_TOLERANCE_SECS as i64;
    for name in [
        "payment_approved_card_ts_seconds",
        "payment_pending_oxxo_ts_milliseconds",
    ] {
        let case = case(name);
        let server = fake_for(&case).await;
        let provider = mercadopago(&server, &secret());
        let delivery = Delivery::of(&case);
        let sent = sent_at(&case);
        assert!(
            provider
                .verify(&delivery.callback(sent + tolerance))
                .await
                .is_ok(),
            "{name}"
        );
        assert!(
            provider
                .verify(&delivery.callback(sent - tolerance))
                .await
                .is_ok(),
            "{name}"
        );
        assert!(
            unauthenticated(
                &provider
                    .verify(&delivery.callback(sent + tolerance + 1))
                    .await
            ),
            "{name}"
        );
        assert!(
            unauthenticated(
                &provider
                    .verify(&delivery.callback(sent - tolerance - 1))
                    .await
            ),
            "{name}"
        );
        assert!(
            unauthenticated(&provider.verify(&delivery.callback(sent + 86_400)).await),
            "{name}"
        );
    }
    let case = case("payment_approved_card_ts_seconds");
    let server = fake_for(&case).await;
    let lenient = mercadopago(&server, &secret()).with_tolerance_secs(3600);
    assert!(lenient
        .verify(&Delivery::of(&case).callback(TS + 1800))
        .await
        .is_ok());
}

#[tokio::test]
async fn an_unsigned_notification_is_rejected() {
    let case = case("payment_approved_card_ts_seconds");
    let server = fake_for(&case).await;
    let mut delivery = Delivery::of(&case);
    delivery.signature = None;
    let result = mercadopago(&server, &secret())
        .verify(&delivery.callback(TS))
        .await;
    assert!(unauthenticated(&result), "{result:?}");
    assert_eq!(payment_reads(&server).await, 0);
}

#[tokio::test]
async fn garbled_signature_headers_are_rejected() {
    let case = case("payment_approved_card_ts_seconds");
    let server = fake_for(&case).await;
    let provider = mercadopago(&server, &secret());
    let good = text(&case, "header");
    let v1 = good.split_once(",v1=").map(|(_, v)| v).expect("v1");
    for header in [
        String::new(),
        "this-is-garbage".to_owned(),
        format!("v1={v1}"),
        format!("ts={TS}"),
        format!("ts=soon,v1={v1}"),
        format!("ts=-{TS},v1={v1}"),
        format!("ts={TS},v2={v1}"),
        format!("ts={TS},v1=zz{}", &v1[2..]),
    ] {
        let mut delivery = Delivery::of(&case);
        delivery.signature = Some(header.clone());
        let result = provider.verify(&delivery.callback(TS)).await;
        assert!(unauthenticated(&result), "{header:?}: {result:?}");
    }
}

#[tokio::test]
async fn data_id_is_signed_with_its_case_as_received() {
    let case = case("order_topic_keeps_data_id_case");
    let server = fake_for(&case).await;
    let provider = mercadopago(&server, &secret());
    let data_id = text(&case, "data_id");
    let mut lowered = Delivery::of(&case);
    lowered.query = lowered.query.replace(data_id, &data_id.to_lowercase());
    lowered.body = lowered.body.replace(data_id, &data_id.to_lowercase());
    let result = provider.verify(&lowered.callback(TS)).await;
    assert!(unauthenticated(&result), "{result:?}");
}

#[tokio::test]
async fn the_same_notification_twice_has_the_same_event_id_and_a_later_status_a_new_one() {
    let approved = case("payment_approved_card_ts_seconds");
    let refunded = case("payment_refunded");
    assert_eq!(approved["data_id"], refunded["data_id"], "same payment");

    let server = fake_for(&approved).await;
    let provider = mercadopago(&server, &secret());
    let delivery = Delivery::of(&approved);
    let first = provider
        .verify(&delivery.callback(TS))
        .await
        .expect("first");
    let again = provider
        .verify(&delivery.callback(TS + 60))
        .await
        .expect("again");
    assert_eq!(first, again);

    let server = fake_for(&refunded).await;
    let later = mercadopago(&server, &secret())
        .verify(&Delivery::of(&refunded).callback(TS))
        .await
        .expect("later");
    let id = |v: &Verified| match v {
        Verified::Event(e) => e.event_id.clone(),
        other => panic!("{other:?}"),
    };
    assert_ne!(
        id(&first),
        id(&later),
        "a refund after payment is not a duplicate of it"
    );
}

/// The signed notification of the first vector, re-read as `payment`.
async fn verify_with_payment(payment: Value) -> Result<Verified, PaymentError> {
    let case = case("payment_approved_card_ts_seconds");
    let server = fake_payments(text(&case, "data_id"), &payment.to_string()).await;
    mercadopago(&server, &secret())
        .verify(&Delivery::of(&case).callback(TS))
        .await
}

fn payment(status: &str, amount: Value) -> Value {
    json!({
        "id": 1319761982u64, "status": status, "transaction_amount": amount, "currency_id": "MXN",
        "external_reference": "ord_01JQ7ZK3M8", "payment_type_id": "ticket", "payment_method_id": "oxxo"
    })
}

#[tokio::test]
async fn every_payment_status_maps_to_its_state() {
    // What the re-read says wins over the notification; ordering is the app's job.
    for (status, state) in [
        ("approved", PaymentState::Paid),
        ("pending", PaymentState::Pending),
        ("in_process", PaymentState::Pending),
        ("authorized", PaymentState::Pending),
        ("rejected", PaymentState::Failed),
        ("cancelled", PaymentState::Failed),
        ("refunded", PaymentState::Refunded),
        ("charged_back", PaymentState::ChargedBack),
    ] {
        match verify_with_payment(payment(status, json!(149))).await {
            Ok(Verified::Event(e)) => {
                assert_eq!(e.state, state, "{status}");
                assert_eq!(e.event_id, format!("1319761982:{status}"));
                assert_eq!(e.method, Some(Method::Cash));
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    let mediation = verify_with_payment(payment("in_mediation", json!(149))).await;
    assert!(
        matches!(mediation, Ok(Verified::Ignored { .. })),
        "{mediation:?}"
    );
}

#[tokio::test]
async fn decimal_pesos_become_exact_centavos_from_the_json_text() {
    for (amount_text, centavos) in [
        ("200.50", Some(20_050)),
        ("200.5", Some(20_050)),
        ("0.10", Some(10)),
        ("0.1", Some(10)),
        ("1250", Some(125_000)),
        // Fractions of a centavo, or notations we do not read exactly, are not taken as paid.
        ("200.505", None),
        ("2.005e2", None),
    ] {
        let body = payment("approved", json!(0)).to_string().replace(
            "\"transaction_amount\":0",
            &format!("\"transaction_amount\":{amount_text}"),
        );
        let case = case("payment_approved_card_ts_seconds");
        let server = fake_payments(text(&case, "data_id"), &body).await;
        let result = mercadopago(&server, &secret())
            .verify(&Delivery::of(&case).callback(TS))
            .await;
        match (centavos, result) {
            (Some(c), Ok(Verified::Event(e))) => {
                assert_eq!(e.amount, Some(Centavos(c)), "{amount_text}")
            }
            (None, Err(PaymentError::Unavailable(_))) => {}
            (_, other) => panic!("{amount_text}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_failed_re_read_is_refused_or_unavailable() {
    let case = case("payment_approved_card_ts_seconds");
    for (status, refused) in [(404, true), (401, true), (500, false), (429, false)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/v1/payments/"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "message": "Payment not found", "error": "not_found", "status": status, "cause": []
            })))
            .mount(&server)
            .await;
        let result = mercadopago(&server, &secret())
            .verify(&Delivery::of(&case).callback(TS))
            .await;
        match (refused, &result) {
            (true, Err(PaymentError::Refused(why))) => assert!(why.contains("Payment not found")),
            (false, Err(PaymentError::Unavailable(_))) => {}
            _ => panic!("{status}: {result:?}"),
        }
    }
}

// --- Link creation -------------------------------------------------------------------------------

fn request(methods: Vec<Method>, amount: i64) -> PaymentRequest {
    PaymentRequest {
        order_id: "ord_01JQ7ZK3M8".into(),
        amount: Centavos(amount),
        currency: "MXN".into(),
        description: "Pedido 1A2B3C — Farmacia San Juan".into(),
        methods,
        expires_at: TS, // 2026-01-01T12:30:00-06:00
        notification_url: "https://api.example.mx/webhooks/payments/mercadopago?merchant=m1".into(),
        idempotency_key: "link:ord_01JQ7ZK3M8:1".into(),
    }
}

async fn fake_preferences(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/checkout/preferences"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn preference_response() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "id": "2079614828-3f2b6d1e-9c1a-4f8e-8d77-0e5c4a1b2c3d",
        "init_point": "https://www.mercadopago.com.mx/checkout/v1/redirect?pref_id=2079614828-3f2b6d1e-9c1a-4f8e-8d77-0e5c4a1b2c3d",
        "sandbox_init_point": "https://sandbox.mercadopago.com.mx/checkout/v1/redirect?pref_id=2079614828-3f2b6d1e",
        "external_reference": "ord_01JQ7ZK3M8",
        "expires": true
    }))
}

async fn sent_body(server: &MockServer) -> (String, Value) {
    let requests = server.received_requests().await.expect("recording on");
    assert_eq!(requests.len(), 1);
    let text = String::from_utf8(requests[0].body.clone()).expect("UTF-8");
    let json = serde_json::from_str(&text).expect("JSON body");
    (text, json)
}

fn excluded(body: &Value) -> Vec<&str> {
    body["payment_methods"]["excluded_payment_types"]
        .as_array()
        .expect("excluded_payment_types")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect()
}

#[tokio::test]
async fn a_preference_is_created_with_the_exact_price_reference_and_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/checkout/preferences"))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .and(header("x-idempotency-key", "link:ord_01JQ7ZK3M8:1"))
        .and(header("content-type", "application/json"))
        .respond_with(preference_response())
        .expect(1)
        .mount(&server)
        .await;
    let provider = mercadopago(&server, &secret());

    let link = provider
        .create(&request(
            vec![Method::Card, Method::Cash, Method::Spei],
            20_050,
        ))
        .await
        .expect("link");

    assert_eq!(
        link.provider_ref,
        "2079614828-3f2b6d1e-9c1a-4f8e-8d77-0e5c4a1b2c3d"
    );
    assert!(link
        .url
        .as_deref()
        .is_some_and(|u| u.contains("pref_id=2079614828-")));
    assert_eq!(link.expires_at, TS);
    let (text, body) = sent_body(&server).await;
    assert!(text.contains("\"unit_price\":200.50"), "{text}");
    let item = &body["items"][0];
    assert_eq!(item["title"], "Pedido 1A2B3C — Farmacia San Juan");
    assert_eq!(item["quantity"], 1);
    assert_eq!(item["currency_id"], "MXN");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["external_reference"], "ord_01JQ7ZK3M8");
    assert_eq!(
        body["notification_url"],
        "https://api.example.mx/webhooks/payments/mercadopago?merchant=m1"
    );
    assert_eq!(body["expires"], true);
    assert_eq!(body["expiration_date_to"], "2026-01-01T12:30:00.000-06:00");
    assert_eq!(body["date_of_expiration"], "2026-01-01T12:30:00.000-06:00");
    assert!(excluded(&body).is_empty());
}

#[tokio::test]
async fn ten_centavos_are_written_as_0_10_pesos() {
    let server = fake_preferences(preference_response()).await;
    mercadopago(&server, &secret())
        .create(&request(vec![Method::Card], 10))
        .await
        .expect("link");
    let (text, _) = sent_body(&server).await;
    assert!(text.contains("\"unit_price\":0.10"), "{text}");
}

#[tokio::test]
async fn methods_not_offered_are_excluded_and_cash_expiry_only_sent_for_cash() {
    for (methods, expected, cash) in [
        (
            vec![Method::Card],
            vec!["ticket", "atm", "bank_transfer"],
            false,
        ),
        (
            vec![Method::Cash],
            vec!["credit_card", "debit_card", "prepaid_card", "bank_transfer"],
            true,
        ),
        (
            vec![Method::Spei, Method::CoDi],
            vec!["credit_card", "debit_card", "prepaid_card", "ticket", "atm"],
            false,
        ),
    ] {
        let server = fake_preferences(preference_response()).await;
        mercadopago(&server, &secret())
            .create(&request(methods.clone(), 20_050))
            .await
            .expect("link");
        let (_, body) = sent_body(&server).await;
        assert_eq!(excluded(&body), expected, "{methods:?}");
        assert_eq!(
            body.get("date_of_expiration").is_some(),
            cash,
            "{methods:?}"
        );
    }
}

#[tokio::test]
async fn nothing_is_created_for_codi_only_or_a_zero_amount() {
    let server = fake_preferences(preference_response()).await;
    let provider = mercadopago(&server, &secret());
    let codi = provider.create(&request(vec![Method::CoDi], 20_050)).await;
    assert!(matches!(codi, Err(PaymentError::Refused(_))), "{codi:?}");
    let zero = provider.create(&request(vec![Method::Card], 0)).await;
    assert!(matches!(zero, Err(PaymentError::Refused(_))), "{zero:?}");
    assert!(server
        .received_requests()
        .await
        .expect("recording")
        .is_empty());
}

#[tokio::test]
async fn a_4xx_is_refused_with_the_message_and_a_5xx_or_no_answer_is_unavailable() {
    let server = fake_preferences(ResponseTemplate::new(400).set_body_json(json!({
        "message": "unit_price invalid", "error": "bad_request", "status": 400, "cause": []
    })))
    .await;
    match mercadopago(&server, &secret())
        .create(&request(vec![Method::Card], 20_050))
        .await
    {
        Err(PaymentError::Refused(why)) => assert!(why.contains("unit_price invalid"), "{why}"),
        other => panic!("{other:?}"),
    }
    let server = fake_preferences(ResponseTemplate::new(502)).await;
    let result = mercadopago(&server, &secret())
        .create(&request(vec![Method::Card], 20_050))
        .await;
    assert!(
        matches!(result, Err(PaymentError::Unavailable(_))),
        "{result:?}"
    );
    let nowhere = MercadoPago::new(reqwest::Client::new(), ACCESS_TOKEN, "s")
        .with_base_url("http://127.0.0.1:9");
    let result = nowhere.create(&request(vec![Method::Card], 20_050)).await;
    assert!(
        matches!(result, Err(PaymentError::Unavailable(_))),
        "{result:?}"
    );
}

// --- Refunds -------------------------------------------------------------------------------------

#[tokio::test]
async fn refunds_post_the_amount_in_pesos_or_nothing_for_a_full_refund() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payments/1319761982/refunds"))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .and(body_string("{\"amount\":50.25}"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 1, "amount": 50.25, "status": "approved"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payments/1319761982/refunds"))
        .and(body_string("{}"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 2, "amount": 200.5, "status": "approved"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let provider = mercadopago(&server, &secret());
    provider
        .refund("1319761982", Some(Centavos(5_025)))
        .await
        .expect("partial");
    provider.refund("1319761982", None).await.expect("full");
    let requests = server.received_requests().await.expect("recording");
    assert!(requests
        .iter()
        .all(|r| r.headers.get("x-idempotency-key").is_some()));
}

#[tokio::test]
async fn a_refund_of_something_that_is_not_a_payment_id_is_refused() {
    let server = MockServer::start().await;
    let result = mercadopago(&server, &secret())
        .refund("../preferences", None)
        .await;
    assert!(
        matches!(result, Err(PaymentError::Refused(_))),
        "{result:?}"
    );
    assert!(server
        .received_requests()
        .await
        .expect("recording")
        .is_empty());
}

#[test]
fn the_provider_is_named_mercadopago_and_its_debug_output_hides_secrets() {
    let provider = MercadoPago::new(reqwest::Client::new(), ACCESS_TOKEN, "whsecret-xyz");
    assert_eq!(provider.name(), "mercadopago");
    let debug = format!("{provider:?}");
    assert!(
        !debug.contains(ACCESS_TOKEN) && !debug.contains("whsecret-xyz"),
        "{debug}"
    );
}
