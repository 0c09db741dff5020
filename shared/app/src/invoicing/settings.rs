//! The merchant as issuer: RFC, name, régimen, serie, global-invoice periodicity, the CSD that seals
//! (sealed through Keys, never returned) and the PAC that stamps.

use crate::platform::error::{AppError, FieldError};
use crate::platform::sealed;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use base64::Engine as _;
use mostrador_cfdi::pac::finkok::{self, Finkok};
use mostrador_cfdi::pac::sandbox::SandboxPac;
use mostrador_cfdi::pac::sw::{self, Sw, SwCredentials};
use mostrador_cfdi::pac::Pac;
use mostrador_store::{Item, Key, Table, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The PAC that stamps a merchant's invoices, with its credentials.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum PacCredentials {
    /// Offline test stamps, clearly without fiscal validity (the default).
    Sandbox,
    /// Finkok (SOAP); `demo: true` for demo-facturacion.finkok.com.
    Finkok {
        username: String,
        password: String,
        #[serde(default)]
        demo: bool,
    },
    /// SW Sapien (REST); `test: true` for services.test.sw.com.mx.
    Sw {
        user: String,
        password: String,
        #[serde(default)]
        test: bool,
    },
}

impl PacCredentials {
    /// The PAC's name.
    pub fn name(&self) -> &'static str {
        match self {
            PacCredentials::Sandbox => "sandbox",
            PacCredentials::Finkok { .. } => "finkok",
            PacCredentials::Sw { .. } => "sw",
        }
    }

    fn validate(&self, errors: &mut Vec<FieldError>) {
        match self {
            PacCredentials::Sandbox => {}
            PacCredentials::Finkok {
                username, password, ..
            } => {
                if username.trim().is_empty() {
                    errors.push(FieldError::new("pac.username", "required"));
                }
                if password.is_empty() {
                    errors.push(FieldError::new("pac.password", "required"));
                }
            }
            PacCredentials::Sw { user, password, .. } => {
                if user.trim().is_empty() {
                    errors.push(FieldError::new("pac.user", "required"));
                }
                if password.is_empty() {
                    errors.push(FieldError::new("pac.password", "required"));
                }
            }
        }
    }
}

/// What the merchant tells us about themselves as issuer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IssuerInput {
    pub rfc: String,
    /// As registered at SAT, without the régimen societario ("SA DE CV").
    pub nombre: String,
    /// c_RegimenFiscal, e.g. "601" or "626".
    pub regimen_fiscal: String,
    /// Serie of individual invoices (letters, ≤ 25); globals use `{serie}G`.
    #[serde(default = "default_serie")]
    pub serie: String,
    /// Global invoice periodicity: "01" daily (default), "02" weekly, "03" fortnightly, "04" monthly.
    #[serde(default = "default_periodicidad")]
    pub periodicidad: String,
}

fn default_serie() -> String {
    "A".into()
}

fn default_periodicidad() -> String {
    "01".into()
}

/// The issuer settings as stored and shown (never secrets).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Issuer {
    pub rfc: String,
    pub nombre: String,
    pub regimen_fiscal: String,
    pub serie: String,
    pub periodicidad: String,
    pub pac: String,
    /// The uploaded CSD's certificate number and validity, when one is uploaded.
    pub csd: Option<CsdInfo>,
}

/// What is shown of the CSD.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CsdInfo {
    pub no_certificado: String,
    pub valid_from: String,
    pub valid_to: String,
}

/// The CSD files as uploaded (base64 of the DER `.cer` and `.key`) and the key's password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsdUpload {
    pub certificate: String,
    pub private_key: String,
    pub password: String,
}

/// The secrets, sealed together.
#[derive(Clone, Serialize, Deserialize)]
struct Secrets {
    pac: PacCredentials,
    csd: Option<CsdUpload>,
}

/// Everything needed to issue: the issuer, the loaded CSD and the PAC client.
pub struct Issuing {
    pub issuer: Issuer,
    pub csd: mostrador_cfdi::csd::Csd,
    pub pac: Arc<dyn Pac>,
}

