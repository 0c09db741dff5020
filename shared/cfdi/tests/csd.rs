//! Loading a CSD and sealing with it: SAT's public test CSD, plus self-made certificates for every
//! way a merchant's files can be wrong (validity is judged at the invoice's Fecha, never the clock).

mod common;

use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use common::certs::{self, Spec};
use common::{
    fecha, fixture_cer, fixture_csd, fixture_key, header, pago_tarjeta, receptor_fisica,
    typical_order, FIXTURE_PASSWORD,
};
use mostrador_cfdi::{Comprobante, Csd, CsdError, SealError};
use x509_cert::der::Decode;

fn invoice_at(f: chrono::NaiveDateTime) -> Comprobante {
    let mut h = header();
    h.fecha = f;
    Comprobante::ingreso(&h, receptor_fisica(), pago_tarjeta(), &typical_order()).unwrap()
}

fn own_csd(spec: &Spec) -> Result<Csd, CsdError> {
    Csd::from_der(
        &certs::certificate(spec),
        &certs::encrypted_key(spec.key, certs::PASSWORD),
        certs::PASSWORD,
    )
}

#[test]
fn sat_test_csd_loads_with_its_certificate_data() {
    let csd = fixture_csd();
    assert_eq!(csd.no_certificado(), "30001000000500003416");
    assert_eq!(csd.rfc().as_str(), "EKU9003173C9");
    assert_eq!(csd.titular(), "ESCUELA KEMPER URGATE SA DE CV");
    assert_eq!(csd.sucursal(), "Sucursal 1");
    assert_eq!(csd.valid_from().to_rfc3339(), "2023-05-18T11:43:51+00:00");
    assert_eq!(csd.valid_until().to_rfc3339(), "2027-05-18T11:43:51+00:00");
    let der = base64::engine::general_purpose::STANDARD
        .decode(csd.certificado_base64())
        .unwrap();
    assert_eq!(der, fixture_cer());
}

#[test]
fn debug_output_never_shows_the_key() {
    let shown = format!("{:?}", fixture_csd());
    assert!(shown.contains("30001000000500003416"));
    assert!(!shown.to_lowercase().contains("key:"), "{shown}");
}

#[test]
fn a_wrong_password_is_reported_as_such() {
    let e = Csd::from_der(&fixture_cer(), &fixture_key(), "12345678b").unwrap_err();
    assert_eq!(e, CsdError::WrongPassword);
    assert_eq!(
        e.to_string(),
        "La contraseña de la llave privada (.key) no es correcta."
    );
    assert_eq!(
        Csd::from_der(&fixture_cer(), &fixture_key(), "").unwrap_err(),
        CsdError::WrongPassword
    );
}

#[test]
fn a_key_of_another_certificate_is_rejected() {
    let other_key = certs::encrypted_key(1, certs::PASSWORD);
    assert_eq!(
        Csd::from_der(&fixture_cer(), &other_key, certs::PASSWORD).unwrap_err(),
        CsdError::KeyDoesNotMatch
    );
    let cert_of_key_0 = certs::certificate(&Spec::csd());
    let e = Csd::from_der(&cert_of_key_0, &other_key, certs::PASSWORD).unwrap_err();
    assert_eq!(e, CsdError::KeyDoesNotMatch);
    assert!(e.to_string().contains("no corresponde al certificado"));
}

#[test]
fn an_efirma_is_not_a_csd() {
    let fiel = Spec {
        fiel: true,
        ..Spec::csd()
    };
    let e = own_csd(&fiel).unwrap_err();
    assert_eq!(e, CsdError::NotACsd);
    assert!(e.to_string().contains("e.firma (FIEL)"));
}

#[test]
fn files_that_are_not_a_certificate_or_a_key_are_rejected() {
    assert!(matches!(
        Csd::from_der(b"not a certificate", &fixture_key(), FIXTURE_PASSWORD),
        Err(CsdError::InvalidCertificate(_))
    ));
    assert_eq!(
        Csd::from_der(&fixture_cer(), b"not a key", FIXTURE_PASSWORD).unwrap_err(),
        CsdError::InvalidKey
    );
    // An unencrypted PKCS#8 key is not what SAT hands out.
    assert_eq!(
        Csd::from_der(
            &certs::certificate(&Spec::csd()),
            certs::rsa_key(0),
            certs::PASSWORD
        )
        .unwrap_err(),
        CsdError::InvalidKey
    );
}

#[test]
fn the_serial_number_must_be_twenty_digits() {
    let odd = Spec {
        serial: vec![0x12, 0x34, 0x56],
        ..Spec::csd()
    };
    assert_eq!(own_csd(&odd).unwrap_err(), CsdError::InvalidSerialNumber);
}

#[test]
fn a_certificate_without_rfc_is_rejected() {
    let nameless = Spec {
        rfc: "no es un rfc".into(),
        ..Spec::csd()
    };
    assert_eq!(own_csd(&nameless).unwrap_err(), CsdError::MissingRfc);
}

