//! Staff accounts of the merchant's console: people with an email and a password (argon2id), a role
//! and, for counter staff, a branch; sessions; invitations; lockout after repeated failures.
//!
//! Passwords are hashed with the `argon2` crate (RustCrypto), Argon2id with its default parameters
//! (19 MiB, 2 passes, 1 lane: OWASP's recommendation). Session and invitation tokens are 32 random
//! bytes; only their SHA-256 is stored, so a copy of the table signs no one in.

use crate::parties::merchants::{self, new_id, Caller};
use crate::platform::error::{AppError, FieldError};
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use mostrador_core::accounts::{
    after_failure, locked_minutes, normalize_email, password_problem, Role, INVITATION_SECONDS,
    SESSION_SECONDS,
};
use mostrador_store::{Condition, Item, Query, Table};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A staff member as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Stored {
    id: String,
    email: String,
    name: String,
    role: Role,
    #[serde(default)]
    branch_id: Option<String>,
    password_hash: String,
    #[serde(default)]
    failures: u32,
    #[serde(default)]
    locked_until: Option<i64>,
    /// Raised by "sign out everywhere" and password changes: older sessions stop working.
    #[serde(default)]
    session_version: u32,
    created_at: String,
    /// The second factor's secret, sealed (a binary attribute of the item, not in the document, so
    /// a move between engines re-seals it like every other secret).
    #[serde(skip)]
    totp: Option<Vec<u8>>,
    /// A secret being enrolled, sealed, until a code from the app confirms it.
    #[serde(skip)]
    totp_pending: Option<Vec<u8>>,
    /// The last time step whose code signed in: a code works once.
    #[serde(default)]
    totp_last_step: Option<u64>,
}

/// A staff member as the console and the API show them (never the hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StaffMember {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub role_label: String,
    pub branch_id: Option<String>,
    pub created_at: String,
    /// Whether signing in also asks for a code from an authenticator app.
    pub two_factor: bool,
}

impl From<&Stored> for StaffMember {
    fn from(s: &Stored) -> Self {
        StaffMember {
            id: s.id.clone(),
            email: s.email.clone(),
            name: s.name.clone(),
            role: s.role,
            role_label: s.role.label().to_owned(),
            branch_id: s.branch_id.clone(),
            created_at: s.created_at.clone(),
            two_factor: s.totp.is_some(),
        }
    }
}

/// A new staff member (by the platform admin for an owner, or through an invitation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub branch_id: Option<String>,
    pub password: String,
}

/// An invitation the owner sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub branch_id: Option<String>,
}

/// Why a sign-in failed.
#[derive(Debug)]
pub enum SignInError {
    /// Unknown email or wrong password (never said which).
    WrongCredentials,
    /// Too many failures in a row: locked for this many more minutes.
    Locked(i64),
    /// The password was right and the account has a second factor: its code is needed.
    CodeRequired,
    /// The second factor's code was wrong, or already used.
    WrongCode,
    /// The store failed.
    Store(AppError),
}

impl From<AppError> for SignInError {
    fn from(e: AppError) -> Self {
        SignInError::Store(e)
    }
}

impl From<mostrador_store::StoreError> for SignInError {
    fn from(e: mostrador_store::StoreError) -> Self {
        SignInError::Store(e.into())
    }
}

/// A signed-in session: the token for the cookie and the CSRF token for unsafe requests.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub csrf_token: String,
    pub member: StaffMember,
    pub merchant_id: String,
    pub expires_at: i64,
}

/// Who a session cookie belongs to.
#[derive(Clone)]
pub struct SessionCaller {
    pub caller: Caller,
    pub member: StaffMember,
    pub csrf_token: String,
    pub expires_at: i64,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An Argon2id hash of a password, in PHC string form.
pub(crate) fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2: {e}")))
}

/// Whether `password` matches a stored hash (constant time inside argon2).
fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash nobody's password matches, verified when the email is unknown so that a wrong email
/// takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

