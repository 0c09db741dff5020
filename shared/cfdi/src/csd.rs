//! The merchant's CSD (Certificado de Sello Digital): the `.cer` (DER X.509) and the password-
//! protected `.key` (DER PKCS#8 EncryptedPrivateKeyInfo, PBES2 / PBKDF2-HMAC-SHA1 / DES-EDE3-CBC)
//! that SAT issues, loaded once and used to seal every invoice.
//!
//! Loading checks what a merchant can get wrong: the password, a `.key` from another certificate,
//! an e.firma (FIEL) uploaded instead of a CSD. Whether the certificate is valid is checked against
//! each invoice's Fecha when sealing, not against the clock.

mod seal;

pub use seal::{SealError, SealedCfdi};

use crate::rfc::Rfc;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use std::fmt;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::name::Name;
use x509_cert::Certificate;

const OID_X500_UNIQUE_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.45");
const OID_ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a CSD could not be loaded. Messages are for the merchant, in Spanish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsdError {
    /// The `.cer` is not a DER X.509 certificate.
    #[error("El archivo .cer no es un certificado válido del SAT ({0}).")]
    InvalidCertificate(String),
    /// The certificate is an e.firma (FIEL), which cannot seal invoices.
    #[error("El certificado es de e.firma (FIEL), no un Certificado de Sello Digital (CSD). Para facturar necesitas tu CSD, que se tramita en CertiSAT con tu e.firma.")]
    NotACsd,
    /// The certificate's serial number is not the 20 digits SAT uses as NoCertificado.
    #[error("El número de certificado no es de un CSD del SAT: deben ser 20 dígitos.")]
    InvalidSerialNumber,
    /// The certificate does not name its holder's RFC.
    #[error("El certificado no indica el RFC de su titular; no parece un CSD del SAT.")]
    MissingRfc,
    /// The `.key` is not a DER PKCS#8 encrypted private key.
    #[error("El archivo .key no es una llave privada del SAT (debe ser el archivo .key que entregó CertiSAT, protegido con contraseña).")]
    InvalidKey,
    /// The password does not decrypt the `.key`.
    #[error("La contraseña de la llave privada (.key) no es correcta.")]
    WrongPassword,
    /// The key is not the RSA key SAT issues.
    #[error("La llave privada no es RSA de 2048 bits o más, como las que emite el SAT.")]
    UnsupportedKey,
    /// The `.key` belongs to another certificate.
    #[error("La llave privada (.key) no corresponde al certificado (.cer): revisa que ambos archivos sean del mismo CSD.")]
    KeyDoesNotMatch,
}

/// A loaded CSD: certificate data for the invoice and the key that signs its cadena original.
pub struct Csd {
    no_certificado: String,
    certificado: String,
    rfc: Rfc,
    titular: String,
    sucursal: String,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    key: RsaKeyPair,
}

impl fmt::Debug for Csd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Csd")
            .field("no_certificado", &self.no_certificado)
            .field("rfc", &self.rfc)
            .field("sucursal", &self.sucursal)
            .field("valid_from", &self.valid_from)
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

/// Text of a directory string (UTF8String, PrintableString, IA5String, T61String or BMPString).
fn directory_string(value: &x509_cert::der::Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// First value of attribute `oid` in a distinguished name.
fn name_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == oid)
        .and_then(|atv| directory_string(&atv.value))
}

