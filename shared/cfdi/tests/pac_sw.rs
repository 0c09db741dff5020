//! The SW Sapien adapter against a fake SW speaking its REST/JSON API: token caching and renewal,
//! multipart stamping, 307 recovery, SW's error envelope and cancellation by UUID.

mod pac_support;
use pac_support as support;

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use mostrador_cfdi::pac::sw::{Sw, SwCredentials, AUTH_PATH, STAMP_PATH};
use mostrador_cfdi::pac::{CancelRequest, CancelStatus, Pac, PacError};
use mostrador_core::FixedClock;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::{Tfd, SEALED};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const UUID: &str = "05C519DE-6D20-4258-88FB-C69A5970E927";

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 16, 30, 0)
        .single()
        .expect("valid instant")
}

fn sw(server: &MockServer, clock: &FixedClock) -> Sw {
    Sw::new(
        reqwest::Client::new(),
        SwCredentials::User {
            user: "pac@farmacia.mx".into(),
            password: "s3cr3t".into(),
        },
    )
    .with_base_url(server.uri())
    .with_clock(Arc::new(clock.clone()))
}

/// SW's answer to `/security/authenticate` (expires_in is a Unix time).
fn token_answer(token: &str, expires_at: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "data": {"token": token, "expires_in": expires_at, "tokeny_type": "Bearer"},
        "status": "success"
    }))
}

/// SW's stamp v4 success answer for `stamped`.
fn stamp_answer(stamped: &str, uuid: &str) -> serde_json::Value {
    json!({
        "data": {
            "cadenaOriginalSAT": format!("||1.1|{uuid}|2026-11-20T10:30:14|SPR190613I52|…|30001000000500003456||"),
            "noCertificadoSAT": "30001000000500003456",
            "noCertificadoCFDI": "30001000000500003416",
            "uuid": uuid.to_lowercase(),
            "selloSAT": "T/p8LJjDW638NrIyF90SwxdYaIUqNNOvYE4hkots",
            "selloCFDI": support::sello(SEALED),
            "fechaTimbrado": "2026-11-20T10:30:14",
            "qrCode": "iVBORw0KGgo=",
            "cfdi": stamped
        },
        "status": "success"
    })
}

async fn mount_token(server: &MockServer, token: &str, expires_at: i64, times: u64) {
    Mock::given(method("POST"))
        .and(path(AUTH_PATH))
        .and(header("user", "pac@farmacia.mx"))
        .and(header("password", "s3cr3t"))
        .respond_with(token_answer(token, expires_at))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn stamps_with_a_cached_token_and_the_xml_as_multipart_file() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    mount_token(&server, "T2lYQ0t4L0RH", start().timestamp() + 7200, 1).await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .and(header("authorization", "Bearer T2lYQ0t4L0RH"))
        .and(body_string_contains("name=\"xml\""))
        .and(body_string_contains("Refresco de cola 600 ml"))
        .respond_with(ResponseTemplate::new(200).set_body_json(stamp_answer(&stamped, UUID)))
        .expect(2)
        .mount(&server)
        .await;
    let pac = sw(&server, &clock);

    let first = pac.stamp(SEALED).await.expect("stamped");
    clock.advance(ChronoDuration::minutes(30));
    let second = pac.stamp(SEALED).await.expect("stamped again");

    assert_eq!(first.uuid, UUID);
    assert_eq!(first.xml, stamped);
    assert_eq!(first.rfc_prov_certif, "CVD110412TF6");
    assert!(!first.already_stamped);
    assert_eq!(second.uuid, UUID);
    let requests = server.received_requests().await.unwrap_or_default();
    let content_type = requests
        .iter()
        .find(|r| r.url.path() == STAMP_PATH)
        .and_then(|r| r.headers.get("content-type"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
}

#[tokio::test]
async fn a_token_refused_with_401_is_renewed_once() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    let expires = start().timestamp() + 7200;
    Mock::given(method("POST"))
        .and(path(AUTH_PATH))
        .respond_with(token_answer("old-token", expires))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(AUTH_PATH))
        .respond_with(token_answer("new-token", expires))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .and(header("authorization", "Bearer old-token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "AU4101 - El token proporcionado no es válido", "messageDetail": null, "data": null, "status": "error"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .and(header("authorization", "Bearer new-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(stamp_answer(&stamped, UUID)))
        .expect(1)
        .mount(&server)
        .await;

    let stamp = sw(&server, &clock)
        .stamp(SEALED)
        .await
        .expect("stamped after renewal");

    assert_eq!(stamp.uuid, UUID);
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    mount_token(&server, "short-lived", start().timestamp() + 3600, 2).await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(stamp_answer(&stamped, UUID)))
        .expect(2)
        .mount(&server)
        .await;
    let pac = sw(&server, &clock);

    pac.stamp(SEALED).await.expect("first");
    clock.advance(ChronoDuration::minutes(59));
    pac.stamp(SEALED).await.expect("second, with a new token");
}