fn invalid(field: &str, reason: &str) -> AppError {
    AppError::Validation(vec![FieldError::new(field, reason)])
}

fn to_item(key: &mostrador_store::Key, stored: &Stored) -> Result<Item, AppError> {
    let mut item = Item::new(key).with(
        "doc",
        serde_json::to_string(stored).map_err(|e| AppError::Internal(e.into()))?,
    );
    if let Some(sealed) = &stored.totp {
        item = item.with("totp", sealed.clone());
    }
    if let Some(sealed) = &stored.totp_pending {
        item = item.with("totp_pending", sealed.clone());
    }
    Ok(item)
}

fn from_item(item: &Item) -> Result<Stored, AppError> {
    let mut stored: Stored = serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
        .map_err(|e| AppError::Internal(e.into()))?;
    let bytes = |name: &str| match item.get(name) {
        Some(mostrador_store::Value::B(b)) => Some(b.clone()),
        _ => None,
    };
    stored.totp = bytes("totp");
    stored.totp_pending = bytes("totp_pending");
    Ok(stored)
}

async fn load(table: &TenantTable, user_id: &str) -> Result<Option<Stored>, AppError> {
    match table.get(&schema::staff_user(user_id)).await? {
        Some(item) => Ok(Some(from_item(&item)?)),
        None => Ok(None),
    }
}

/// A member who must exist (the signed-in one).
async fn member(table: &TenantTable, user_id: &str) -> Result<Stored, AppError> {
    load(table, user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("staff member".into()))
}

async fn store(table: &TenantTable, stored: &Stored) -> Result<(), AppError> {
    table
        .put(to_item(&schema::staff_user(&stored.id), stored)?, None)
        .await?;
    Ok(())
}

/// Checks the role and branch of a new member against the merchant's branches.
async fn check_role(
    table: &TenantTable,
    role: Role,
    branch_id: Option<&str>,
) -> Result<Option<String>, AppError> {
    match (
        role.needs_branch(),
        branch_id.map(str::trim).filter(|b| !b.is_empty()),
    ) {
        (true, None) => Err(invalid(
            "branch_id",
            "el personal de mostrador necesita una sucursal",
        )),
        (true, Some(branch)) => {
            if merchants::get_branch(table, branch).await?.is_none() {
                return Err(invalid("branch_id", "esa sucursal no existe"));
            }
            Ok(Some(branch.to_owned()))
        }
        (false, _) => Ok(None),
    }
}

