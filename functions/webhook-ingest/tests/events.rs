//! The fixtures of `events/webhook-ingest/` through the function's router, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;
#[path = "../../testkit/http.rs"]
mod http;

use axum::http::StatusCode;
use fixtures::{embedded_deps, fixture};
use mostrador_app::parties::merchants::{
    create_branch, create_merchant, issue_key, resolve_key, BranchInput, NewApiKey, NewMerchant,
};
use mostrador_app::parties::messages::InboundEnvelope;
use mostrador_app::Deps;
use serde_json::Value;
use std::time::Duration;
use webhook_ingest::app;

fn event_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// The Meta delivery carried by a POST fixture.
fn delivery(name: &str) -> Value {
    let body = event_json(name)["body"]
        .as_str()
        .expect("a body")
        .to_owned();
    serde_json::from_str(&body).expect("the body is JSON")
}

fn phone_number_id(name: &str) -> String {
    delivery(name)
        .pointer("/entry/0/changes/0/value/metadata/phone_number_id")
        .and_then(Value::as_str)
        .expect("phone_number_id")
        .to_owned()
}

/// A merchant with one branch answering on `phone_number_id`, created as an operator would.
async fn register_number(deps: &Deps, phone_number_id: &str) -> String {
    let merchant = create_merchant(
        deps,
        NewMerchant {
            name: "Farmacia San Judas".into(),
        },
    )
    .await
    .expect("merchant");
    let key = issue_key(deps, &merchant.id, NewApiKey::default())
        .await
        .expect("api key");
    let caller = resolve_key(deps, &key.api_key).await.expect("caller");
    let branch = BranchInput {
        name: "Roma Norte".into(),
        phone_number_id: Some(phone_number_id.to_owned()),
        postal_code: "06700".into(),
        timezone: "America/Mexico_City".into(),
        address: "Av. Álvaro Obregón 120, Roma Nte., CDMX".into(),
        hours: String::new(),
        delivery: None,
        border_incentive: false,
    };
    create_branch(deps, &caller, branch).await.expect("branch");
    merchant.id.to_string()
}

async fn inbound_visible(deps: &Deps) -> u64 {
    deps.queues
        .inbound
        .depth()
        .await
        .expect("queue depth")
        .visible
}

#[tokio::test]
async fn verification_answers_metas_challenge() {
    let (deps, _dir) = embedded_deps().await;
    let event = fixture("verify.json");
    let challenge = event_json("verify.json")["queryStringParameters"]["hub.challenge"]
        .as_str()
        .expect("challenge")
        .to_owned();

    let answer = http::invoke(app(deps), &event).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), challenge);
}

#[tokio::test]
async fn message_for_an_unregistered_number_is_acknowledged_and_not_enqueued() {
    let (deps, _dir) = embedded_deps().await;

    let answer = http::invoke(app(deps.clone()), &fixture("message-text.json")).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let report = answer.json();
    assert_eq!(report["unrouted"], 1);
    assert_eq!(report["enqueued"], 0);
    assert_eq!(inbound_visible(&deps).await, 0);
}

#[tokio::test]
async fn message_for_a_registered_number_is_enqueued_once_across_redeliveries() {
    let (deps, _dir) = embedded_deps().await;
    let phone = phone_number_id("message-text.json");
    let merchant = register_number(&deps, &phone).await;
    let event = fixture("message-text.json");

    let first = http::invoke(app(deps.clone()), &event).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["enqueued"], 1);
    assert_eq!(inbound_visible(&deps).await, 1);

    // Meta redelivers until it gets a 200, and several subscribed apps each receive the event.
    let again = http::invoke(app(deps.clone()), &event).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(again.json()["duplicates"], 1);
    assert_eq!(again.json()["enqueued"], 0);
    assert_eq!(
        inbound_visible(&deps).await,
        1,
        "a redelivery enqueues nothing new"
    );

    let received = deps
        .queues
        .inbound
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
    let envelope: InboundEnvelope =
        serde_json::from_str(&received[0].body).expect("an inbound envelope");
    let message = &delivery("message-text.json")["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(envelope.merchant_id, merchant);
    assert_eq!(envelope.phone_number_id, phone);
    assert_eq!(envelope.wamid, message["id"].as_str().expect("wamid"));
    assert_eq!(
        envelope.wa_id, "525512345678",
        "the 521 spelling of a Mexican mobile is normalized"
    );
    assert_eq!(envelope.profile_name.as_deref(), Some("María Guadalupe"));
    let forwarded: Value = serde_json::from_str(envelope.message.get()).expect("message JSON");
    assert_eq!(&forwarded, message, "the message goes on as Meta sent it");
    // FIFO per customer and number, the customer named by pseudonym (no number in the queue's
    // metadata).
    assert_eq!(
        received[0].group_id.as_deref(),
        Some(format!("{phone}:{}", deps.pseudonyms.of("525512345678")).as_str())
    );
}

#[tokio::test]
async fn forged_signature_is_refused_and_nothing_is_enqueued() {
    let (deps, _dir) = embedded_deps().await;
    register_number(&deps, &phone_number_id("bad-signature.json")).await;

    let answer = http::invoke(app(deps.clone()), &fixture("bad-signature.json")).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"]["code"], "unauthorized");
    assert_eq!(inbound_visible(&deps).await, 0);
}

#[test]
fn message_fixture_is_signed_with_the_test_app_secret() {
    let event = event_json("message-text.json");
    let body = event["body"].as_str().expect("a body");
    let expected =
        mostrador_whatsapp::signature::sign(fixtures::APP_SECRET.as_bytes(), body.as_bytes());
    assert_eq!(
        event["headers"]["x-hub-signature-256"].as_str(),
        Some(expected.as_str()),
        "after editing the body of events/webhook-ingest/message-text.json, set its x-hub-signature-256 header to {expected}"
    );
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
