//! Merchants, their branches and their API keys.
//!
//! API keys are random (160 bits), shown once, stored only as a SHA-256 hash, revocable, and may be
//! limited to one branch. Platform-level lookup records (`APIKEY#{hash}`, `PHONE#{phone_number_id}`)
//! resolve a key or a WhatsApp number to its merchant; everything else lives under the merchant.

use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::ids::sortable_id;
use mostrador_store::{Condition, Item, Key, Query, StoreError, Table, TxOp, Update};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A new random id, sortable by creation time.
pub fn new_id(deps: &Deps) -> String {
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    sortable_id(deps.clock.now(), random)
}

/// A merchant's profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    pub created_at: String,
}

/// A branch: where orders are fulfilled and invoices issued (LugarExpedicion).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Branch {
    pub id: String,
    pub name: String,
    /// The WhatsApp Business phone number id that customers of this branch write to.
    pub phone_number_id: Option<String>,
    pub postal_code: String,
    pub timezone: String,
    pub address: String,
    /// Opening hours as customers read them, e.g. "Lun a sáb 8:00–22:00, dom 9:00–15:00".
    #[serde(default)]
    pub hours: String,
    /// Home delivery from this branch (fee, free-delivery threshold, zone, postal codes, arrival
    /// time); absent: customers pick their orders up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<mostrador_core::conversation::DeliveryOffer>,
    /// The branch applies the border IVA incentive (8 %): only for a postal code of the región
    /// fronteriza norte or sur in SAT's c_CodigoPostal, once the merchant gave SAT notice of it.
    #[serde(default)]
    pub border_incentive: bool,
}

impl Branch {
    /// Why `treatment` cannot be sold at this branch (IVA 8 % outside the border incentive), in
    /// Spanish for the merchant.
    pub(crate) fn tax_problem(
        &self,
        treatment: mostrador_core::tax::TaxTreatment,
    ) -> Option<String> {
        mostrador_core::tax::treatment_problem(treatment, &self.postal_code, self.border_incentive)
    }
}

/// Metadata of an API key; the key itself is never stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub key_id: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub label: Option<String>,
    pub branch_id: Option<String>,
    pub revoked: bool,
    pub created_at: String,
}

/// A freshly issued key: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    pub api_key: String,
}

/// Who is calling the merchant API.
#[derive(Clone)]
pub struct Caller {
    pub merchant: MerchantId,
    pub key_id: String,
    /// When set, the key may act only on this branch.
    pub branch: Option<String>,
    /// The merchant's own view of the table.
    pub table: TenantTable,
    /// A console session's role; `None` for an API key.
    pub role: Option<mostrador_core::accounts::Role>,
    /// Who acts, as people read it: the staff member's name, or the API key's label.
    pub actor: String,
}

impl Caller {
    /// Refuses what only the owner (or a full-merchant API key) may do: staff, API keys, payment,
    /// invoicing, WhatsApp and webhook settings — whose account the money goes to, who seals the
    /// invoices, who speaks for the numbers.
    pub(crate) fn check_owner(&self) -> Result<(), AppError> {
        use mostrador_core::accounts::Role;
        match (self.role, &self.branch) {
            (Some(Role::Owner), _) | (None, None) => Ok(()),
            _ => Err(AppError::Forbidden(
                "solo la dueña o el dueño de la cuenta puede hacer esto".into(),
            )),
        }
    }

    /// Refuses access to a branch the key is not limited to.
    pub(crate) fn check_branch(&self, branch_id: &str) -> Result<(), AppError> {
        match &self.branch {
            Some(only) if only != branch_id => Err(AppError::Forbidden(format!(
                "solo tienes acceso a la sucursal {only} (this key or session is limited to branch {only})"
            ))),
            _ => Ok(()),
        }
    }

