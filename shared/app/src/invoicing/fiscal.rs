//! A customer's fiscal data (RFC, name, postal code, régimen, uso del CFDI): validated before it is
//! kept, sealed through Keys (it is personal data under the LFPDPPP), reused for later invoices.

use crate::platform::error::{AppError, FieldError};
use crate::platform::sealed;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_store::{Item, Key, Table, Value};
use serde::{Deserialize, Serialize};

/// What a customer gives to be invoiced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CustomerFiscal {
    pub rfc: String,
    /// As on their Constancia de Situación Fiscal.
    pub nombre: String,
    pub codigo_postal: String,
    pub regimen_fiscal: String,
    pub uso_cfdi: String,
    /// A foreign customer's (RFC XEXX010101000) country of tax residence: SAT's c_Pais code or the
    /// country's name ("USA", "Estados Unidos"); required for them, refused for anyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residencia_fiscal: Option<String>,
    /// A foreign customer's tax identification number in their country (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_reg_id_trib: Option<String>,
}

impl CustomerFiscal {
    /// The same data, trimmed and upper-cased as SAT writes it; a country named in words becomes
    /// its c_Pais code.
    pub fn normalized(&self) -> CustomerFiscal {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        CustomerFiscal {
            rfc: self.rfc.trim().to_uppercase(),
            nombre: self.nombre.trim().to_uppercase(),
            codigo_postal: self.codigo_postal.trim().to_owned(),
            regimen_fiscal: self.regimen_fiscal.trim().to_owned(),
            uso_cfdi: self.uso_cfdi.trim().to_uppercase(),
            residencia_fiscal: given(&self.residencia_fiscal)
                .map(|p| mostrador_cfdi::Pais::parse(&p).map_or(p, |p| p.code().to_owned())),
            num_reg_id_trib: given(&self.num_reg_id_trib),
        }
    }

    /// Every field that SAT would refuse, with a reason in Spanish.
    pub(crate) fn problems(&self) -> Vec<FieldError> {
        crate::invoicing::build::check_receptor(self)
    }
}

fn key(table: &crate::platform::tenant::TenantTable, wa_id: &str) -> Key {
    crate::platform::schema::fiscal_data(&table.customer(wa_id))
}

fn context(merchant: &MerchantId, table: &TenantTable, wa_id: &str) -> String {
    sealed::Sealing::Fiscal {
        customer: table.customer(wa_id).as_str(),
    }
    .context(merchant)
}

/// Validates and keeps a customer's fiscal data; invalid data is refused with every field's reason.
pub async fn save(
    deps: &Deps,
    merchant: &MerchantId,
    wa_id: &str,
    data: &CustomerFiscal,
) -> Result<CustomerFiscal, AppError> {
    let data = data.normalized();
    let problems = data.problems();
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let table = TenantTable::of(deps, merchant);
    let sealed = sealed::seal_json(deps, &data, &context(merchant, &table, wa_id)).await?;
    table
        .put(
            Item::new(&key(&table, wa_id))
                .with("sealed", Value::B(sealed))
                .with("updated_at", deps.clock.now_secs()),
            None,
        )
        .await?;
    Ok(data)
}

/// The customer's fiscal data, if they gave it.
pub async fn load(
    deps: &Deps,
    merchant: &MerchantId,
    wa_id: &str,
) -> Result<Option<CustomerFiscal>, AppError> {
    let table = TenantTable::of(deps, merchant);
    match table.get(&key(&table, wa_id)).await? {
        Some(item) => match item.get("sealed") {
            Some(Value::B(b)) => Ok(Some(
                sealed::open_json(deps, b, &context(merchant, &table, wa_id)).await?,
            )),
            _ => Ok(None),
        },
        None => Ok(None),
    }
}

/// Forgets the customer's fiscal data (their right of cancellation).
pub(crate) async fn forget(
    deps: &Deps,
    merchant: &MerchantId,
    wa_id: &str,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    table.delete(&key(&table, wa_id), None).await?;
    Ok(())
}

/// A masked view for logs and lists: the RFC's first 4 characters.
pub(crate) fn masked_rfc(rfc: &str) -> String {
    format!("{}…", rfc.chars().take(4).collect::<String>())
}
