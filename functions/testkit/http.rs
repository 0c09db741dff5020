//! Drives an HTTP function's router with an API Gateway v2 event, as the Lambda runtime would, for
//! the `tests/events.rs` of the HTTP functions (`#[path = "../../testkit/http.rs"] mod http;`).

use axum::http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// What the function answered.
pub struct Answer {
    pub status: StatusCode,
    #[allow(dead_code)] // read by some functions' tests only
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("a JSON body ({e}): {}", self.text()))
    }
}

/// Converts `event` (API Gateway HTTP API payload 2.0) into a request and sends it through `router`.
pub async fn invoke(router: axum::Router, event: &str) -> Answer {
    let request = lambda_http::request::from_str(event).expect("an API Gateway v2 event");
    let response = router
        .oneshot(request)
        .await
        .expect("the router never fails");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the response body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}
