//! webhook-ingest: `GET|POST /webhooks/whatsapp` behind API Gateway (HTTP API, payload format 2.0).
//! Meta's verification handshake, and signed deliveries put on the inbound queue once per wamid.

use mostrador_app::Deps;

/// The function's HTTP service: the app's WhatsApp webhook router.
pub fn app(deps: Deps) -> axum::Router {
    mostrador_app::entry::http::whatsapp_webhook(deps)
}