#[tokio::test]
async fn a_previous_stamp_307_is_recovered_from_the_answer() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    let mut answer = stamp_answer(&stamped, UUID);
    answer["status"] = json!("error");
    answer["message"] = json!("307. El comprobante contiene un timbre previo.");
    answer["messageDetail"] = json!(null);
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(answer))
        .mount(&server)
        .await;

    let stamp = sw(&server, &clock).stamp(SEALED).await.expect("recovered");

    assert!(stamp.already_stamped);
    assert_eq!(stamp.uuid, UUID);
    assert_eq!(stamp.xml, stamped);
}

#[tokio::test]
async fn a_duplicate_stamp_of_another_document_is_rejected_not_adopted() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
    let mut other = Tfd::for_sealed(SEALED, UUID);
    other.sello_cfd = "b3RybyBkb2N1bWVudG8=".into();
    let mut answer = stamp_answer(&other.stamp(SEALED), UUID);
    answer["status"] = json!("error");
    answer["message"] =
        json!("CFDI3307 - Timbre duplicado. El customId proporcionado está duplicado.");
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(answer))
        .mount(&server)
        .await;

    let error = sw(&server, &clock)
        .stamp(SEALED)
        .await
        .expect_err("not ours");

    assert!(
        matches!(error, PacError::Rejected { ref code, .. } if code == "CFDI3307"),
        "{error:?}"
    );
    assert!(!error.retryable());
}

