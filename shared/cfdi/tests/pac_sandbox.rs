//! The offline sandbox PAC: a TFD 1.1 that follows the schema, clearly non-fiscal, verifiable with
//! the sandbox's key, and the same stamp for a retried document.

mod pac_support;
use pac_support as support;

use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use mostrador_cfdi::pac::sandbox::{SandboxPac, LEYENDA, NO_CERTIFICADO_SAT, RFC_PROV_CERTIF};
use mostrador_cfdi::pac::{CancelRequest, CancelStatus, Pac, PacError};
use mostrador_cfdi::stamped::{StampedCfdi, Timbre};
use mostrador_core::FixedClock;
use std::sync::Arc;
use support::SEALED;

/// 2026-11-20 10:45:00 in Mexico City (UTC-6): a quarter of an hour after the fixture's Fecha.
fn clock() -> FixedClock {
    FixedClock::at(
        Utc.with_ymd_and_hms(2026, 11, 20, 16, 45, 0)
            .single()
            .expect("valid instant"),
    )
}

fn sandbox(clock: &FixedClock) -> SandboxPac {
    SandboxPac::new(Arc::new(clock.clone()))
}

#[tokio::test]
async fn stamps_offline_with_a_tfd_that_follows_the_schema_and_says_it_is_not_fiscal() {
    let pac = sandbox(&clock());

    let stamp = pac.stamp(SEALED).await.expect("stamped");

    let timbre = Timbre::from_stamped_xml(&stamp.xml).expect("tfd");
    assert_eq!(timbre.version, "1.1");
    assert_eq!(timbre.uuid, stamp.uuid);
    let uuid = uuid::Uuid::parse_str(&timbre.uuid).expect("uuid");
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(timbre.fecha_timbrado, "2026-11-20T10:45:00");
    assert_eq!(timbre.rfc_prov_certif, RFC_PROV_CERTIF);
    assert_eq!(timbre.leyenda.as_deref(), Some(LEYENDA));
    assert!(LEYENDA.contains("sin validez fiscal"));
    assert_eq!(timbre.sello_cfd, support::sello(SEALED));
    assert_eq!(timbre.no_certificado_sat, NO_CERTIFICADO_SAT);
    assert_eq!(NO_CERTIFICADO_SAT.len(), 20);
    assert!(timbre.is_sandbox());
    // Schema facets of TimbreFiscalDigitalv11.xsd / tdCFDI.xsd.
    assert_eq!(timbre.uuid.len(), 36);
    assert!(timbre
        .no_certificado_sat
        .bytes()
        .all(|b| b.is_ascii_digit()));
    assert_eq!(timbre.rfc_prov_certif.len(), 12);

    // SelloSAT is RSA-SHA256 over the TFD's cadena original, with the sandbox's key.
    let signature = BASE64.decode(&timbre.sello_sat).expect("base64");
    let public_key = pac.public_key_der().expect("key");
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(timbre.cadena_original().as_bytes(), &signature)
        .expect("SelloSAT verifies");
    assert_eq!(
        timbre.cadena_original(),
        format!(
            "||1.1|{}|2026-11-20T10:45:00|{RFC_PROV_CERTIF}|{LEYENDA}|{}|{NO_CERTIFICADO_SAT}||",
            timbre.uuid, timbre.sello_cfd
        )
    );

    // The sealed bytes are untouched: the stamp only adds the complement.
    let complement_at = stamp.xml.find("<cfdi:Complemento>").expect("complement");
    let closing = "</cfdi:Complemento>";
    let end = stamp.xml.find(closing).expect("end of complement") + closing.len();
    assert_eq!(
        format!("{}{}", &stamp.xml[..complement_at], &stamp.xml[end..]),
        SEALED
    );

    // And the whole CFDI reads back.
    let cfdi = StampedCfdi::parse(&stamp.xml).expect("stamped CFDI");
    assert_eq!(cfdi.total, "116.00");
    assert!(cfdi.is_sandbox());
}

#[tokio::test]
async fn a_retried_document_gets_the_same_stamp_never_a_second_uuid() {
    let clock = clock();
    let pac = sandbox(&clock);

    let first = pac.stamp(SEALED).await.expect("first");
    clock.advance(ChronoDuration::minutes(5));
    let second = pac.stamp(SEALED).await.expect("retry");

    assert!(!first.already_stamped);
    assert!(second.already_stamped);
    assert_eq!(second.uuid, first.uuid);
    assert_eq!(second.xml, first.xml);
    assert_eq!(second.fecha_timbrado, first.fecha_timbrado);

    // A new process stamps it with the same UUID too (derived from the Sello).
    let restarted = sandbox(&clock)
        .stamp(SEALED)
        .await
        .expect("after a restart");
    assert_eq!(restarted.uuid, first.uuid);
}

