//! payment-callback: `POST /webhooks/payments/{provider}` behind API Gateway (HTTP API, payload
//! format 2.0).

use mostrador_app::Deps;

/// The function's HTTP service: the app's payment callback router.
pub fn app(deps: Deps) -> axum::Router {
    mostrador_app::entry::http::payment_callbacks(deps)
}
