//! IVA as merchants in Mexico price: shelf prices usually include it.

use crate::money::Centavos;
use serde::{Deserialize, Serialize};

/// How a product is taxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxTreatment {
    /// IVA 16% (general rate).
    Iva16,
    /// IVA 8% (northern and southern border region incentive).
    Iva8,
    /// IVA 0% (most food, medicines).
    Iva0,
    /// Exempt from IVA.
    Exempt,
}

impl TaxTreatment {
    /// The rate in basis points (16% = 1600).
    pub fn rate_bp(self) -> i64 {
        match self {
            TaxTreatment::Iva16 => 1600,
            TaxTreatment::Iva8 => 800,
            TaxTreatment::Iva0 | TaxTreatment::Exempt => 0,
        }
    }
}

/// A line's amounts: what the customer pays, split into base and IVA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineAmounts {
    /// What the customer pays for the line.
    pub total: Centavos,
    /// The amount before IVA.
    pub base: Centavos,
    /// The IVA in the line.
    pub iva: Centavos,
}

/// Splits a line into base and IVA. With `includes_iva` the unit price is the shelf price (IVA
/// included) and the line total is exactly `unit × qty`; otherwise IVA is added on top. Rounds half up
/// to the centavo, once per line.
pub fn line_amounts(
    unit: Centavos,
    qty: u32,
    tax: TaxTreatment,
    includes_iva: bool,
) -> Option<LineAmounts> {
    let gross = unit.checked_mul(qty)?.0;
    let rate = tax.rate_bp();
    if includes_iva {
        // base = total × 10000 / (10000 + rate), rounded half up.
        let base = div_round(gross.checked_mul(10_000)?, 10_000 + rate);
        Some(LineAmounts {
            total: Centavos(gross),
            base: Centavos(base),
            iva: Centavos(gross - base),
        })
    } else {
        let iva = div_round(gross.checked_mul(rate)?, 10_000);
        Some(LineAmounts {
            total: Centavos(gross.checked_add(iva)?),
            base: Centavos(gross),
            iva: Centavos(iva),
        })
    }
}

/// Integer division rounding half up (amounts are never negative here).
fn div_round(n: i64, d: i64) -> i64 {
    (n + d / 2) / d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shelf_prices_include_iva_and_total_is_exactly_what_is_paid() {
        let l = line_amounts(Centavos(11_600), 1, TaxTreatment::Iva16, true).expect("line");
        assert_eq!(
            l,
            LineAmounts {
                total: Centavos(11_600),
                base: Centavos(10_000),
                iva: Centavos(1_600)
            }
        );
        let odd = line_amounts(Centavos(4_550), 3, TaxTreatment::Iva16, true).expect("line");
        assert_eq!(odd.total, Centavos(13_650));
        assert_eq!(odd.base.0 + odd.iva.0, 13_650);
        assert_eq!(odd.base, Centavos(11_767));
    }

    #[test]
    fn prices_without_iva_get_it_added() {
        let l = line_amounts(Centavos(10_000), 2, TaxTreatment::Iva8, false).expect("line");
        assert_eq!(
            l,
            LineAmounts {
                total: Centavos(21_600),
                base: Centavos(20_000),
                iva: Centavos(1_600)
            }
        );
    }

    #[test]
    fn zero_rate_and_exempt_carry_no_iva() {
        for t in [TaxTreatment::Iva0, TaxTreatment::Exempt] {
            let l = line_amounts(Centavos(8_990), 2, t, true).expect("line");
            assert_eq!((l.total, l.iva), (Centavos(17_980), Centavos::ZERO));
        }
    }
}