#[tokio::test]
async fn sat_validation_errors_keep_the_code_and_the_detail() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "CFDI40108 - El TipoDeComprobante es E, I o N, el importe registrado en el campo no es igual a la suma de los importes de los conceptos registrados.",
            "messageDetail": "SubTotal 100.00 vs 100.01",
            "data": null,
            "status": "error"
        })))
        .mount(&server)
        .await;

    let error = sw(&server, &clock)
        .stamp(SEALED)
        .await
        .expect_err("rejected");

    match error {
        PacError::Rejected { code, message } => {
            assert_eq!(code, "CFDI40108");
            assert!(message.contains("suma de los importes"));
            assert!(message.contains("SubTotal 100.00 vs 100.01"));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    Mock::given(method("POST"))
        .and(path(AUTH_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "AU2000 - El usuario y/o contraseña son inválidos, no se puede autenticar el servicio.",
            "messageDetail": null, "data": null, "status": "error"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;

    let error = sw(&server, &clock).stamp(SEALED).await.expect_err("auth");

    assert!(
        matches!(error, PacError::Auth(ref m) if m.contains("AU2000")),
        "{error:?}"
    );
    assert!(!error.retryable());
}

#[tokio::test]
async fn a_refused_fixed_token_is_an_auth_error_without_authenticating() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTH_PATH))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .and(header("authorization", "Bearer infinite"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let pac = Sw::new(
        reqwest::Client::new(),
        SwCredentials::Token("infinite".into()),
    )
    .with_base_url(server.uri());

    let error = pac.stamp(SEALED).await.expect_err("auth");

    assert!(matches!(error, PacError::Auth(_)), "{error:?}");
}

#[tokio::test]
async fn outages_timeouts_and_uncontrolled_errors_are_retryable() {
    let clock = FixedClock::at(start());
    for response in [
        ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
        ResponseTemplate::new(500)
            .set_body_json(json!({"message": "CO1000 - Error no controlado", "status": "error"})),
        ResponseTemplate::new(400)
            .set_body_json(json!({"message": "CO1000 - Error no controlado", "status": "error"})),
    ] {
        let server = MockServer::start().await;
        mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
        Mock::given(method("POST"))
            .and(path(STAMP_PATH))
            .respond_with(response)
            .mount(&server)
            .await;
        let error = sw(&server, &clock).stamp(SEALED).await.expect_err("down");
        assert!(matches!(error, PacError::Unavailable(_)), "{error:?}");
        assert!(error.retryable());
    }

    let server = MockServer::start().await;
    mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let error = sw(&server, &clock)
        .with_timeout(Duration::from_millis(200))
        .stamp(SEALED)
        .await
        .expect_err("timeout");
    assert!(matches!(error, PacError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn unreadable_answers_are_errors_not_panics() {
    let clock = FixedClock::at(start());
    for response in [
        ResponseTemplate::new(200).set_body_string("{not json"),
        ResponseTemplate::new(200).set_body_json(json!({"status": "success", "data": {}})),
        ResponseTemplate::new(200)
            .set_body_json(json!({"status": "success", "data": {"cfdi": "<xml"}})),
    ] {
        let server = MockServer::start().await;
        mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
        Mock::given(method("POST"))
            .and(path(STAMP_PATH))
            .respond_with(response)
            .mount(&server)
            .await;
        let error = sw(&server, &clock)
            .stamp(SEALED)
            .await
            .expect_err("unreadable");
        assert!(matches!(error, PacError::Malformed(_)), "{error:?}");
    }
}

#[tokio::test]
async fn cancel_by_uuid_puts_rfc_uuid_motive_and_substitute_in_the_path() {
    let substitute = "4738AA21-ED8E-57D4-91D9-5D14F232FD1B";
    let cases = [
        ("01", Some(substitute), "201", CancelStatus::InProcess),
        ("02", None, "202", CancelStatus::Accepted),
        ("04", None, "no_cancelable", CancelStatus::Rejected),
    ];
    for (motivo, folio, code, expected) in cases {
        let server = MockServer::start().await;
        let clock = FixedClock::at(start());
        mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
        let expected_path = match folio {
            Some(f) => format!("/cfdi33/cancel/EKU9003173C9/{UUID}/{motivo}/{f}"),
            None => format!("/cfdi33/cancel/EKU9003173C9/{UUID}/{motivo}"),
        };
        Mock::given(method("POST"))
            .and(path(expected_path.as_str()))
            .and(header("authorization", "Bearer tok"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": {
                    "acuse": "<?xml version=\"1.0\" encoding=\"utf-8\"?><Acuse Fecha=\"2026-11-21T02:49:35\" RfcEmisor=\"EKU9003173C9\"/>",
                    "uuid": {UUID: code}
                },
                "status": "success"
            })))
            .expect(1)
            .mount(&server)
            .await;
        let request = CancelRequest::new(
            &UUID.to_lowercase(),
            "EKU9003173C9",
            "XIA190128J61",
            "25000.00",
            motivo,
            folio,
        )
        .expect("request");

        let outcome = sw(&server, &clock).cancel(&request).await.expect("answer");

        assert_eq!(outcome.status, expected, "{motivo} {code}");
        assert_eq!(outcome.code, code);
        assert!(outcome.acuse.is_some());
    }
}

#[tokio::test]
async fn cancel_errors_are_sorted_like_stamp_errors() {
    let server = MockServer::start().await;
    let clock = FixedClock::at(start());
    mount_token(&server, "tok", start().timestamp() + 7200, 1).await;
    Mock::given(method("POST"))
        .and(path_regex("^/cfdi33/cancel/"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "CACFDI33-205 - UUID no encontrado",
            "messageDetail": null, "data": null, "status": "error"
        })))
        .mount(&server)
        .await;
    let request = CancelRequest::new(UUID, "EKU9003173C9", "XIA190128J61", "116.00", "02", None)
        .expect("request");

    let error = sw(&server, &clock)
        .cancel(&request)
        .await
        .expect_err("refused");

    assert!(matches!(error, PacError::Rejected { .. }), "{error:?}");
}
