//! Self-made certificates shaped like SAT's CSD and e.firma, for tests about validity, mismatched
//! keys and the wrong kind of certificate: RSA-2048 keys from aws-lc-rs, X.509 from rcgen, and the
//! `.key` encrypted like SAT's (PBES2, PBKDF2-HMAC-SHA1, DES-EDE3-CBC).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use pkcs8::pkcs5::pbes2;
use rcgen::{CertificateParams, DnType, KeyUsagePurpose, SerialNumber};
use std::sync::OnceLock;

/// Password of every self-made `.key`.
pub const PASSWORD: &str = "clave-de-prueba";

/// PKCS#8 (unencrypted) DER of RSA-2048 test key number `n` (0 or 1), generated once per run.
pub fn rsa_key(n: usize) -> &'static [u8] {
    static KEYS: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    KEYS[n].get_or_init(|| {
        let key = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        key.as_der().expect("PKCS#8 DER").as_ref().to_vec()
    })
}

/// What kind of certificate to make.
#[derive(Debug, Clone)]
pub struct Spec {
    /// RFC of the holder (x500UniqueIdentifier).
    pub rfc: String,
    /// Validity, as (year, month, day) in UTC.
    pub not_before: (i32, u8, u8),
    /// End of validity (year, month, day) in UTC.
    pub not_after: (i32, u8, u8),
    /// An e.firma (no OU, may encipher) instead of a CSD.
    pub fiel: bool,
    /// Serial number bytes (SAT: 20 ASCII digits).
    pub serial: Vec<u8>,
    /// Which test key signs it and is certified.
    pub key: usize,
}

impl Spec {
    /// A CSD of EKU9003173C9 valid 2020–2040 with key 0.
    pub fn csd() -> Spec {
        Spec {
            rfc: "EKU9003173C9 / VADA800927DJ3".into(),
            not_before: (2020, 1, 1),
            not_after: (2040, 1, 1),
            fiel: false,
            serial: b"30001000000500009999".to_vec(),
            key: 0,
        }
    }
}

/// DER of a self-signed certificate following `spec`.
pub fn certificate(spec: &Spec) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.not_before =
        rcgen::date_time_ymd(spec.not_before.0, spec.not_before.1, spec.not_before.2);
    params.not_after = rcgen::date_time_ymd(spec.not_after.0, spec.not_after.1, spec.not_after.2);
    params.serial_number = Some(SerialNumber::from_slice(&spec.serial));
    params
        .distinguished_name
        .push(DnType::CommonName, "ESCUELA KEMPER URGATE SA DE CV");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "ESCUELA KEMPER URGATE SA DE CV");
    params
        .distinguished_name
        .push(DnType::CustomDnType(vec![2, 5, 4, 45]), spec.rfc.as_str());
    if spec.fiel {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
            KeyUsagePurpose::DataEncipherment,
            KeyUsagePurpose::KeyAgreement,
        ];
    } else {
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "Sucursal 1");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
    }
    // PKCS#8 RSA keys sign with RSA PKCS#1 v1.5 SHA-256.
    let signer = rcgen::KeyPair::try_from(rsa_key(spec.key)).expect("rcgen accepts the RSA key");
    params
        .self_signed(&signer)
        .expect("self-signed")
        .der()
        .to_vec()
}

/// The `.key` of test key `n`, encrypted like SAT's with `password`.
pub fn encrypted_key(n: usize, password: &str) -> Vec<u8> {
    let salt = [7u8; 8];
    let iv = [9u8; 8];
    let params = pbes2::Parameters {
        kdf: pbes2::Kdf::Pbkdf2(pbes2::Pbkdf2Params {
            salt: &salt,
            iteration_count: 2048,
            key_length: None,
            prf: pbes2::Pbkdf2Prf::HmacWithSha1,
        }),
        encryption: pbes2::EncryptionScheme::DesEde3Cbc { iv: &iv },
    };
    pkcs8::PrivateKeyInfo::try_from(rsa_key(n))
        .expect("PKCS#8")
        .encrypt_with_params(params, password)
        .expect("encrypt")
        .as_bytes()
        .to_vec()
}
