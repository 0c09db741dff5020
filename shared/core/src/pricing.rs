//! What WhatsApp messages cost, estimated: Meta charges per delivered template message by category
//! (marketing, utility, authentication; service where it applies) and by the recipient's country.
//! Rates are written as Meta's rate card prints them — a decimal amount per message with up to four
//! decimals (`"0.0362"`) — and kept in ten-thousandths of the currency unit, so estimates add up
//! exactly (never floating point).

use std::collections::BTreeMap;

/// The categories Meta prices.
pub const CATEGORIES: [&str; 4] = ["marketing", "utility", "authentication", "service"];

/// The highest rate accepted per message (10.0000 in the rate's currency).
pub const MAX_RATE: u64 = 100_000;

/// An amount in ten-thousandths of a currency unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Fine(pub u64);

impl Fine {
    /// Reads `"0.0362"`, `"0.05"`, `"1"`: at most four decimals, no sign, at most [`MAX_RATE`].
    pub fn parse(s: &str) -> Result<Fine, String> {
        let s = s.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 4 || whole.len() > 2
        {
            return Err("a decimal amount with at most 4 decimals, e.g. 0.0362".into());
        }
        let whole: u64 = whole.parse().map_err(|_| "not a number".to_owned())?;
        let frac: u64 = format!("{frac:0<4}")
            .parse()
            .map_err(|_| "not a number".to_owned())?;
        let fine = whole * 10_000 + frac;
        if fine > MAX_RATE {
            return Err("at most 10.0000 per message".into());
        }
        Ok(Fine(fine))
    }

    /// Written with four decimals: `12.3456`.
    pub fn display(self) -> String {
        format!("{}.{:04}", self.0 / 10_000, self.0 % 10_000)
    }
}

/// The estimated cost of `counts` (billable messages per category) at `rates` (per message); a
/// category without a rate costs nothing.
pub fn estimate(counts: &BTreeMap<String, u64>, rates: &BTreeMap<String, Fine>) -> Fine {
    Fine(
        counts
            .iter()
            .map(|(category, n)| rates.get(category).map_or(0, |r| r.0.saturating_mul(*n)))
            .fold(0u64, u64::saturating_add),
    )
}

/// The category a template message is billed in, from the category it was sent under: security
/// alerts (fraud, account access) go out as utility templates.
pub fn billing_category(sent_as: &str) -> &str {
    match sent_as {
        "security" | "transactional" => "utility",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_the_rate_card_prints_them() {
        assert_eq!(Fine::parse("0.0362"), Ok(Fine(362)));
        assert_eq!(Fine::parse("0.05"), Ok(Fine(500)));
        assert_eq!(Fine::parse("1"), Ok(Fine(10_000)));
        assert_eq!(Fine::parse(" 0.0086 "), Ok(Fine(86)));
        for bad in [
            "", "-0.01", "0.00001", "abc", "1e-3", "0,05", "11", ".5", "100.0",
        ] {
            assert!(Fine::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Fine(362).display(), "0.0362");
        assert_eq!(Fine(123_456).display(), "12.3456");
    }

    #[test]
    fn an_estimate_is_each_category_at_its_rate() {
        let rates: BTreeMap<String, Fine> = [
            ("marketing".to_owned(), Fine(362)),
            ("utility".to_owned(), Fine(86)),
        ]
        .into();
        let counts: BTreeMap<String, u64> = [
            ("marketing".to_owned(), 1_000),
            ("utility".to_owned(), 3),
            ("authentication".to_owned(), 7),
        ]
        .into();
        // 1,000 × 0.0362 + 3 × 0.0086 = 36.2258; authentication has no rate here.
        assert_eq!(estimate(&counts, &rates).display(), "36.2258");
        assert_eq!(estimate(&BTreeMap::new(), &rates), Fine(0));
    }

    #[test]
    fn security_alerts_are_billed_as_utility() {
        assert_eq!(billing_category("security"), "utility");
        assert_eq!(billing_category("marketing"), "marketing");
        assert_eq!(billing_category("authentication"), "authentication");
    }
}