    /// Which WhatsApp numbers' customers, messages and conversations this key may see: all of the
    /// merchant's, or only its branch's number (none when the branch has no number yet).
    pub async fn scope(&self) -> Result<Scope, AppError> {
        let Some(branch) = &self.branch else {
            return Ok(Scope::All);
        };
        let number = get_branch(&self.table, branch)
            .await?
            .and_then(|b| b.phone_number_id);
        Ok(Scope::Branch {
            branch_id: branch.clone(),
            number,
        })
    }
}

impl Caller {
    /// Refuses a customer this key may not see (404, as for anything not the caller's): a
    /// branch-limited key sees the customers who write to its branch's number.
    pub(crate) async fn check_customer(&self, wa_id: &str) -> Result<(), AppError> {
        self.customer_scope(wa_id, false).await
    }

    /// Like [`Caller::check_customer`], but a customer never seen may be recorded by any key (a
    /// consent or fiscal data taken at the branch's counter before the first message).
    pub(crate) async fn check_customer_or_new(&self, wa_id: &str) -> Result<(), AppError> {
        self.customer_scope(wa_id, true).await
    }

    async fn customer_scope(&self, wa_id: &str, new_ok: bool) -> Result<(), AppError> {
        let scope = self.scope().await?;
        if scope == Scope::All {
            return Ok(());
        }
        let profile = self
            .table
            .get(&crate::platform::schema::customer_profile(
                &self.table.customer(wa_id),
            ))
            .await?;
        if new_ok && profile.is_none() {
            return Ok(());
        }
        if scope.allows(
            profile.as_ref().and_then(|p| p.get_s("phone_number_id")),
            None,
        ) {
            Ok(())
        } else {
            Err(AppError::NotFound("customer".into()))
        }
    }
}

/// What a key may see of messages and conversations (see [`Caller::scope`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Branch {
        branch_id: String,
        number: Option<String>,
    },
}

impl Scope {
    /// Whether an item recorded for this WhatsApp number (or, for older records, this branch) is
    /// visible. A branch key sees nothing whose number and branch are both unknown.
    pub(crate) fn allows(&self, phone_number_id: Option<&str>, branch_id: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Branch {
                branch_id: own,
                number,
            } => match (phone_number_id, branch_id) {
                (Some(p), _) => number.as_deref() == Some(p),
                (None, Some(b)) => b == own,
                (None, None) => false,
            },
        }
    }
}

fn hash_key(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.as_bytes()))
}

fn lookup_key(hash: &str) -> Key {
    crate::platform::schema::api_key_lookup(hash)
}

fn phone_key(phone_number_id: &str) -> Key {
    crate::platform::schema::phone_route(phone_number_id)
}

fn profile_key() -> Key {
    crate::platform::schema::merchant_profile()
}

fn from_item<T: for<'de> Deserialize<'de>>(item: &Item) -> Result<T, AppError> {
    let json = item
        .get_s("doc")
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("item has no doc")))?;
    serde_json::from_str(json).map_err(|e| AppError::Internal(e.into()))
}

fn to_item<T: Serialize>(key: &Key, value: &T) -> Result<Item, AppError> {
    let json = serde_json::to_string(value).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Item::new(key).with("doc", json))
}

/// Input of merchant creation.
#[derive(Debug, Deserialize)]
pub struct NewMerchant {
    pub name: String,
}

/// Creates a merchant.
pub async fn create_merchant(deps: &Deps, input: NewMerchant) -> Result<Merchant, AppError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            "must have 1-120 characters",
        )]));
    }
    let id =
        MerchantId::try_from(new_id(deps)).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let merchant = Merchant {
        id: id.clone(),
        name: name.to_owned(),
        created_at: deps.clock.now().to_rfc3339(),
    };
    let tenant = TenantTable::of(deps, &id);
    tenant
        .put(
            to_item(&profile_key(), &merchant)?,
            Some(Condition::NotExists),
        )
        .await?;
    tracing::info!(merchant = %id, "merchant created");
    Ok(merchant)
}

/// A merchant's profile, if it exists.
pub async fn get_merchant(deps: &Deps, id: &MerchantId) -> Result<Option<Merchant>, AppError> {
    let tenant = TenantTable::of(deps, id);
    tenant
        .get(&profile_key())
        .await?
        .as_ref()
        .map(from_item)
        .transpose()
}