fn to_utc(time: x509_cert::time::Time) -> DateTime<Utc> {
    let secs = i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Csd {
    /// Loads a CSD from the contents of its `.cer` and `.key` and the key's password.
    pub fn from_der(cer: &[u8], key: &[u8], password: impl AsRef<[u8]>) -> Result<Csd, CsdError> {
        let cert =
            Certificate::from_der(cer).map_err(|e| CsdError::InvalidCertificate(e.to_string()))?;
        let tbs = &cert.tbs_certificate;

        // SAT writes NoCertificado as ASCII digits in the serial number's bytes.
        let serial = tbs.serial_number.as_bytes();
        if serial.len() != 20 || !serial.iter().all(u8::is_ascii_digit) {
            return Err(CsdError::InvalidSerialNumber);
        }
        let no_certificado = String::from_utf8_lossy(serial).into_owned();

        // A CSD names its branch (OU) and is only for signing; an e.firma has no OU and may
        // encipher and agree keys (the distinction phpcfdi/credentials and SAT's tools use).
        let sucursal = name_attribute(&tbs.subject, OID_ORGANIZATIONAL_UNIT).unwrap_or_default();
        let enciphers = tbs
            .extensions
            .iter()
            .flatten()
            .filter(|ext| ext.extn_id == OID_KEY_USAGE)
            .filter_map(|ext| KeyUsage::from_der(ext.extn_value.as_bytes()).ok())
            .any(|ku| ku.key_encipherment() || ku.data_encipherment() || ku.key_agreement());
        if sucursal.trim().is_empty() || enciphers {
            return Err(CsdError::NotACsd);
        }

        // x500UniqueIdentifier: "RFC" or "RFC / RFC del representante legal".
        let rfc = name_attribute(&tbs.subject, OID_X500_UNIQUE_IDENTIFIER)
            .and_then(|v| v.split('/').next().and_then(|r| Rfc::parse(r.trim()).ok()))
            .ok_or(CsdError::MissingRfc)?;
        let titular = name_attribute(&tbs.subject, OID_COMMON_NAME).unwrap_or_default();

        let spki = &tbs.subject_public_key_info;
        if spki.algorithm.oid != OID_RSA_ENCRYPTION {
            return Err(CsdError::UnsupportedKey);
        }
        let public_key = spki.subject_public_key.raw_bytes();

        let encrypted =
            pkcs8::EncryptedPrivateKeyInfo::try_from(key).map_err(|_| CsdError::InvalidKey)?;
        let decrypted = encrypted
            .decrypt(password)
            .map_err(|_| CsdError::WrongPassword)?;
        // A wrong password can still pass the padding check and decrypt to garbage.
        let info = pkcs8::PrivateKeyInfo::try_from(decrypted.as_bytes())
            .map_err(|_| CsdError::WrongPassword)?;
        if info.algorithm.oid != OID_RSA_ENCRYPTION {
            return Err(CsdError::UnsupportedKey);
        }
        let key_pair =
            RsaKeyPair::from_pkcs8(decrypted.as_bytes()).map_err(|_| CsdError::UnsupportedKey)?;

        // The key must sign what the certificate's public key verifies.
        let probe = b"mostrador: el .key corresponde al .cer";
        let mut signature_bytes = vec![0u8; key_pair.public_modulus_len()];
        key_pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                probe,
                &mut signature_bytes,
            )
            .map_err(|_| CsdError::UnsupportedKey)?;
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key)
            .verify(probe, &signature_bytes)
            .map_err(|_| CsdError::KeyDoesNotMatch)?;

        Ok(Csd {
            no_certificado,
            certificado: base64::engine::general_purpose::STANDARD.encode(cer),
            rfc,
            titular,
            sucursal,
            valid_from: to_utc(tbs.validity.not_before),
            valid_until: to_utc(tbs.validity.not_after),
            key: key_pair,
        })
    }

    /// NoCertificado (20 digits).
    pub fn no_certificado(&self) -> &str {
        &self.no_certificado
    }

    /// Certificado attribute: base64 of the `.cer`.
    pub fn certificado_base64(&self) -> &str {
        &self.certificado
    }

    /// RFC of the holder.
    pub fn rfc(&self) -> &Rfc {
        &self.rfc
    }

    /// Holder's name as the certificate states it (may include the régimen societario).
    pub fn titular(&self) -> &str {
        &self.titular
    }

    /// Branch the CSD was issued for (OU).
    pub fn sucursal(&self) -> &str {
        &self.sucursal
    }

    /// Start of validity (UTC).
    pub fn valid_from(&self) -> DateTime<Utc> {
        self.valid_from
    }

    /// End of validity (UTC): renew the CSD before this.
    pub fn valid_until(&self) -> DateTime<Utc> {
        self.valid_until
    }

    /// Whether an invoice dated `fecha` (local time in Mexico) can be sealed with this CSD.
    ///
    /// Fecha has no time zone and Mexico spans UTC−5 to UTC−8, so we judge its latest possible
    /// instant (`fecha` at UTC−8): a CSD issued minutes ago works at once in every zone, and one
    /// about to expire is refused up to 3 hours early rather than sealing an invoice SAT could
    /// consider made with an expired certificate.
    pub fn check_vigencia(&self, fecha: NaiveDateTime) -> Result<(), SealError> {
        let latest = fecha.and_utc() + TimeDelta::hours(8);
        if latest < self.valid_from {
            return Err(SealError::NotYetValid {
                no_certificado: self.no_certificado.clone(),
                valid_from: self.valid_from,
                fecha,
            });
        }
        if latest > self.valid_until {
            return Err(SealError::Expired {
                no_certificado: self.no_certificado.clone(),
                valid_until: self.valid_until,
                fecha,
            });
        }
        Ok(())
    }

    /// Sello of a cadena original: base64 of RSA PKCS#1 v1.5 with SHA-256 over its UTF-8 bytes.
    pub fn sello(&self, cadena_original: &str) -> Result<String, SealError> {
        let mut signature_bytes = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                cadena_original.as_bytes(),
                &mut signature_bytes,
            )
            .map_err(|_| SealError::Signing)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signature_bytes))
    }
}

