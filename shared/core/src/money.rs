//! Money in Mexican pesos as integer centavos. Never floats.

use serde::{Deserialize, Serialize};

/// An amount in centavos (1 MXN = 100 centavos).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Centavos(pub i64);

impl Centavos {
    /// Zero pesos.
    pub const ZERO: Centavos = Centavos(0);

    /// Sum that fails instead of overflowing.
    pub fn checked_add(self, other: Centavos) -> Option<Centavos> {
        self.0.checked_add(other.0).map(Centavos)
    }

    /// Product by a quantity that fails instead of overflowing.
    pub fn checked_mul(self, qty: u32) -> Option<Centavos> {
        self.0.checked_mul(i64::from(qty)).map(Centavos)
    }

    /// As customers read it: `$1,250.50`.
    pub fn display_mxn(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let pesos = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in pesos.chars().enumerate() {
            if i > 0 && (pesos.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{sign}${grouped}.{:02}", abs % 100)
    }

    /// Decimal pesos with two decimals, as providers that count in pesos read them: `20050` → `200.50`.
    pub fn pesos_text(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Parses `"149.90"`, `"149.9"` or `"149"` pesos exactly (no float round trip).
    pub fn parse_pesos(text: &str) -> Option<Centavos> {
        let text = text.trim();
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        if int.is_empty()
            || !int.chars().all(|c| c.is_ascii_digit())
            || frac.len() > 2
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let pesos: i64 = int.parse().ok()?;
        let cents: i64 = format!("{frac:0<2}").parse().ok()?;
        pesos.checked_mul(100)?.checked_add(cents).map(Centavos)
    }
}

/// `amount` spread over parts in proportion to `weights` (largest remainder, ties to the earlier
/// part), so the shares add up to `amount` to the centavo and no share is above its weight when
/// `amount` is not above their sum. `None` for a negative amount or weight, an amount above the
/// weights' sum, or an overflow.
pub fn spread(amount: Centavos, weights: &[i64]) -> Option<Vec<i64>> {
    let total = weights.iter().try_fold(
        0i64,
        |acc, w| if *w < 0 { None } else { acc.checked_add(*w) },
    )?;
    if amount.0 < 0 || amount.0 > total {
        return None;
    }
    if total == 0 {
        return Some(vec![0; weights.len()]);
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let scaled = i128::from(amount.0) * i128::from(*w);
        shares.push((scaled / i128::from(total)) as i64);
        remainders.push((scaled % i128::from(total), i));
    }
    let mut left = amount.0 - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    Some(shares)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_mexican_price_tag() {
        assert_eq!(Centavos(125_050).display_mxn(), "$1,250.50");
        assert_eq!(Centavos(5).display_mxn(), "$0.05");
        assert_eq!(Centavos(123_456_789).display_mxn(), "$1,234,567.89");
        assert_eq!(Centavos(-1_000).display_mxn(), "-$10.00");
    }

    #[test]
    fn parses_pesos_exactly() {
        assert_eq!(Centavos::parse_pesos("149.90"), Some(Centavos(14_990)));
        assert_eq!(Centavos::parse_pesos("0.1"), Some(Centavos(10)));
        assert_eq!(Centavos::parse_pesos("25"), Some(Centavos(2_500)));
        assert_eq!(Centavos::parse_pesos("1.005"), None);
        assert_eq!(Centavos::parse_pesos("-3"), None);
        for c in [0, 1, 10, 20_050, 999_999] {
            assert_eq!(
                Centavos::parse_pesos(&Centavos(c).pesos_text()),
                Some(Centavos(c))
            );
        }
        assert_eq!(Centavos(-250).pesos_text(), "-2.50");
        assert_eq!(Centavos::parse_pesos("abc"), None);
    }

    #[test]
    fn spreads_to_the_centavo_by_largest_remainder() {
        assert_eq!(spread(Centavos(100), &[50, 50, 50]), Some(vec![34, 33, 33]));
        assert_eq!(spread(Centavos(10), &[999, 1]), Some(vec![10, 0]));
        assert_eq!(spread(Centavos(0), &[5, 5]), Some(vec![0, 0]));
        assert_eq!(spread(Centavos(3), &[1, 1]), None, "more than the weights");
        assert_eq!(spread(Centavos(1), &[-1, 5]), None);
        assert_eq!(spread(Centavos(0), &[0, 0]), Some(vec![0, 0]));
        for amount in 0..=60 {
            let shares = spread(Centavos(amount), &[7, 13, 40]).expect("fits");
            assert_eq!(shares.iter().sum::<i64>(), amount);
            assert!(shares.iter().zip([7, 13, 40]).all(|(s, w)| *s <= w));
        }
    }
}