/// Input of key issuance.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub label: Option<String>,
    pub branch_id: Option<String>,
}

/// Issues an API key for a merchant; the returned secret is never retrievable again.
pub async fn issue_key(
    deps: &Deps,
    merchant: &MerchantId,
    input: NewApiKey,
) -> Result<IssuedKey, AppError> {
    if get_merchant(deps, merchant).await?.is_none() {
        return Err(AppError::NotFound("merchant".into()));
    }
    let tenant = TenantTable::of(deps, merchant);
    if let Some(branch) = &input.branch_id {
        if get_branch(&tenant, branch).await?.is_none() {
            return Err(AppError::Validation(vec![FieldError::new(
                "branch_id",
                "no existe esa sucursal",
            )]));
        }
    }
    if input.label.as_ref().is_some_and(|l| l.chars().count() > 80) {
        return Err(AppError::Validation(vec![FieldError::new(
            "label",
            "el nombre de la llave lleva a lo más 80 caracteres",
        )]));
    }
    let key_id = new_id(deps);
    let mut secret = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    let api_key = format!("mos_{}_{}", key_id.to_lowercase(), hex::encode(secret));
    let hash = hash_key(&api_key);
    let info = ApiKeyInfo {
        key_id: key_id.clone(),
        prefix: api_key.chars().take(12).collect(),
        label: input.label,
        branch_id: input.branch_id,
        revoked: false,
        created_at: deps.clock.now().to_rfc3339(),
    };
    let lookup = Item::new(&lookup_key(&hash))
        .with("merchant_id", merchant.as_str())
        .with("key_id", key_id.as_str())
        .with("revoked", false);
    let lookup = match &info.branch_id {
        Some(b) => lookup.with("branch_id", b.as_str()),
        None => lookup,
    };
    let record =
        to_item(&crate::platform::schema::api_key(&key_id), &info)?.with("hash", hash.as_str());
    // The lookup record is platform-level; the record the merchant sees is under the merchant.
    deps.table
        .transact(vec![
            TxOp::Put {
                item: lookup,
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: scoped(merchant, record),
                condition: Some(Condition::NotExists),
            },
        ])
        .await?;
    tracing::info!(merchant = %merchant, key_id = %key_id, "api key issued");
    Ok(IssuedKey { info, api_key })
}

/// The keys of a merchant (metadata only).
pub(crate) async fn list_keys(table: &TenantTable) -> Result<Vec<ApiKeyInfo>, AppError> {
    let page = table
        .query(
            Query::partition(crate::platform::schema::API_KEYS)
                .prefix(crate::platform::schema::API_KEY_PREFIX),
        )
        .await?;
    page.items.iter().map(from_item).collect()
}

/// Revokes one of a merchant's keys; unknown ids are 404.
pub(crate) async fn revoke_key(
    deps: &Deps,
    merchant: &MerchantId,
    key_id: &str,
) -> Result<ApiKeyInfo, AppError> {
    let tenant = TenantTable::of(deps, merchant);
    let record_key = crate::platform::schema::api_key(key_id);
    let record = tenant
        .get(&record_key)
        .await?
        .ok_or_else(|| AppError::NotFound("api key".into()))?;
    let hash = record
        .get_s("hash")
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("key without hash")))?
        .to_owned();
    let mut info: ApiKeyInfo = from_item(&record)?;
    info.revoked = true;
    let doc = serde_json::to_string(&info).map_err(|e| AppError::Internal(e.into()))?;
    deps.table
        .transact(vec![
            TxOp::Update {
                key: lookup_key(&hash),
                update: Update::new().set("revoked", true),
                condition: Some(Condition::Eq(
                    "merchant_id".into(),
                    merchant.as_str().into(),
                )),
            },
            TxOp::Update {
                key: crate::platform::schema::in_merchant(
                    merchant,
                    crate::platform::schema::api_key(key_id),
                ),
                update: Update::new().set("doc", doc),
                condition: Some(Condition::Exists),
            },
        ])
        .await?;
    tracing::info!(merchant = %merchant, key_id = %key_id, "api key revoked");
    Ok(info)
}