#[tokio::test]
async fn different_documents_get_different_uuids() {
    let pac = sandbox(&clock());
    let sello = support::sello(SEALED);
    let other = SEALED.replacen(&sello, &format!("{}AAAA", &sello[..sello.len() - 4]), 1);

    let a = pac.stamp(SEALED).await.expect("a");
    let b = pac.stamp(&other).await.expect("b");

    assert_ne!(a.uuid, b.uuid);
}

#[tokio::test]
async fn the_tfd_goes_into_an_existing_complement_and_before_an_addenda() {
    let pac = sandbox(&clock());
    let with_complement = SEALED.replacen(
        "</cfdi:Comprobante>",
        "<cfdi:Complemento><otro:Nodo xmlns:otro=\"urn:otro\"/></cfdi:Complemento></cfdi:Comprobante>",
        1,
    );
    let stamp = pac.stamp(&with_complement).await.expect("stamped");
    assert!(stamp
        .xml
        .contains("<otro:Nodo xmlns:otro=\"urn:otro\"/><tfd:TimbreFiscalDigital"));
    assert_eq!(stamp.xml.matches("<cfdi:Complemento>").count(), 1);

    let pac = sandbox(&clock());
    let with_addenda = SEALED.replacen(
        "</cfdi:Comprobante>",
        "<cfdi:Addenda><pedido>ORD-1A2B3C</pedido></cfdi:Addenda></cfdi:Comprobante>",
        1,
    );
    let stamp = pac.stamp(&with_addenda).await.expect("stamped");
    let complement = stamp.xml.find("<cfdi:Complemento>").expect("complement");
    let addenda = stamp.xml.find("<cfdi:Addenda>").expect("addenda");
    assert!(complement < addenda);
    StampedCfdi::parse(&stamp.xml).expect("reads back");
}

#[tokio::test]
async fn documents_a_pac_would_refuse_are_refused() {
    let clock = clock();
    let pac = sandbox(&clock);
    let stamped = pac.stamp(SEALED).await.expect("stamped").xml;

    let twice = pac.stamp(&stamped).await.expect_err("already has a TFD");
    assert!(
        matches!(twice, PacError::Rejected { ref code, .. } if code == "707"),
        "{twice:?}"
    );

    let garbage = pac.stamp("<cfdi:Comprobante").await.expect_err("not XML");
    assert!(
        matches!(garbage, PacError::Rejected { ref code, .. } if code == "301"),
        "{garbage:?}"
    );

    clock.advance(ChronoDuration::hours(80));
    let stale = sandbox(&clock).stamp(SEALED).await.expect_err("too old");
    assert!(
        matches!(stale, PacError::Rejected { ref code, .. } if code == "401"),
        "{stale:?}"
    );
}

#[tokio::test]
async fn cancellation_follows_sat_acceptance_rules() {
    let pac = sandbox(&clock());
    let uuid = pac.stamp(SEALED).await.expect("stamped").uuid;

    let small = CancelRequest::new(&uuid, "EKU9003173C9", "XIA190128J61", "116.00", "02", None)
        .expect("request");
    let outcome = pac.cancel(&small).await.expect("cancelled");
    assert_eq!(outcome.status, CancelStatus::Accepted);
    assert_eq!(outcome.code, "201");

    let again = pac.cancel(&small).await.expect("again");
    assert_eq!(
        (again.status, again.code.as_str()),
        (CancelStatus::Accepted, "202")
    );

    let big = CancelRequest::new(
        "11111111-2222-4333-8444-000000000001",
        "EKU9003173C9",
        "XIA190128J61",
        "1000.01",
        "03",
        None,
    )
    .expect("request");
    assert_eq!(
        pac.cancel(&big).await.expect("pending").status,
        CancelStatus::InProcess
    );

    let public = CancelRequest::new(
        "11111111-2222-4333-8444-000000000002",
        "EKU9003173C9",
        "XAXX010101000",
        "25000.00",
        "04",
        None,
    )
    .expect("request");
    assert_eq!(
        pac.cancel(&public).await.expect("global").status,
        CancelStatus::Accepted
    );
}