/// Creates a staff member with a password (the platform admin creating an owner, an accepted
/// invitation). The email is unique across the platform: one person, one merchant.
pub async fn create(
    deps: &Deps,
    merchant: &MerchantId,
    input: NewStaff,
) -> Result<StaffMember, AppError> {
    let email =
        normalize_email(&input.email).ok_or_else(|| invalid("email", "correo no válido"))?;
    if let Some(why) = password_problem(&input.password, &email) {
        return Err(invalid("password", why));
    }
    let name = input.name.trim();
    if name.chars().count() > 120 {
        return Err(invalid("name", "máximo 120 caracteres"));
    }
    let table = TenantTable::of(deps, merchant);
    let branch_id = check_role(&table, input.role, input.branch_id.as_deref()).await?;
    let stored = Stored {
        id: new_id(deps),
        name: if name.is_empty() {
            email.split('@').next().unwrap_or_default().to_owned()
        } else {
            name.to_owned()
        },
        email: email.clone(),
        role: input.role,
        branch_id,
        password_hash: hash_password(&input.password)?,
        failures: 0,
        locked_until: None,
        session_version: 0,
        created_at: deps.clock.now().to_rfc3339(),
        totp: None,
        totp_pending: None,
        totp_last_step: None,
    };
    let claimed = deps
        .table
        .put(
            Item::new(&schema::staff_email(&email))
                .with("merchant_id", merchant.as_str())
                .with("user_id", stored.id.as_str()),
            Some(Condition::NotExists),
        )
        .await;
    match claimed {
        Ok(()) => {}
        Err(mostrador_store::StoreError::ConditionFailed { .. }) => {
            return Err(AppError::Conflict(
                "ya existe una cuenta con ese correo".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    store(&table, &stored).await?;
    tracing::info!(merchant = %merchant, user = %stored.id, role = ?stored.role, "staff member created");
    Ok(StaffMember::from(&stored))
}

/// The merchant's staff.
pub async fn list(table: &TenantTable) -> Result<Vec<StaffMember>, AppError> {
    let page = table
        .query(Query::partition(schema::STAFF_PK).limit(500))
        .await?;
    page.items
        .iter()
        .map(|item| from_item(item).map(|s| StaffMember::from(&s)))
        .collect()
}

/// Signs in: a session when the password matches (and, with a second factor, the code of the
/// authenticator app: without one the answer is [`SignInError::CodeRequired`]); five failures in a
/// row — a wrong password or a wrong code — lock the account for fifteen minutes (the attempt that
/// finds it locked is not even checked).
pub async fn sign_in(
    deps: &Deps,
    email: &str,
    password: &str,
    code: Option<&str>,
) -> Result<Session, SignInError> {
    let now = deps.clock.now_secs();
    let email = normalize_email(email).unwrap_or_default();
    let owner = if email.is_empty() || password.chars().count() > 1_000 {
        None
    } else {
        deps.table.get(&schema::staff_email(&email)).await?
    };
    let found = match owner {
        Some(item) => {
            let merchant = item
                .get_s("merchant_id")
                .and_then(|m| MerchantId::try_from(m.to_owned()).ok());
            let user = item.get_s("user_id").map(str::to_owned);
            match (merchant, user) {
                (Some(merchant), Some(user)) => {
                    let table = TenantTable::of(deps, &merchant);
                    load(&table, &user).await?.map(|s| (merchant, table, s))
                }
                _ => None,
            }
        }
        None => None,
    };
    let Some((merchant, table, mut stored)) = found else {
        let _ = verify_password(password, decoy_hash());
        return Err(SignInError::WrongCredentials);
    };
    if let Some(minutes) = locked_minutes(stored.locked_until, now) {
        return Err(SignInError::Locked(minutes));
    }
    let password_ok = verify_password(password, &stored.password_hash);
    // The second factor, once the password is right: no code asks for one (not a failure); a wrong
    // or reused code counts as a failure, as a wrong password does.
    let mut code_wrong = false;
    if password_ok {
        if let Some(sealed) = stored.totp.clone() {
            let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(SignInError::CodeRequired);
            };
            let secret = open_totp(deps, &merchant, &stored.id, &sealed).await?;
            match accepted_code(&secret, &stored, code, deps.clock.now_secs())? {
                Some(step) => stored.totp_last_step = Some(step),
                None => code_wrong = true,
            }
        }
    }
    if !password_ok || code_wrong {
        let (failures, lock) = after_failure(stored.failures, now);
        stored.failures = failures;
        stored.locked_until = lock;
        store(&table, &stored).await?;
        tracing::warn!(merchant = %merchant, user = %stored.id, failures, locked = lock.is_some(), second_factor = code_wrong, "console sign-in failed");
        return Err(match (lock, code_wrong) {
            (Some(until), _) => SignInError::Locked(locked_minutes(Some(until), now).unwrap_or(15)),
            (None, true) => SignInError::WrongCode,
            (None, false) => SignInError::WrongCredentials,
        });
    }
    if stored.failures > 0 || stored.locked_until.is_some() || stored.totp.is_some() {
        stored.failures = 0;
        stored.locked_until = None;
        store(&table, &stored).await?;
    }
    Ok(open_session(deps, &merchant, &stored).await?)
}

async fn open_session(
    deps: &Deps,
    merchant: &MerchantId,
    stored: &Stored,
) -> Result<Session, AppError> {
    let token = random_token();
    let csrf_token = random_token();
    let expires_at = deps.clock.now_secs() + SESSION_SECONDS;
    deps.table
        .put(
            Item::new(&schema::staff_session(&sha256_hex(&token)))
                .with("merchant_id", merchant.as_str())
                .with("user_id", stored.id.as_str())
                .with("csrf", csrf_token.as_str())
                .with("version", i64::from(stored.session_version))
                .with("ttl", expires_at),
            Some(Condition::NotExists),
        )
        .await?;
    tracing::info!(merchant = %merchant, user = %stored.id, "console session opened");
    Ok(Session {
        token,
        csrf_token,
        member: StaffMember::from(stored),
        merchant_id: merchant.to_string(),
        expires_at,
    })
}

/// The caller behind a session token: the merchant, the member and their scope (counter staff:
/// their branch only, as a branch API key). `Unauthorized` for unknown, expired or revoked sessions.
pub async fn resolve_session(deps: &Deps, token: &str) -> Result<SessionCaller, AppError> {
    if token.is_empty() || token.len() > 200 {
        return Err(AppError::Unauthorized);
    }
    let now = deps.clock.now_secs();
    let item = deps
        .table
        .get(&schema::staff_session(&sha256_hex(token)))
        .await?
        .filter(|i| !i.is_expired(now))
        .ok_or(AppError::Unauthorized)?;
    let merchant = item
        .get_s("merchant_id")
        .and_then(|m| MerchantId::try_from(m.to_owned()).ok())
        .ok_or(AppError::Unauthorized)?;
    let table = TenantTable::of(deps, &merchant);
    let stored = load(&table, item.get_s("user_id").unwrap_or_default())
        .await?
        .ok_or(AppError::Unauthorized)?;
    if item.get_n("version") != Some(i64::from(stored.session_version)) {
        return Err(AppError::Unauthorized);
    }
    let member = StaffMember::from(&stored);
    Ok(SessionCaller {
        caller: Caller {
            table,
            merchant,
            key_id: format!("staff:{}", stored.id),
            branch: if stored.role.needs_branch() {
                stored.branch_id.clone()
            } else {
                None
            },
            role: Some(stored.role),
            actor: stored.name.clone(),
        },
        member,
        csrf_token: item.get_s("csrf").unwrap_or_default().to_owned(),
        expires_at: item.ttl().unwrap_or(now),
    })
}

/// Whether a request's CSRF header matches the session's token (constant time).
pub(crate) fn csrf_matches(session: &SessionCaller, header: Option<&str>) -> bool {
    let expected = session.csrf_token.as_bytes();
    !expected.is_empty() && header.is_some_and(|h| bool::from(h.trim().as_bytes().ct_eq(expected)))
}

/// Ends one session.
pub(crate) async fn sign_out(deps: &Deps, token: &str) -> Result<(), AppError> {
    deps.table
        .delete(&schema::staff_session(&sha256_hex(token)), None)
        .await?;
    Ok(())
}

/// Ends every session of a member, on every device.
pub(crate) async fn sign_out_everywhere(caller: &Caller, user_id: &str) -> Result<(), AppError> {
    let mut stored = member(&caller.table, user_id).await?;
    stored.session_version = stored.session_version.saturating_add(1);
    store(&caller.table, &stored).await?;
    tracing::info!(merchant = %caller.merchant, user = %user_id, "every console session of a member ended");
    Ok(())
}

/// Changes a member's password after checking the current one; every other session ends and a new
/// one is opened for this device.
pub(crate) async fn change_password(
    deps: &Deps,
    caller: &Caller,
    user_id: &str,
    current: &str,
    new: &str,
) -> Result<Session, AppError> {
    let mut stored = member(&caller.table, user_id).await?;
    if !verify_password(current, &stored.password_hash) {
        return Err(invalid(
            "current_password",
            "la contraseña actual no es correcta",
        ));
    }
    if let Some(why) = password_problem(new, &stored.email) {
        return Err(invalid("new_password", why));
    }
    stored.password_hash = hash_password(new)?;
    stored.session_version = stored.session_version.saturating_add(1);
    store(&caller.table, &stored).await?;
    open_session(deps, &caller.merchant, &stored).await
}

fn totp_context(merchant: &MerchantId, user_id: &str) -> String {
    crate::platform::sealed::Sealing::Totp { user_id }.context(merchant)
}

async fn open_totp(
    deps: &Deps,
    merchant: &MerchantId,
    user_id: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, AppError> {
    deps.keys
        .open(sealed, &totp_context(merchant, user_id))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// The authenticator-app generator of a secret (SHA-1, 6 digits, 30 s: what every app reads from
/// an `otpauth://` link), named for the app's list.
fn totp_of(secret: &[u8], email: &str) -> Result<totp_rs::TOTP, AppError> {
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        mostrador_core::accounts::TOTP_SKEW_STEPS as u8,
        mostrador_core::accounts::TOTP_STEP_SECONDS,
        secret.to_vec(),
        Some("mostrador".into()),
        email.to_owned(),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("totp: {e}")))
}

/// The step a code proves for this member, per the core rule (a step at most once).
fn accepted_code(
    secret: &[u8],
    stored: &Stored,
    code: &str,
    now: i64,
) -> Result<Option<u64>, AppError> {
    let totp = totp_of(secret, &stored.email)?;
    let step = mostrador_core::accounts::TOTP_STEP_SECONDS;
    Ok(mostrador_core::accounts::accepted_step(
        code,
        u64::try_from(now).unwrap_or(0),
        stored.totp_last_step,
        |s| totp.generate(s * step),
    ))
}

/// A second factor being enrolled: the secret for manual entry and the link an authenticator app
/// opens (shown once, until confirmed).
#[derive(Debug, Clone, Serialize)]
pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_url: String,
    /// The link as a QR code (SVG), for an app on another device than the console.
    pub qr_svg: String,
}

/// Starts enrolling a second factor: a new 160-bit secret, kept sealed as pending until a code
/// confirms it (an enabled one stays in force meanwhile).
pub async fn totp_begin(
    deps: &Deps,
    caller: &Caller,
    user_id: &str,
) -> Result<TotpEnrollment, AppError> {
    let mut stored = member(&caller.table, user_id).await?;
    let mut secret = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    let totp = totp_of(&secret, &stored.email)?;
    stored.totp_pending = Some(
        deps.keys
            .seal(&secret, &totp_context(&caller.merchant, user_id))
            .await
            .map_err(|e| AppError::Internal(e.into()))?,
    );
    store(&caller.table, &stored).await?;
    let otpauth_url = totp.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("qr: {e}")))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(TotpEnrollment {
        secret: totp.get_secret_base32(),
        otpauth_url,
        qr_svg,
    })
}

