//! WhatsApp ids (phone numbers) of customers.

/// Normalizes a WhatsApp id: digits only; Mexican mobiles sent as `521` + 10 digits become `52` + 10
/// digits, so that both spellings of one customer are one customer.
pub fn normalize_wa_id(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-'))
        .collect();
    if digits.len() < 8 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if digits.len() == 13 && digits.starts_with("521") {
        return Some(format!("52{}", &digits[3..]));
    }
    Some(digits)
}

/// Every way a normalized id is written in what Meta sends: itself and, for a Mexican mobile
/// (`52` + 10 digits), the `521` form its messages still carry.
pub fn spellings(wa_id: &str) -> Vec<String> {
    let mut out = vec![wa_id.to_owned()];
    if let Some(rest) = wa_id
        .strip_prefix("52")
        .filter(|r| r.len() == 10 && r.chars().all(|c| c.is_ascii_digit()))
    {
        out.push(format!("521{rest}"));
    }
    out
}

/// Whether `raw` is a business-scoped user id (BSUID): Meta's id for a WhatsApp user who may hide
/// their phone number behind a username. Two capital letters (the country), optionally `.ENT` (a
/// parent id shared across portfolios), a period, then 1–128 letters or digits: `MX.1502576394655843`.
/// Kept exactly as Meta sends it.
pub fn is_bsuid(raw: &str) -> bool {
    let mut parts = raw.split('.');
    let country = parts.next().unwrap_or_default();
    let mut rest = parts.next().unwrap_or_default();
    if rest == "ENT" {
        rest = parts.next().unwrap_or_default();
    }
    country.len() == 2
        && country.chars().all(|c| c.is_ascii_uppercase())
        && !rest.is_empty()
        && rest.len() <= 128
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
        && parts.next().is_none()
}

/// The id a customer is known by: the normalized phone number ([`normalize_wa_id`]) or, for a
/// customer whose number Meta withholds, their BSUID exactly as sent.
pub fn customer_id(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if is_bsuid(trimmed) {
        return Some(trimmed.to_owned());
    }
    normalize_wa_id(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mexican_mobile_is_also_written_with_the_old_1() {
        assert_eq!(spellings("525512345678"), ["525512345678", "5215512345678"]);
        assert_eq!(spellings("14155550100"), ["14155550100"]);
        assert_eq!(spellings("MX.1502576394655843"), ["MX.1502576394655843"]);
        for spelled in spellings("525512345678") {
            assert_eq!(normalize_wa_id(&spelled).as_deref(), Some("525512345678"));
        }
    }

    #[test]
    fn business_scoped_ids_are_customers_as_sent() {
        assert!(is_bsuid("MX.1502576394655843"));
        assert!(is_bsuid("US.ENT.11815799212886844830"));
        assert!(is_bsuid("BR.abcDEF123"));
        assert!(!is_bsuid("mx.1502576394655843"));
        assert!(!is_bsuid("MX."));
        assert!(!is_bsuid("MEX.123"));
        assert!(!is_bsuid("MX.12.34"));
        assert!(!is_bsuid("MX.12-34"));
        assert!(!is_bsuid(&format!("MX.{}", "1".repeat(129))));
        assert!(!is_bsuid("525512345678"));
        assert_eq!(
            customer_id("MX.1502576394655843"),
            Some("MX.1502576394655843".into())
        );
        assert_eq!(customer_id("5215512345678"), Some("525512345678".into()));
        assert_eq!(customer_id("MX.12 34"), None);
    }

    #[test]
    fn both_mexican_spellings_are_one_customer() {
        assert_eq!(
            normalize_wa_id("5215512345678"),
            Some("525512345678".into())
        );
        assert_eq!(normalize_wa_id("525512345678"), Some("525512345678".into()));
        assert_eq!(
            normalize_wa_id("+52 1 55 1234 5678".replace(' ', "").as_str()),
            Some("525512345678".into())
        );
    }

    #[test]
    fn other_countries_and_garbage() {
        assert_eq!(normalize_wa_id("14155550123"), Some("14155550123".into()));
        assert_eq!(normalize_wa_id("abc"), None);
        assert_eq!(normalize_wa_id("1234"), None);
    }
}
