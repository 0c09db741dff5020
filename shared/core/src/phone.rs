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

#[cfg(test)]
mod tests {
    use super::*;

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