/// Resolves a bearer key to its caller; unknown and revoked keys are both just `Unauthorized`.
pub async fn resolve_key(deps: &Deps, api_key: &str) -> Result<Caller, AppError> {
    if !api_key.starts_with("mos_") || api_key.len() > 200 {
        return Err(AppError::Unauthorized);
    }
    let item = deps
        .table
        .get(&lookup_key(&hash_key(api_key)))
        .await?
        .ok_or(AppError::Unauthorized)?;
    if item.get("revoked") != Some(&mostrador_store::Value::Bool(false)) {
        return Err(AppError::Unauthorized);
    }
    let merchant = item
        .get_s("merchant_id")
        .and_then(|m| MerchantId::try_from(m.to_owned()).ok())
        .ok_or(AppError::Unauthorized)?;
    Ok(Caller {
        table: TenantTable::of(deps, &merchant),
        merchant,
        key_id: item.get_s("key_id").unwrap_or_default().to_owned(),
        branch: item.get_s("branch_id").map(str::to_owned),
        role: None,
        actor: item
            .get_s("label")
            .filter(|l| !l.is_empty())
            .map_or_else(|| "API".to_owned(), |l| format!("API: {l}")),
    })
}

/// Input of branch creation or replacement.
#[derive(Debug, Clone, Deserialize)]
pub struct BranchInput {
    pub name: String,
    pub phone_number_id: Option<String>,
    pub postal_code: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub hours: String,
    /// Home delivery; absent or null: pickup only.
    #[serde(default)]
    pub delivery: Option<mostrador_core::conversation::DeliveryOffer>,
    /// Applies the border IVA incentive (8 %); the postal code must be in the región fronteriza.
    #[serde(default)]
    pub border_incentive: bool,
}

fn default_timezone() -> String {
    "America/Mexico_City".to_owned()
}