fn key() -> Key {
    crate::platform::schema::settings(crate::platform::schema::Settings::Invoicing)
}

fn context(merchant: &MerchantId) -> String {
    sealed::Sealing::Invoicing.context(merchant)
}

fn decode(field: &str, b64: &str, errors: &mut Vec<FieldError>) -> Vec<u8> {
    match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
        Ok(bytes) if !bytes.is_empty() => bytes,
        _ => {
            errors.push(FieldError::new(field, "base64 of the DER file"));
            Vec::new()
        }
    }
}

/// The CSD of an upload, checked: password, key and certificate match, RFC and validity.
pub(crate) fn load_csd(
    upload: &CsdUpload,
    rfc: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<mostrador_cfdi::csd::Csd, AppError> {
    let mut errors = Vec::new();
    let cer = decode("certificate", &upload.certificate, &mut errors);
    let key = decode("private_key", &upload.private_key, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let csd = crate::invoicing::build::load_csd(&cer, &key, &upload.password, rfc, now)?;
    Ok(csd)
}

async fn load_raw(
    deps: &Deps,
    merchant: &MerchantId,
) -> Result<Option<(Issuer, Secrets)>, AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(item) = table.get(&key()).await? else {
        return Ok(None);
    };
    let issuer: Issuer = serde_json::from_str(item.get_s("issuer").unwrap_or("null"))
        .map_err(|e| AppError::Internal(e.into()))?;
    let secrets = match item.get("sealed") {
        Some(Value::B(b)) => sealed::open_json(deps, b, &context(merchant)).await?,
        _ => Secrets {
            pac: PacCredentials::Sandbox,
            csd: None,
        },
    };
    Ok(Some((issuer, secrets)))
}

async fn store(
    deps: &Deps,
    merchant: &MerchantId,
    issuer: &Issuer,
    secrets: &Secrets,
) -> Result<(), AppError> {
    let sealed = sealed::seal_json(deps, secrets, &context(merchant)).await?;
    let doc = serde_json::to_string(issuer).map_err(|e| AppError::Internal(e.into()))?;
    TenantTable::of(deps, merchant)
        .put(
            Item::new(&key())
                .with("issuer", doc)
                .with("sealed", Value::B(sealed)),
            None,
        )
        .await?;
    Ok(())
}

/// Stores the issuer data and, when given, the PAC (keeping the CSD already uploaded).
pub async fn save_issuer(
    deps: &Deps,
    merchant: &MerchantId,
    input: &IssuerInput,
    pac: Option<PacCredentials>,
) -> Result<Issuer, AppError> {
    let mut errors = crate::invoicing::build::check_issuer(input);
    if let Some(p) = &pac {
        p.validate(&mut errors);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let previous = load_raw(deps, merchant).await?;
    let (old_csd_info, mut secrets) = match previous {
        Some((issuer, secrets)) if issuer.rfc == input.rfc.trim().to_uppercase() => {
            (issuer.csd, secrets)
        }
        // A new RFC cannot keep a CSD issued to another.
        _ => (
            None,
            Secrets {
                pac: PacCredentials::Sandbox,
                csd: None,
            },
        ),
    };
    if let Some(p) = pac {
        secrets.pac = p;
    }
    let issuer = Issuer {
        rfc: input.rfc.trim().to_uppercase(),
        nombre: input.nombre.trim().to_uppercase(),
        regimen_fiscal: input.regimen_fiscal.trim().to_owned(),
        serie: input.serie.trim().to_uppercase(),
        periodicidad: input.periodicidad.trim().to_owned(),
        pac: secrets.pac.name().to_owned(),
        csd: old_csd_info,
    };
    store(deps, merchant, &issuer, &secrets).await?;
    tracing::info!(merchant = %merchant, pac = issuer.pac, "invoicing settings saved");
    Ok(issuer)
}

/// Stores a CSD after checking it against the issuer's RFC and today's date.
pub async fn save_csd(
    deps: &Deps,
    merchant: &MerchantId,
    upload: CsdUpload,
) -> Result<Issuer, AppError> {
    let Some((mut issuer, mut secrets)) = load_raw(deps, merchant).await? else {
        return Err(AppError::Conflict(
            "set the issuer first: PUT /v1/settings/invoicing".into(),
        ));
    };
    let csd = load_csd(&upload, Some(&issuer.rfc), deps.clock.now())?;
    issuer.csd = Some(crate::invoicing::build::csd_info(&csd));
    secrets.csd = Some(upload);
    store(deps, merchant, &issuer, &secrets).await?;
    tracing::info!(merchant = %merchant, "CSD uploaded");
    Ok(issuer)
}

/// The issuer settings, if any (without opening the sealed secrets).
pub async fn issuer(deps: &Deps, merchant: &MerchantId) -> Result<Option<Issuer>, AppError> {
    let table = TenantTable::of(deps, merchant);
    match table.get(&key()).await? {
        Some(item) => serde_json::from_str(item.get_s("issuer").unwrap_or("null"))
            .map_err(|e| AppError::Internal(e.into())),
        None => Ok(None),
    }
}

/// Why a merchant cannot issue yet.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("el comercio aún no registra sus datos fiscales")]
    NoIssuer,
    #[error("el comercio aún no sube su CSD")]
    NoCsd,
    #[error("{0}")]
    Other(AppError),
}

fn cancel_pems(upload: &CsdUpload, finkok_password: &str) -> Result<(String, String), NotReady> {
    let engine = base64::engine::general_purpose::STANDARD;
    let (Ok(cer), Ok(key)) = (
        engine.decode(upload.certificate.trim()),
        engine.decode(upload.private_key.trim()),
    ) else {
        return Err(NotReady::NoCsd);
    };
    mostrador_cfdi::csd::finkok_cancel_pems(&cer, &key, &upload.password, finkok_password).map_err(
        |e| {
            NotReady::Other(AppError::Validation(vec![FieldError::new(
                "csd",
                e.to_string(),
            )]))
        },
    )
}

/// Everything needed to seal and stamp for this merchant.
pub(crate) async fn issuing(deps: &Deps, merchant: &MerchantId) -> Result<Issuing, NotReady> {
    let (issuer, secrets) = load_raw(deps, merchant)
        .await
        .map_err(NotReady::Other)?
        .ok_or(NotReady::NoIssuer)?;
    let upload = secrets.csd.as_ref().ok_or(NotReady::NoCsd)?;
    let csd = load_csd(upload, Some(&issuer.rfc), deps.clock.now()).map_err(NotReady::Other)?;
    let http = deps.http.clone();
    let base = deps.config.pac_api_bases.get(secrets.pac.name()).cloned();
    let pac: Arc<dyn Pac> = match secrets.pac {
        PacCredentials::Sandbox => Arc::new(SandboxPac::new(deps.clock.clone())),
        PacCredentials::Finkok {
            username,
            password,
            demo,
        } => {
            // Finkok's cancel signs SAT's request with the CSD, its key re-encrypted with the
            // account's password.
            let (certificate_pem, encrypted_key_pem) = cancel_pems(upload, &password)?;
            let p =
                Finkok::new(http, username, password).with_cancel_csd(finkok::FinkokCancelCsd {
                    certificate_pem,
                    encrypted_key_pem,
                });
            Arc::new(match (base, demo) {
                (Some(b), _) => p.with_base_url(b),
                (None, true) => p.with_base_url(finkok::DEMO_BASE_URL),
                (None, false) => p,
            })
        }
        PacCredentials::Sw {
            user,
            password,
            test,
        } => {
            let p = Sw::new(http, SwCredentials::User { user, password })
                .with_clock(deps.clock.clone());
            Arc::new(match (base, test) {
                (Some(b), _) => p.with_base_url(b),
                (None, true) => p.with_base_url(sw::TEST_BASE_URL),
                (None, false) => p,
            })
        }
    };
    Ok(Issuing { issuer, csd, pac })
}