/// Confirms the pending second factor with a code from the app: from now on signing in asks for a
/// code; every other session ends and this device gets a new one.
pub async fn totp_confirm(
    deps: &Deps,
    caller: &Caller,
    user_id: &str,
    code: &str,
) -> Result<Session, AppError> {
    let mut stored = member(&caller.table, user_id).await?;
    let Some(pending) = stored.totp_pending.clone() else {
        return Err(AppError::Conflict(
            "primero genera el código QR o la clave para tu app".into(),
        ));
    };
    let secret = open_totp(deps, &caller.merchant, user_id, &pending).await?;
    stored.totp_last_step = None;
    let Some(step) = accepted_code(&secret, &stored, code, deps.clock.now_secs())? else {
        return Err(invalid(
            "code",
            "el código no coincide: revisa que la hora de tu teléfono sea la correcta",
        ));
    };
    stored.totp = Some(pending);
    stored.totp_pending = None;
    stored.totp_last_step = Some(step);
    stored.session_version = stored.session_version.saturating_add(1);
    store(&caller.table, &stored).await?;
    tracing::info!(merchant = %caller.merchant, user = %user_id, "second factor enabled");
    open_session(deps, &caller.merchant, &stored).await
}

/// Turns the second factor off, proven by a current code.
pub async fn totp_disable(
    deps: &Deps,
    caller: &Caller,
    user_id: &str,
    code: &str,
) -> Result<StaffMember, AppError> {
    let mut stored = member(&caller.table, user_id).await?;
    let Some(sealed) = stored.totp.clone() else {
        return Ok(StaffMember::from(&stored));
    };
    let secret = open_totp(deps, &caller.merchant, user_id, &sealed).await?;
    if accepted_code(&secret, &stored, code, deps.clock.now_secs())?.is_none() {
        return Err(invalid("code", "el código no es correcto o ya se usó"));
    }
    stored.totp = None;
    stored.totp_pending = None;
    stored.totp_last_step = None;
    store(&caller.table, &stored).await?;
    tracing::info!(merchant = %caller.merchant, user = %user_id, "second factor disabled");
    Ok(StaffMember::from(&stored))
}