impl BranchInput {
    /// Field-level validation: a 5-digit postal code, a known timezone, a numeric phone number id.
    pub(crate) fn validate(&self) -> Result<(), AppError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 120 {
            errors.push(FieldError::new("name", "must have 1-120 characters"));
        }
        if self.postal_code.len() != 5 || !self.postal_code.chars().all(|c| c.is_ascii_digit()) {
            errors.push(FieldError::new(
                "postal_code",
                "must be a 5-digit Mexican postal code",
            ));
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError::new(
                "timezone",
                "must be an IANA timezone such as America/Mexico_City",
            ));
        }
        if let Some(p) = &self.phone_number_id {
            if p.is_empty() || p.len() > 32 || !p.chars().all(|c| c.is_ascii_digit()) {
                errors.push(FieldError::new(
                    "phone_number_id",
                    "must be the numeric WhatsApp phone number id",
                ));
            }
        }
        if self.border_incentive && mostrador_core::tax::border_region(&self.postal_code).is_none()
        {
            errors.push(FieldError::new(
                "border_incentive",
                format!("El código postal {} no está en la región fronteriza norte ni sur según el catálogo c_CodigoPostal del SAT: esta sucursal no puede aplicar el IVA de 8 %.", self.postal_code),
            ));
        }
        if self.address.chars().count() > 300 {
            errors.push(FieldError::new("address", "at most 300 characters"));
        }
        if self.hours.chars().count() > 200 {
            errors.push(FieldError::new("hours", "at most 200 characters"));
        }
        if let Some(d) = &self.delivery {
            if !(0..=100_000).contains(&d.fee.0) {
                errors.push(FieldError::new(
                    "delivery.fee",
                    "centavos, de 0 a 100000 ($1,000.00)",
                ));
            }
            if d.free_from.is_some_and(|f| f.0 <= 0) {
                errors.push(FieldError::new(
                    "delivery.free_from",
                    "centavos, mayor que 0",
                ));
            }
            if d.zone.chars().count() > 200 || d.eta.chars().count() > 100 {
                errors.push(FieldError::new(
                    "delivery",
                    "zone: hasta 200 caracteres; eta: hasta 100",
                ));
            }
            if d.postal_codes.len() > 500
                || d.postal_codes
                    .iter()
                    .any(|c| c.len() != 5 || !c.chars().all(|ch| ch.is_ascii_digit()))
            {
                errors.push(FieldError::new(
                    "delivery.postal_codes",
                    "códigos postales de 5 dígitos (hasta 500)",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

fn branch_key(id: &str) -> Key {
    crate::platform::schema::branch(id)
}

/// Where a WhatsApp number routes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRoute {
    pub merchant: MerchantId,
    pub branch_id: String,
}

/// The merchant and branch of a WhatsApp phone number id.
pub async fn route_phone(
    table: &dyn Table,
    phone_number_id: &str,
) -> Result<Option<PhoneRoute>, StoreError> {
    let Some(item) = table.get(&phone_key(phone_number_id)).await? else {
        return Ok(None);
    };
    let merchant = item
        .get_s("merchant_id")
        .and_then(|m| MerchantId::try_from(m.to_owned()).ok());
    Ok(match (merchant, item.get_s("branch_id")) {
        (Some(merchant), Some(branch)) => Some(PhoneRoute {
            merchant,
            branch_id: branch.to_owned(),
        }),
        _ => None,
    })
}

/// Creates a branch; its phone number, if any, must not belong to any other branch.
pub async fn create_branch(
    deps: &Deps,
    caller: &Caller,
    input: BranchInput,
) -> Result<Branch, AppError> {
    input.validate()?;
    if let Some(only) = &caller.branch {
        return Err(AppError::Forbidden(format!(
            "this API key is limited to branch {only}"
        )));
    }
    let branch = Branch {
        id: new_id(deps),
        name: input.name.trim().to_owned(),
        phone_number_id: input.phone_number_id.clone(),
        postal_code: input.postal_code,
        timezone: input.timezone,
        address: input.address,
        hours: input.hours,
        delivery: input.delivery,
        border_incentive: input.border_incentive,
    };
    let mut ops = vec![TxOp::Put {
        item: scoped(&caller.merchant, to_item(&branch_key(&branch.id), &branch)?),
        condition: Some(Condition::NotExists),
    }];
    if let Some(phone) = &branch.phone_number_id {
        ops.push(TxOp::Put {
            // Indexed so platform tools (the local sandbox) can list every registered number.
            item: Item::new(&phone_key(phone))
                .with("merchant_id", caller.merchant.as_str())
                .with("branch_id", branch.id.as_str())
                .with("gsi1pk", "PHONES")
                .with("gsi1sk", phone.as_str()),
            condition: Some(Condition::NotExists),
        });
    }
    match deps.table.transact(ops).await {
        Ok(()) => Ok(branch),
        Err(e) if e.failed_operations() == vec![1] => Err(AppError::Conflict(
            "this WhatsApp phone number id already belongs to a branch".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Puts a logical item under the merchant's prefix, for transactions that mix in platform records.
fn scoped(merchant: &MerchantId, mut item: Item) -> Item {
    if let Some(mostrador_store::Value::S(pk)) = item.attrs.get("pk") {
        let pk = crate::platform::schema::merchant_pk(merchant, pk);
        item.set("pk", pk);
    }
    item
}

/// One branch of the caller's merchant.
pub async fn get_branch(table: &TenantTable, id: &str) -> Result<Option<Branch>, AppError> {
    table
        .get(&branch_key(id))
        .await?
        .as_ref()
        .map(from_item)
        .transpose()
}

/// The branches of the caller's merchant (only its own branch for a branch-limited key).
pub(crate) async fn list_branches(caller: &Caller) -> Result<Vec<Branch>, AppError> {
    let all = list_branches_of(&caller.table).await?;
    Ok(all
        .into_iter()
        .filter(|b| caller.branch.as_ref().is_none_or(|only| *only == b.id))
        .collect())
}

/// Every branch of a merchant (for jobs; callers go through [`list_branches`] and its scope).
pub(crate) async fn list_branches_of(table: &TenantTable) -> Result<Vec<Branch>, AppError> {
    let page = table
        .query(
            Query::partition(crate::platform::schema::BRANCHES)
                .prefix(crate::platform::schema::BRANCH_PREFIX),
        )
        .await?;
    page.items.iter().map(from_item).collect()
}

/// Changes a branch's name, address, timezone or postal code (the phone number is fixed once set).
pub(crate) async fn update_branch(
    caller: &Caller,
    id: &str,
    input: BranchInput,
) -> Result<Branch, AppError> {
    input.validate()?;
    caller.check_branch(id)?;
    let mut branch = get_branch(&caller.table, id)
        .await?
        .ok_or_else(|| AppError::NotFound("branch".into()))?;
    if input.phone_number_id.is_some() && input.phone_number_id != branch.phone_number_id {
        return Err(AppError::Validation(vec![FieldError::new(
            "phone_number_id",
            "cannot be changed; create a new branch",
        )]));
    }
    branch.name = input.name.trim().to_owned();
    branch.postal_code = input.postal_code;
    branch.timezone = input.timezone;
    branch.address = input.address;
    branch.hours = input.hours;
    branch.delivery = input.delivery;
    branch.border_incentive = input.border_incentive;
    caller
        .table
        .put(to_item(&branch_key(id), &branch)?, Some(Condition::Exists))
        .await?;
    Ok(branch)
}

#[cfg(test)]
mod tests {
    use super::{Caller, Scope};
    use crate::platform::tenant::{MerchantId, TenantTable};
    use mostrador_core::accounts::Role;

    fn caller(role: Option<Role>, branch: Option<&str>) -> Caller {
        let clock = std::sync::Arc::new(mostrador_core::FixedClock::at(chrono::Utc::now()));
        let db = mostrador_store::sqlite::Database::in_memory().expect("db");
        let merchant = MerchantId::try_from("M1".to_owned()).expect("id");
        Caller {
            table: TenantTable::new(
                std::sync::Arc::new(mostrador_store::sqlite::SqliteTable::new(db, clock)),
                std::sync::Arc::new(mostrador_store::Pseudonyms::new([7; 32])),
                &merchant,
            ),
            merchant,
            key_id: "K1".into(),
            branch: branch.map(str::to_owned),
            role,
            actor: "prueba".into(),
        }
    }

    #[test]
    fn only_the_owner_or_a_whole_merchant_key_holds_the_owners_settings() {
        assert!(caller(Some(Role::Owner), None).check_owner().is_ok());
        assert!(
            caller(None, None).check_owner().is_ok(),
            "a full-merchant API key"
        );
        // A manager runs every branch's day, but not payments, invoicing, WhatsApp, webhooks, keys.
        assert!(caller(Some(Role::Manager), None).check_owner().is_err());
        assert!(caller(Some(Role::Staff), Some("B1")).check_owner().is_err());
        assert!(
            caller(None, Some("B1")).check_owner().is_err(),
            "a branch key"
        );
    }

    #[test]
    fn a_branch_scope_sees_its_number_or_its_branch_and_nothing_unknown() {
        let centro = Scope::Branch {
            branch_id: "B1".into(),
            number: Some("100".into()),
        };
        assert!(centro.allows(Some("100"), None));
        assert!(centro.allows(Some("100"), Some("B2")), "the number decides");
        assert!(
            !centro.allows(Some("200"), Some("B1")),
            "the number decides"
        );
        assert!(
            centro.allows(None, Some("B1")),
            "older records carry the branch only"
        );
        assert!(!centro.allows(None, Some("B2")));
        assert!(!centro.allows(None, None), "unknown is hidden");
        let no_number = Scope::Branch {
            branch_id: "B3".into(),
            number: None,
        };
        assert!(!no_number.allows(Some("100"), None));
        assert!(Scope::All.allows(None, None));
    }
}
