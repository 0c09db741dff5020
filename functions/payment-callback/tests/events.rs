//! The fixtures of `events/payment-callback/` through the function's router, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;
#[path = "../../testkit/http.rs"]
mod http;

use axum::http::StatusCode;
use fixtures::{embedded_deps, fixture};
use payment_callback::app;

#[tokio::test]
async fn callback_from_an_unknown_provider_is_a_json_404() {
    let (deps, _dir) = embedded_deps().await;

    let answer = http::invoke(app(deps), &fixture("unknown-provider.json")).await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let error = &answer.json()["error"];
    assert_eq!(error["code"], "not_found");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("acmepay")),
        "{error}"
    );
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
