//! The merchant's console at `/panel`: three static files compiled into the binary and served by the
//! merchant API itself.
//!
//! Why here rather than as static assets next to the API in the SAM template: the console then has
//! the API's origin, so its session cookie is first-party and `SameSite=Strict`, no CORS is opened,
//! and every deploy ships the console together with the API version it calls. The console is a
//! client of the same `/v1` API integrators use; nothing it does is out of their reach.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::platform::Deps;

const INDEX: &str = include_str!("../../../panel/index.html");
const SCRIPT: &str = include_str!("../../../panel/app.js");
const STYLE: &str = include_str!("../../../panel/app.css");
/// Chart.js (MIT, vendored from npm: `chart.js@4.6.2`, `dist/chart.umd.min.js`, license next to
/// it): the reports' charts, drawn in the browser from the same report JSON integrators read.
/// Chosen over hand-drawn bars for axes, stacking, legends and tooltips done well; loaded only by
/// the reports page. The version is in the path, so it is cached for a year.
const CHART_JS: &str = include_str!("../../../panel/vendor/chart-4.6.2.umd.min.js");
/// Where the console loads Chart.js from.
pub const CHART_JS_PATH: &str = "/panel/vendor/chart-4.6.2.umd.min.js";

/// What the console's pages may load: only this origin (no CDN, no remote font); inline style
/// attributes for layout; no framing. Images may also come over https: a product's photo lives on
/// the merchant's own site or CDN (the URL the WhatsApp catalog shows), and an image runs nothing.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The console's routes.
pub fn routes() -> Router<Deps> {
    Router::new()
        // `/panel` itself (API Gateway's `/panel/{proxy+}` does not match `/panel/`).
        .route(
            "/panel",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/panel/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/panel/app.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/panel/app.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route(
            CHART_JS_PATH,
            get(|| async {
                let mut response = asset(CHART_JS, "text/javascript; charset=utf-8");
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                );
                response
            }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
