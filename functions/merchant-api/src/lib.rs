//! merchant-api: `/v1/...` (merchant and platform admin routes), `GET /l/{code}` and `GET /healthz`
//! behind API Gateway (HTTP API, payload format 2.0).

use mostrador_app::Deps;

/// The function's HTTP service: the app's merchant API router.
pub fn app(deps: Deps) -> axum::Router {
    mostrador_app::entry::http::merchant_api(deps)
}
