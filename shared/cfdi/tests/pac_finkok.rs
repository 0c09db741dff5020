//! The Finkok adapter against a fake Finkok speaking its SOAP: `stamp`, the 307 recovery through
//! `stamped`, incidences, faults and `cancel`.

mod pac_support;
use pac_support as support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use mostrador_cfdi::pac::finkok::{Finkok, FinkokCancelCsd, CANCEL_PATH, STAMP_PATH};
use mostrador_cfdi::pac::{CancelRequest, CancelStatus, Pac, PacError};
use std::time::Duration;
use support::{finkok_cancel_answer, finkok_request_xml, finkok_stamp_answer, Tfd, SEALED};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const UUID: &str = "AF124DC7-BD75-5EFF-8EDF-28C1E7D43B1D";
const SUBSTITUTE: &str = "4738AA21-ED8E-57D4-91D9-5D14F232FD1B";

fn finkok(server: &MockServer) -> Finkok {
    Finkok::new(reqwest::Client::new(), "pac@farmacia.mx", "s3cr3t&<pw>")
        .with_base_url(server.uri())
}

fn soap(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "text/xml; charset=utf-8")
}

async fn mount_op(server: &MockServer, op: &str, answer: String, times: u64) {
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .and(body_string_contains(format!("<stamp:{op}>")))
        .respond_with(soap(answer))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn stamp_sends_the_sealed_cfdi_in_base64_and_returns_its_tfd() {
    let server = MockServer::start().await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .and(header("content-type", "text/xml; charset=utf-8"))
        .and(body_string_contains("<stamp:stamp>"))
        .and(body_string_contains(
            "<stamp:username>pac@farmacia.mx</stamp:username>",
        ))
        .and(body_string_contains(
            "<stamp:password>s3cr3t&amp;&lt;pw&gt;</stamp:password>",
        ))
        .respond_with(soap(finkok_stamp_answer(
            "stamp",
            Some(&stamped),
            Some(UUID),
            &[],
        )))
        .expect(1)
        .mount(&server)
        .await;

    let stamp = finkok(&server).stamp(SEALED).await.expect("stamped");

    assert_eq!(stamp.uuid, UUID);
    assert_eq!(stamp.xml, stamped);
    assert_eq!(stamp.fecha_timbrado, "2026-11-20T10:30:14");
    assert_eq!(stamp.no_certificado_sat, "30001000000500003456");
    assert_eq!(stamp.rfc_prov_certif, "CVD110412TF6");
    assert!(stamp.sello_sat.starts_with("T/p8LJjDW638"));
    assert!(!stamp.already_stamped);
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(finkok_request_xml(&requests[0].body), SEALED);
}

#[tokio::test]
async fn a_previous_stamp_307_is_recovered_through_stamped() {
    let server = MockServer::start().await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    let previous = [("307", "El CFDI contiene un timbre previo")];
    mount_op(
        &server,
        "stamp",
        finkok_stamp_answer("stamp", None, None, &previous),
        1,
    )
    .await;
    mount_op(
        &server,
        "stamped",
        finkok_stamp_answer("stamped", Some(&stamped), Some(UUID), &[]),
        1,
    )
    .await;

    let stamp = finkok(&server).stamp(SEALED).await.expect("recovered");

    assert!(stamp.already_stamped);
    assert_eq!(stamp.uuid, UUID);
    assert_eq!(stamp.xml, stamped);
}

#[tokio::test]
async fn a_previous_stamp_returned_with_the_307_needs_no_second_call() {
    let server = MockServer::start().await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    let previous = [("307", "El CFDI contiene un timbre previo")];
    mount_op(
        &server,
        "stamp",
        finkok_stamp_answer("stamp", Some(&stamped), Some(UUID), &previous),
        1,
    )
    .await;
    mount_op(&server, "stamped", String::new(), 0).await;

    let stamp = finkok(&server).stamp(SEALED).await.expect("recovered");

    assert!(stamp.already_stamped);
    assert_eq!(stamp.uuid, UUID);
}

#[tokio::test]
async fn a_recovered_stamp_of_another_document_is_never_adopted() {
    let server = MockServer::start().await;
    let mut other = Tfd::for_sealed(SEALED, UUID);
    other.sello_cfd = "b3RybyBkb2N1bWVudG8=".into();
    let previous = [("307", "El CFDI contiene un timbre previo")];
    mount_op(
        &server,
        "stamp",
        finkok_stamp_answer("stamp", None, None, &previous),
        1,
    )
    .await;
    mount_op(
        &server,
        "stamped",
        finkok_stamp_answer("stamped", Some(&other.stamp(SEALED)), Some(UUID), &[]),
        1,
    )
    .await;

    let error = finkok(&server).stamp(SEALED).await.expect_err("not ours");

    assert!(
        matches!(error, PacError::Malformed(ref m) if m.contains("another document")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stamp_finkok_cannot_return_yet_is_retried_later() {
    let server = MockServer::start().await;
    let previous = [("307", "El CFDI contiene un timbre previo")];
    let not_yet = [("603", "El CFDI no contiene un timbre previo")];
    mount_op(
        &server,
        "stamp",
        finkok_stamp_answer("stamp", None, None, &previous),
        1,
    )
    .await;
    mount_op(
        &server,
        "stamped",
        finkok_stamp_answer("stamped", None, None, &not_yet),
        1,
    )
    .await;

    let error = finkok(&server).stamp(SEALED).await.expect_err("not yet");

    assert!(matches!(error, PacError::Unavailable(_)), "{error:?}");
    assert!(error.retryable());
}

#[tokio::test]
async fn validation_incidences_are_permanent_rejections_with_their_codes() {
    for (code, message) in [
        ("705", "XML estructura inválida"),
        (
            "CFDI40108",
            "El TipoDeComprobante es E, I o N, el importe registrado en el campo no es igual a la suma de los importes de los conceptos registrados.",
        ),
    ] {
        let server = MockServer::start().await;
        mount_op(&server, "stamp", finkok_stamp_answer("stamp", None, None, &[(code, message)]), 1).await;

        let error = finkok(&server).stamp(SEALED).await.expect_err("rejected");

        assert_eq!(
            error,
            PacError::Rejected {
                code: code.into(),
                message: message.into()
            }
        );
        assert!(!error.retryable());
    }
}

#[tokio::test]
async fn refused_credentials_and_suspended_accounts_are_not_retried() {
    let server = MockServer::start().await;
    mount_op(
        &server,
        "stamp",
        finkok_stamp_answer(
            "stamp",
            None,
            None,
            &[("300", "Usuario y contraseña inválidos")],
        ),
        1,
    )
    .await;
    let error = finkok(&server).stamp(SEALED).await.expect_err("auth");
    assert!(matches!(error, PacError::Auth(_)), "{error:?}");
    assert!(!error.retryable());

    let server = MockServer::start().await;
    mount_op(
        &server,
        "stamp",
        finkok_stamp_answer("stamp", None, None, &[("703", "Cuenta suspendida")]),
        1,
    )
    .await;
    let error = finkok(&server).stamp(SEALED).await.expect_err("account");
    assert!(matches!(error, PacError::Account(_)), "{error:?}");
}

#[tokio::test]
async fn sat_outages_server_faults_and_timeouts_are_retryable() {
    let server = MockServer::start().await;
    mount_op(
        &server,
        "stamp",
        finkok_stamp_answer(
            "stamp",
            None,
            None,
            &[("708", "No se pudo conectar al SAT")],
        ),
        1,
    )
    .await;
    let error = finkok(&server).stamp(SEALED).await.expect_err("sat down");
    assert!(matches!(error, PacError::Unavailable(_)), "{error:?}");

    let server = MockServer::start().await;
    let fault = "<?xml version='1.0' encoding='UTF-8'?>\n<senv:Envelope xmlns:senv=\"http://schemas.xmlsoap.org/soap/envelope/\">\
                 <senv:Body><senv:Fault><faultcode>senv:Server</faultcode><faultstring>'NoneType' object has no attribute 'date'</faultstring>\
                 <faultactor></faultactor></senv:Fault></senv:Body></senv:Envelope>";
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_raw(fault, "text/xml"))
        .mount(&server)
        .await;
    let error = finkok(&server).stamp(SEALED).await.expect_err("fault");
    assert!(
        matches!(error, PacError::Unavailable(ref m) if m.contains("NoneType")),
        "{error:?}"
    );
    assert!(error.retryable());

    let server = MockServer::start().await;
    let stamped = Tfd::for_sealed(SEALED, UUID).stamp(SEALED);
    Mock::given(method("POST"))
        .and(path(STAMP_PATH))
        .respond_with(
            soap(finkok_stamp_answer(
                "stamp",
                Some(&stamped),
                Some(UUID),
                &[],
            ))
            .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let error = finkok(&server)
        .with_timeout(Duration::from_millis(200))
        .stamp(SEALED)
        .await
        .expect_err("timeout");
    assert!(matches!(error, PacError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn unreadable_answers_are_errors_not_panics() {
    for body in [
        "<html><body>Bad gateway</body></html>".to_owned(),
        "not xml at all".to_owned(),
        finkok_stamp_answer("stamp", None, None, &[]),
        finkok_stamp_answer("stamp", Some("<cfdi:Comprobante/>"), Some(UUID), &[]),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(STAMP_PATH))
            .respond_with(soap(body))
            .mount(&server)
            .await;
        let error = finkok(&server).stamp(SEALED).await.expect_err("unreadable");
        assert!(matches!(error, PacError::Malformed(_)), "{error:?}");
    }
}

#[tokio::test]
async fn an_unsealed_document_is_not_sent() {
    let server = MockServer::start().await;
    mount_op(&server, "stamp", String::new(), 0).await;
    let unsealed = SEALED.replacen(&support::sello(SEALED), "", 1);
    let error = finkok(&server)
        .stamp(&unsealed)
        .await
        .expect_err("unsealed");
    assert!(matches!(error, PacError::InvalidRequest(_)), "{error:?}");
}

fn csd() -> FinkokCancelCsd {
    FinkokCancelCsd {
        certificate_pem: "-----BEGIN CERTIFICATE-----\nMIIFsDCCA5ig\n-----END CERTIFICATE-----\n".into(),
        encrypted_key_pem: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkq\n-----END ENCRYPTED PRIVATE KEY-----\n".into(),
    }
}

#[tokio::test]
async fn cancel_with_substitution_sends_motive_01_the_substitute_and_the_csd() {
    let server = MockServer::start().await;
    let cer_b64 = BASE64.encode(csd().certificate_pem);
    let key_b64 = BASE64.encode(csd().encrypted_key_pem);
    Mock::given(method("POST"))
        .and(path(CANCEL_PATH))
        .and(body_string_contains("<can:cancel>"))
        .and(body_string_contains(format!(
            "<apps:UUID UUID=\"{UUID}\" Motivo=\"01\" FolioSustitucion=\"{SUBSTITUTE}\"/>"
        )))
        .and(body_string_contains(
            "<can:taxpayer_id>EKU9003173C9</can:taxpayer_id>",
        ))
        .and(body_string_contains(format!(
            "<can:cer>{cer_b64}</can:cer>"
        )))
        .and(body_string_contains(format!(
            "<can:key>{key_b64}</can:key>"
        )))
        .respond_with(soap(finkok_cancel_answer(
            UUID,
            "201",
            "Cancelado sin aceptación",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let request = CancelRequest::new(
        UUID,
        "EKU9003173C9",
        "XIA190128J61",
        "116.00",
        "01",
        Some(SUBSTITUTE),
    )
    .expect("request");

    let outcome = finkok(&server)
        .with_cancel_csd(csd())
        .cancel(&request)
        .await
        .expect("cancelled");

    assert_eq!(outcome.status, CancelStatus::Accepted);
    assert_eq!(outcome.code, "201");
    assert!(outcome
        .acuse
        .as_deref()
        .is_some_and(|a| a.contains("CancelaCFDResponse")));
}

#[tokio::test]
async fn cancel_answers_map_to_in_process_previously_cancelled_and_not_cancelable() {
    let cases = [
        ("201", "En proceso", CancelStatus::InProcess),
        (
            "201",
            "Petición de cancelación realizada exitosamente",
            CancelStatus::InProcess,
        ),
        ("202", "", CancelStatus::Accepted),
        ("no_cancelable", "", CancelStatus::Rejected),
    ];
    for (code, words, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(CANCEL_PATH))
            .and(body_string_contains("Motivo=\"02\" FolioSustitucion=\"\""))
            .respond_with(soap(finkok_cancel_answer(UUID, code, words)))
            .mount(&server)
            .await;
        let request =
            CancelRequest::new(UUID, "EKU9003173C9", "XIA190128J61", "25000.00", "02", None)
                .expect("request");
        let outcome = finkok(&server)
            .with_cancel_csd(csd())
            .cancel(&request)
            .await
            .expect("answer");
        assert_eq!(outcome.status, expected, "{code} {words}");
        assert_eq!(outcome.code, code);
    }
}

#[tokio::test]
async fn cancel_with_refused_credentials_is_an_auth_error() {
    let server = MockServer::start().await;
    // Finkok's real answer: only CodEstatus, no folios.
    let answer = "<?xml version='1.0' encoding='UTF-8'?>\n<senv:Envelope xmlns:s0=\"apps.services.soap.core.views\" \
                  xmlns:senv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tns=\"http://facturacion.finkok.com/cancel\">\
                  <senv:Body><tns:cancelResponse><tns:cancelResult><s0:CodEstatus>Invalid Username or Password</s0:CodEstatus>\
                  </tns:cancelResult></tns:cancelResponse></senv:Body></senv:Envelope>";
    Mock::given(method("POST"))
        .and(path(CANCEL_PATH))
        .respond_with(soap(answer.to_owned()))
        .mount(&server)
        .await;
    let request = CancelRequest::new(UUID, "EKU9003173C9", "XIA190128J61", "116.00", "03", None)
        .expect("request");

    let error = finkok(&server)
        .with_cancel_csd(csd())
        .cancel(&request)
        .await
        .expect_err("auth");

    assert!(matches!(error, PacError::Auth(_)), "{error:?}");
}

#[tokio::test]
async fn cancel_without_the_csd_is_refused_before_calling_finkok() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let request = CancelRequest::new(UUID, "EKU9003173C9", "XIA190128J61", "116.00", "02", None)
        .expect("request");

    let error = finkok(&server).cancel(&request).await.expect_err("no csd");

    assert!(matches!(error, PacError::InvalidRequest(_)), "{error:?}");
}