/// The CSD as Finkok's `cancel` takes it: the certificate in PEM, and the private key in PEM
/// encrypted with the Finkok account's password (PKCS#8, PBES2 with PBKDF2-HMAC-SHA256 and
/// DES-EDE3-CBC — what `openssl rsa -des3` writes), from the `.cer` and `.key` as SAT issues them.
pub fn finkok_cancel_pems(
    cer: &[u8],
    key: &[u8],
    password: impl AsRef<[u8]>,
    finkok_password: impl AsRef<[u8]>,
) -> Result<(String, String), CsdError> {
    use aws_lc_rs::rand::SecureRandom;
    Certificate::from_der(cer).map_err(|e| CsdError::InvalidCertificate(e.to_string()))?;
    let encrypted =
        pkcs8::EncryptedPrivateKeyInfo::try_from(key).map_err(|_| CsdError::InvalidKey)?;
    let decrypted = encrypted
        .decrypt(password)
        .map_err(|_| CsdError::WrongPassword)?;
    let info = pkcs8::PrivateKeyInfo::try_from(decrypted.as_bytes())
        .map_err(|_| CsdError::WrongPassword)?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 8];
    let rng = SystemRandom::new();
    rng.fill(&mut salt).map_err(|_| CsdError::UnsupportedKey)?;
    rng.fill(&mut iv).map_err(|_| CsdError::UnsupportedKey)?;
    let params = pkcs8::pkcs5::pbes2::Parameters {
        kdf: pkcs8::pkcs5::pbes2::Kdf::Pbkdf2(pkcs8::pkcs5::pbes2::Pbkdf2Params {
            salt: &salt,
            iteration_count: 2048,
            key_length: None,
            prf: pkcs8::pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256,
        }),
        encryption: pkcs8::pkcs5::pbes2::EncryptionScheme::DesEde3Cbc { iv: &iv },
    };
    let sealed = info
        .encrypt_with_params(params, finkok_password)
        .map_err(|_| CsdError::UnsupportedKey)?;
    Ok((
        pem("CERTIFICATE", cer),
        pem("ENCRYPTED PRIVATE KEY", sealed.as_bytes()),
    ))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
