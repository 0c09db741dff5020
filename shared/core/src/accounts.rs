//! Rules of staff accounts for the merchant's console: emails, passwords, roles, lockout, sessions.

use serde::{Deserialize, Serialize};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 hashes anything, but a megabyte of "password" is an attack).
pub const MAX_PASSWORD_CHARS: usize = 200;
/// Failed sign-ins in a row that lock an account.
pub const LOCK_AFTER_FAILURES: u32 = 5;
/// How long a locked account stays locked.
pub const LOCK_SECONDS: i64 = 15 * 60;
/// How long a session lasts from sign-in, whatever happens.
pub const SESSION_SECONDS: i64 = 12 * 60 * 60;
/// How long an invitation can be accepted.
pub const INVITATION_SECONDS: i64 = 7 * 24 * 60 * 60;

/// Seconds one code of the second factor lasts (RFC 6238's default, what authenticator apps use).
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Steps before and after the current one whose code is still accepted: a phone's clock a little
/// off, a code typed as it changed.
pub const TOTP_SKEW_STEPS: u64 = 1;

/// Which time step a one-time code proves, if any: the code of the current step or one step
/// either side (`code_at(step)` gives a step's code), never a step at or before `last_used` — a
/// code read over a shoulder or replayed is refused once used. Codes are compared in constant
/// time; anything but six digits is refused without comparing.
pub fn accepted_step(
    code: &str,
    now_secs: u64,
    last_used: Option<u64>,
    code_at: impl Fn(u64) -> String,
) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now_secs / TOTP_STEP_SECONDS;
    let mut found = None;
    for step in current.saturating_sub(TOTP_SKEW_STEPS)..=current + TOTP_SKEW_STEPS {
        let expected = code_at(step);
        // Constant time: every candidate is compared whole, whichever matches.
        let same = expected.len() == code.len()
            && expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same && last_used.is_none_or(|last| step > last) {
            found = Some(step);
        }
    }
    found
}

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including staff, API keys, payments and invoicing settings.
    Owner,
    /// Every branch's daily work: orders, chats, catalog, stock, invoices, reports.
    Manager,
    /// One branch's daily work, the same scope as a branch API key.
    Staff,
}

impl Role {
    /// How the role reads in the console.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Dueña o dueño",
            Role::Manager => "Encargado",
            Role::Staff => "Mostrador",
        }
    }

    /// Whether the role is limited to one branch.
    pub fn needs_branch(self) -> bool {
        self == Role::Staff
    }
}

/// An email as stored and compared: trimmed and lowercase; `None` when it is not an address.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let valid = !local.is_empty()
        && local.len() <= 64
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
        && email.matches('@').count() == 1;
    valid.then_some(email)
}

/// Why a new password is refused, in Spanish for the person choosing it; `None` when it is fine.
pub fn password_problem(password: &str, email: &str) -> Option<&'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some("La contraseña debe tener al menos 10 caracteres.");
    }
    if chars > MAX_PASSWORD_CHARS {
        return Some("La contraseña es demasiado larga (máximo 200 caracteres).");
    }
    let lower = password.to_lowercase();
    if !email.is_empty() && lower.contains(&email.to_lowercase()) {
        return Some("La contraseña no puede contener tu correo.");
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Some("La contraseña no puede ser un solo carácter repetido.");
    }
    const COMMON: &[&str] = &[
        "1234567890",
        "0123456789",
        "contraseña",
        "contrasena",
        "password12",
        "qwertyuiop",
        "mostrador1",
    ];
    if COMMON.iter().any(|c| lower.starts_with(c)) && chars <= 12 {
        return Some("Esa contraseña es demasiado común; elige otra.");
    }
    None
}

/// After one more failed sign-in: the failures so far and, when they reach the limit, the time
/// (epoch seconds) the account unlocks.
pub fn after_failure(failures_before: u32, now_secs: i64) -> (u32, Option<i64>) {
    let failures = failures_before.saturating_add(1);
    if failures >= LOCK_AFTER_FAILURES {
        (failures, Some(now_secs + LOCK_SECONDS))
    } else {
        (failures, None)
    }
}

/// Whether an account is locked now, and for how many more whole minutes (rounded up).
pub fn locked_minutes(locked_until: Option<i64>, now_secs: i64) -> Option<i64> {
    let until = locked_until?;
    (until > now_secs).then(|| (until - now_secs + 59) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in code per step: what matters here is which steps are accepted.
    fn code_at(step: u64) -> String {
        format!("{:06}", (step * 7919) % 1_000_000)
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_twice() {
        let now = 1_800_000_000;
        let step = now / TOTP_STEP_SECONDS;
        assert_eq!(
            accepted_step(&code_at(step), now, None, code_at),
            Some(step)
        );
        assert_eq!(
            accepted_step(&code_at(step - 1), now, None, code_at),
            Some(step - 1)
        );
        assert_eq!(
            accepted_step(&code_at(step + 1), now, None, code_at),
            Some(step + 1)
        );
        assert_eq!(accepted_step(&code_at(step - 2), now, None, code_at), None);
        assert_eq!(accepted_step(&code_at(step + 2), now, None, code_at), None);
        // Used once: the same code, or an older one, is refused.
        assert_eq!(
            accepted_step(&code_at(step), now, Some(step), code_at),
            None
        );
        assert_eq!(
            accepted_step(&code_at(step - 1), now, Some(step), code_at),
            None
        );
        assert_eq!(
            accepted_step(&code_at(step + 1), now, Some(step), code_at),
            Some(step + 1)
        );
        // Spaces around are forgiven; anything but six digits is not a code.
        assert_eq!(
            accepted_step(&format!(" {} ", code_at(step)), now, None, code_at),
            Some(step)
        );
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(accepted_step(bad, now, None, code_at), None, "{bad:?}");
        }
    }

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Duena@FarmaciaSanJuan.MX "),
            Some("duena@farmaciasanjuan.mx".into())
        );
        for bad in [
            "",
            "sin-arroba",
            "a@b",
            "@dominio.mx",
            "a@.mx",
            "a@mx.",
            "a b@c.mx",
            "a@@b.mx",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(password_problem("corta", "").is_some());
        assert!(password_problem("aaaaaaaaaaaa", "").is_some());
        assert!(password_problem("1234567890", "").is_some());
        assert!(password_problem("ana@farmacia.mx2024", "ana@farmacia.mx").is_some());
        assert!(password_problem(&"x".repeat(201), "").is_some());
        assert_eq!(
            password_problem("paracetamol-y-cafe", "ana@farmacia.mx"),
            None
        );
    }

    #[test]
    fn five_failures_in_a_row_lock_for_fifteen_minutes() {
        let now = 1_000_000;
        let mut failures = 0;
        for _ in 0..4 {
            let (f, lock) = after_failure(failures, now);
            assert_eq!(lock, None);
            failures = f;
        }
        let (failures, lock) = after_failure(failures, now);
        assert_eq!((failures, lock), (5, Some(now + 900)));
        assert_eq!(locked_minutes(lock, now), Some(15));
        assert_eq!(locked_minutes(lock, now + 899), Some(1));
        assert_eq!(locked_minutes(lock, now + 900), None);
        assert_eq!(locked_minutes(None, now), None);
    }

    #[test]
    fn only_counter_staff_is_tied_to_a_branch() {
        assert!(Role::Staff.needs_branch());
        assert!(!Role::Manager.needs_branch());
        assert!(!Role::Owner.needs_branch());
    }
}