/// An invitation to join the merchant's console; the link's token is returned once.
pub(crate) async fn invite(
    deps: &Deps,
    caller: &Caller,
    input: NewInvitation,
) -> Result<(String, i64), AppError> {
    let email =
        normalize_email(&input.email).ok_or_else(|| invalid("email", "correo no válido"))?;
    if input.role == Role::Owner {
        return Err(invalid(
            "role",
            "solo puede haber una dueña o dueño por cuenta",
        ));
    }
    let branch_id = check_role(&caller.table, input.role, input.branch_id.as_deref()).await?;
    if deps
        .table
        .get(&schema::staff_email(&email))
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(
            "ya existe una cuenta con ese correo".into(),
        ));
    }
    let token = random_token();
    let expires_at = deps.clock.now_secs() + INVITATION_SECONDS;
    let mut item = Item::new(&schema::staff_invitation(&sha256_hex(&token)))
        .with("merchant_id", caller.merchant.as_str())
        .with("email", email.as_str())
        .with("name", input.name.trim())
        .with(
            "role",
            serde_json::to_value(input.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        )
        .with("ttl", expires_at);
    if let Some(branch) = branch_id {
        item.set("branch_id", branch);
    }
    deps.table.put(item, Some(Condition::NotExists)).await?;
    tracing::info!(merchant = %caller.merchant, "staff invitation created");
    Ok((token, expires_at))
}

