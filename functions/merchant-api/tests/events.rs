//! The fixtures of `events/merchant-api/` through the function's router, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;
#[path = "../../testkit/http.rs"]
mod http;

use axum::http::StatusCode;
use fixtures::{embedded_deps, fixture};
use merchant_api::app;

#[tokio::test]
async fn health_check_answers_ok() {
    let (deps, _dir) = embedded_deps();

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
    let (deps, _dir) = embedded_deps();

    let answer = http::invoke(app(deps), &fixture("unknown-route.json")).await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn merchant_route_without_an_api_key_is_unauthorized() {
    let (deps, _dir) = embedded_deps();

    let answer = http::invoke(app(deps), &fixture("no-api-key.json")).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"]["code"], "unauthorized");
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