#[test]
fn an_expired_certificate_cannot_seal() {
    let old = own_csd(&Spec {
        not_before: (2019, 1, 1),
        not_after: (2023, 1, 1),
        ..Spec::csd()
    })
    .unwrap();
    let e = invoice_at(fecha(2025, 6, 15, 12, 0, 0))
        .seal(&old)
        .unwrap_err();
    assert!(matches!(e, SealError::Expired { .. }), "{e:?}");
    assert!(e.to_string().contains("venció el 2023-01-01"), "{e}");
    // Before it expired, the same CSD seals.
    assert!(invoice_at(fecha(2022, 12, 30, 12, 0, 0)).seal(&old).is_ok());
}

#[test]
fn a_certificate_not_yet_valid_cannot_seal() {
    let future = own_csd(&Spec {
        not_before: (2030, 1, 1),
        not_after: (2034, 1, 1),
        ..Spec::csd()
    })
    .unwrap();
    let e = invoice_at(fecha(2025, 6, 15, 12, 0, 0))
        .seal(&future)
        .unwrap_err();
    assert!(matches!(e, SealError::NotYetValid { .. }), "{e:?}");
    assert!(e.to_string().contains("a partir del 2030-01-01"), "{e}");
}

#[test]
fn validity_is_judged_at_the_latest_instant_fecha_can_mean() {
    // SAT's test CSD: 2023-05-18T11:43:51Z .. 2027-05-18T11:43:51Z. Fecha has no zone; at UTC-8
    // (Baja California) 03:43:51 local is 11:43:51Z.
    let csd = fixture_csd();
    // A brand-new CSD seals at once, whatever the merchant's zone.
    assert!(csd.check_vigencia(fecha(2023, 5, 18, 3, 43, 50)).is_err());
    assert!(csd.check_vigencia(fecha(2023, 5, 18, 3, 43, 51)).is_ok());
    // On the last day it stops a few hours early rather than seal with an expired certificate.
    assert!(csd.check_vigencia(fecha(2027, 5, 18, 3, 43, 51)).is_ok());
    assert!(csd.check_vigencia(fecha(2027, 5, 18, 3, 43, 52)).is_err());
}

#[test]
fn a_csd_of_another_rfc_cannot_seal() {
    let other = own_csd(&Spec {
        rfc: "XIA190128J61".into(),
        ..Spec::csd()
    })
    .unwrap();
    let e = invoice_at(fecha(2025, 6, 15, 12, 0, 0))
        .seal(&other)
        .unwrap_err();
    assert!(matches!(e, SealError::RfcMismatch { .. }));
    assert_eq!(
        e.to_string(),
        "El CSD es del RFC XIA190128J61 y la factura la emite el RFC EKU9003173C9: sube el CSD de EKU9003173C9."
    );
}

#[test]
fn sealing_is_deterministic_and_the_sello_verifies_with_the_certificate() {
    let csd = fixture_csd();
    let c = invoice_at(fecha(2025, 6, 15, 12, 0, 0));
    let a = c.seal(&csd).unwrap();
    let b = c.seal(&fixture_csd()).unwrap();
    assert_eq!(a, b);

    let cert = x509_cert::Certificate::from_der(&fixture_cer()).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(a.sello())
        .unwrap();
    assert_eq!(signature.len(), 256);
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki)
        .verify(a.cadena_original().as_bytes(), &signature)
        .expect("sello verifies over the cadena original");
    assert!(a.xml().contains(&format!("Sello=\"{}\"", a.sello())));
    assert!(a.xml().contains("NoCertificado=\"30001000000500003416\""));
    assert!(a
        .xml()
        .contains(&format!("Certificado=\"{}\"", csd.certificado_base64())));
}

#[test]
fn a_self_made_csd_seals_like_sats() {
    let csd = own_csd(&Spec::csd()).unwrap();
    assert_eq!(csd.no_certificado(), "30001000000500009999");
    let sealed = invoice_at(fecha(2025, 6, 15, 12, 0, 0)).seal(&csd).unwrap();
    assert!(sealed.cadena_original().contains("|30001000000500009999|"));
}

#[test]
fn finkok_gets_the_key_re_encrypted_with_its_own_password_in_pem() {
    let (cert_pem, key_pem) = mostrador_cfdi::csd::finkok_cancel_pems(
        &fixture_cer(),
        &fixture_key(),
        "12345678a",
        "finkok-account-password",
    )
    .expect("pems");
    assert!(cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(key_pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
    let body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64");
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).expect("PKCS#8");
    assert!(
        info.decrypt("12345678a").is_err(),
        "not the CSD's password any more"
    );
    let plain = info
        .decrypt("finkok-account-password")
        .expect("Finkok's password opens it");
    // The same key as the CSD's: it loads with the certificate once encrypted SAT's way again.
    assert!(pkcs8::PrivateKeyInfo::try_from(plain.as_bytes()).is_ok());
    assert_eq!(
        mostrador_cfdi::csd::finkok_cancel_pems(&fixture_cer(), &fixture_key(), "wrong", "x")
            .unwrap_err(),
        CsdError::WrongPassword
    );
    // OpenSSL, as Finkok's side would, reads it with the Finkok password.
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok()
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        std::fs::write(&path, &key_pem).expect("write");
        let out = std::process::Command::new("openssl")
            .args([
                "pkey",
                "-noout",
                "-passin",
                "pass:finkok-account-password",
                "-in",
            ])
            .arg(&path)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
