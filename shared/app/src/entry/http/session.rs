//! The console's accounts over HTTP: sign in and out, the current session, password changes,
//! staff and invitations, and the platform admin creating a merchant's owner.

use super::auth::{session_token, Admin, Merchant, StaffSession, SESSION_COOKIE};
use super::error::json_error;
use crate::parties::staff::{self, NewInvitation, NewStaff, Session, SignInError, StaffMember};
use crate::platform::error::AppError;
use crate::platform::tenant::MerchantId;
use crate::platform::Deps;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use mostrador_core::accounts::Role;
use serde::Deserialize;
use serde_json::json;

/// Routes of sessions, staff and invitations.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/session", get(current).post(sign_in).delete(sign_out))
        .route("/v1/session/everywhere", post(sign_out_everywhere))
        .route("/v1/me/password", put(change_password))
        .route("/v1/me/two-factor", post(two_factor_begin))
        .route("/v1/me/two-factor/confirm", post(two_factor_confirm))
        .route("/v1/me/two-factor/disable", post(two_factor_disable))
        .route("/v1/staff", get(list_staff).post(invite))
        .route("/v1/invitations/{token}", post(accept))
        .route(
            "/v1/admin/merchants/{merchant_id}/owner",
            post(create_owner),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    email: String,
    password: String,
    /// The authenticator app's code, for an account with a second factor.
    #[serde(default)]
    code: Option<String>,
}

/// Whether the request came to a loopback host (the local stack over plain HTTP): the cookie then
/// goes without `Secure`, which browsers would refuse to send back over http.
fn loopback(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn session_response(headers: &HeaderMap, deps: &Deps, session: Session) -> Response {
    let max_age = (session.expires_at - deps.clock.now_secs()).max(0);
    let body = json!({
        "user": session.member,
        "merchant_id": session.merchant_id,
        "csrf_token": session.csrf_token,
        "expires_at": session.expires_at,
    });
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&session.token, max_age, !loopback(headers)),
    );
    response
}

async fn sign_in(
    State(deps): State<Deps>,
    headers: HeaderMap,
    Json(input): Json<SignIn>,
) -> Response {
    match staff::sign_in(&deps, &input.email, &input.password, input.code.as_deref()).await {
        Ok(session) => session_response(&headers, &deps, session),
        Err(SignInError::WrongCredentials) => json_error(
            StatusCode::UNAUTHORIZED,
            "wrong_credentials",
            "Correo o contraseña incorrectos.",
        ),
        Err(SignInError::Locked(minutes)) => {
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "locked",
                format!(
                    "Demasiados intentos fallidos. Intenta de nuevo en {minutes} minuto{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&(minutes * 60).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Err(SignInError::CodeRequired) => json_error(
            StatusCode::UNAUTHORIZED,
            "code_required",
            "Escribe el código de 6 dígitos de tu app de autenticación.",
        ),
        Err(SignInError::WrongCode) => json_error(
            StatusCode::UNAUTHORIZED,
            "wrong_code",
            "El código no es correcto o ya se usó; espera el siguiente y vuelve a intentar.",
        ),
        Err(SignInError::Store(e)) => e.into_response(),
    }
}

async fn current(StaffSession(session): StaffSession) -> Json<serde_json::Value> {
    Json(json!({
        "user": session.member,
        "merchant_id": session.caller.merchant.to_string(),
        "csrf_token": session.csrf_token,
        "expires_at": session.expires_at,
    }))
}

async fn sign_out(State(deps): State<Deps>, headers: HeaderMap) -> Result<Response, AppError> {
    let parts = {
        let mut request = axum::http::Request::new(());
        *request.headers_mut() = headers.clone();
        request.into_parts().0
    };
    if let Some(token) = session_token(&parts) {
        staff::sign_out(&deps, &token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, !loopback(&headers)));
    Ok(response)
}

async fn sign_out_everywhere(
    headers: HeaderMap,
    StaffSession(session): StaffSession,
) -> Result<Response, AppError> {
    staff::sign_out_everywhere(&session.caller, &session.member.id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, !loopback(&headers)));
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(deps): State<Deps>,
    headers: HeaderMap,
    StaffSession(session): StaffSession,
    Json(input): Json<PasswordChange>,
) -> Result<Response, AppError> {
    let renewed = staff::change_password(
        &deps,
        &session.caller,
        &session.member.id,
        &input.current_password,
        &input.new_password,
    )
    .await?;
    Ok(session_response(&headers, &deps, renewed))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TwoFactorCode {
    code: String,
}

/// `POST /v1/me/two-factor`: a new secret for the signed-in member's authenticator app (its
/// `otpauth://` link and the key for manual entry), pending until confirmed.
async fn two_factor_begin(
    State(deps): State<Deps>,
    StaffSession(session): StaffSession,
) -> Result<Json<staff::TotpEnrollment>, AppError> {
    Ok(Json(
        staff::totp_begin(&deps, &session.caller, &session.member.id).await?,
    ))
}

/// `POST /v1/me/two-factor/confirm`: a code from the app turns the second factor on; other
/// sessions end and this device gets a new one.
async fn two_factor_confirm(
    State(deps): State<Deps>,
    headers: HeaderMap,
    StaffSession(session): StaffSession,
    Json(input): Json<TwoFactorCode>,
) -> Result<Response, AppError> {
    let renewed =
        staff::totp_confirm(&deps, &session.caller, &session.member.id, &input.code).await?;
    Ok(session_response(&headers, &deps, renewed))
}

/// `POST /v1/me/two-factor/disable`: a current code turns the second factor off.
async fn two_factor_disable(
    State(deps): State<Deps>,
    StaffSession(session): StaffSession,
    Json(input): Json<TwoFactorCode>,
) -> Result<Json<StaffMember>, AppError> {
    Ok(Json(
        staff::totp_disable(&deps, &session.caller, &session.member.id, &input.code).await?,
    ))
}

async fn list_staff(Merchant(caller): Merchant) -> Result<Json<serde_json::Value>, AppError> {
    caller.check_owner()?;
    Ok(Json(json!({ "staff": staff::list(&caller.table).await? })))
}

async fn invite(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(input): Json<NewInvitation>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    caller.check_owner()?;
    let (token, expires_at) = staff::invite(&deps, &caller, input).await?;
    let base = deps.config.public_url().to_owned();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "invitation_url": format!("{}/panel#/invitacion/{token}", base.trim_end_matches('/')),
            "expires_at": expires_at,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acceptance {
    password: String,
    #[serde(default)]
    name: Option<String>,
}

async fn accept(
    State(deps): State<Deps>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(input): Json<Acceptance>,
) -> Result<Response, AppError> {
    let session =
        staff::accept_invitation(&deps, &token, &input.password, input.name.as_deref()).await?;
    Ok(session_response(&headers, &deps, session))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOwner {
    email: String,
    #[serde(default)]
    name: String,
    password: String,
}

async fn create_owner(
    _: Admin,
    State(deps): State<Deps>,
    Path(merchant_id): Path<String>,
    Json(input): Json<NewOwner>,
) -> Result<(StatusCode, Json<StaffMember>), AppError> {
    let merchant =
        MerchantId::try_from(merchant_id).map_err(|_| AppError::NotFound("merchant".into()))?;
    if crate::parties::merchants::get_merchant(&deps, &merchant)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("merchant".into()));
    }
    let member = staff::create(
        &deps,
        &merchant,
        NewStaff {
            email: input.email,
            name: input.name,
            role: Role::Owner,
            branch_id: None,
            password: input.password,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(member)))
}