/// Accepts an invitation with the new member's password: the account exists and is signed in.
pub(crate) async fn accept_invitation(
    deps: &Deps,
    token: &str,
    password: &str,
    name: Option<&str>,
) -> Result<Session, AppError> {
    let now = deps.clock.now_secs();
    let key = schema::staff_invitation(&sha256_hex(token));
    let item = deps
        .table
        .get(&key)
        .await?
        .filter(|i| !i.is_expired(now))
        .ok_or_else(|| AppError::NotFound("invitación (venció o ya se usó)".into()))?;
    let merchant = item
        .get_s("merchant_id")
        .and_then(|m| MerchantId::try_from(m.to_owned()).ok())
        .ok_or_else(|| AppError::NotFound("invitation".into()))?;
    let role: Role = serde_json::from_value(serde_json::Value::String(
        item.get_s("role").unwrap_or_default().to_owned(),
    ))
    .map_err(|_| AppError::NotFound("invitation".into()))?;
    let member = create(
        deps,
        &merchant,
        NewStaff {
            email: item.get_s("email").unwrap_or_default().to_owned(),
            name: name
                .map(str::to_owned)
                .unwrap_or_else(|| item.get_s("name").unwrap_or_default().to_owned()),
            role,
            branch_id: item.get_s("branch_id").map(str::to_owned),
            password: password.to_owned(),
        },
    )
    .await?;
    deps.table.delete(&key, None).await?;
    let table = TenantTable::of(deps, &merchant);
    let stored = load(&table, &member.id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("member vanished")))?;
    open_session(deps, &merchant, &stored).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("paracetamol-y-cafe").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("paracetamol-y-cafe", &hash));
        assert!(!verify_password("paracetamol-y-te", &hash));
        assert!(!verify_password("anything", "not a phc string"));
        assert_ne!(
            hash,
            hash_password("paracetamol-y-cafe").expect("hash"),
            "salted"
        );
    }
}
