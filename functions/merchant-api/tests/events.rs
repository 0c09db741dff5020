//! The fixtures of `events/merchant-api/` through the function's router, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;
#[path = "../../testkit/http.rs"]
mod http;

use axum::http::StatusCode;
use fixtures::{embedded_deps, fixture};
use merchant_api::app;
use serde_json::{json, Value};

#[tokio::test]
async fn health_check_answers_ok() {
    let (deps, _dir) = embedded_deps().await;

    let answer = http::invoke(app(deps), &fixture("healthz.json")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["status"], "ok");
    // Logs carry API Gateway's request id, so they match its access logs.
    assert_eq!(
        answer
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("TtC0bXsLoAMEbVQ=")
    );
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let (deps, _dir) = embedded_deps().await;

    let answer = http::invoke(app(deps), &fixture("unknown-route.json")).await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn merchant_route_without_an_api_key_is_unauthorized() {
    let (deps, _dir) = embedded_deps().await;

    let answer = http::invoke(app(deps), &fixture("no-api-key.json")).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"]["code"], "unauthorized");
}

/// `fixture` as a request `method path` with `body`, bearing `key`.
fn request(fixture_text: &str, method: &str, path: &str, key: &str, body: Value) -> String {
    let mut event: Value = serde_json::from_str(fixture_text).expect("an event");
    let text = body.to_string();
    event["routeKey"] = json!("ANY /v1/{proxy+}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"]["authorization"] = json!(format!("Bearer {key}"));
    event["headers"]["content-type"] = json!("application/json");
    event["headers"]["content-length"] = json!(text.len().to_string());
    event["body"] = json!(text);
    event.to_string()
}

#[tokio::test]
async fn without_a_configured_public_url_links_use_the_api_domain_never_loopback() {
    let (deps, _dir) = fixtures::embedded_deps_without_public_url().await;
    let app = app(deps);
    let base = fixture("healthz.json");
    let admin = fixtures::admin_key();

    let created = http::invoke(
        app.clone(),
        &request(
            &base,
            "POST",
            "/v1/admin/merchants",
            admin,
            json!({"name": "Farmacia"}),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let merchant = created.json()["id"].as_str().expect("id").to_owned();
    let keyed = http::invoke(
        app.clone(),
        &request(
            &base,
            "POST",
            &format!("/v1/admin/merchants/{merchant}/api-keys"),
            admin,
            json!({}),
        ),
    )
    .await;
    assert_eq!(keyed.status, StatusCode::CREATED, "{}", keyed.text());
    let key = keyed.json()["api_key"].as_str().expect("key").to_owned();

    let saved = http::invoke(
        app,
        &request(
            &base,
            "PUT",
            "/v1/settings/payments",
            &key,
            json!({"provider": "stripe", "secret_key": "sk_test_51Hx", "webhook_secret": "whsec_test"}),
        ),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(
        saved.json()["callback_url"],
        format!(
            "https://k3x9pd2m4q.execute-api.us-east-1.amazonaws.com/webhooks/payments/stripe?m={merchant}"
        )
    );
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
