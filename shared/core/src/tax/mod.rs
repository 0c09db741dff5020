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

/// A region where the IVA incentive of the border decrees (8 % instead of 16 %) applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BorderRegion {
    /// Región fronteriza norte (Baja California, Sonora, Chihuahua, Coahuila, Nuevo León, Tamaulipas).
    Norte,
    /// Región fronteriza sur (Chiapas, Tabasco, Campeche, Quintana Roo).
    Sur,
}

/// SAT's c_CodigoPostal postal codes with the border incentive, as ranges (see the generator next
/// to it).
const BORDER_POSTAL_CODES: &str = include_str!("border_postal_codes.txt");

/// The border region of a postal code, per SAT's c_CodigoPostal; `None` outside both regions or for
/// something that is not five digits.
pub fn border_region(postal_code: &str) -> Option<BorderRegion> {
    let code = postal_code.trim();
    if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code: u32 = code.parse().ok()?;
    BORDER_POSTAL_CODES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let mut parts = line.split_whitespace();
            let first: u32 = parts.next()?.parse().ok()?;
            let last: u32 = parts.next()?.parse().ok()?;
            let region = match parts.next()? {
                "1" => BorderRegion::Norte,
                "2" => BorderRegion::Sur,
                _ => return None,
            };
            (first..=last).contains(&code).then_some(region)
        })
}

/// Why a tax treatment cannot be used at a branch: IVA 8 % exists only in the border regions, for
/// merchants who declared the incentive to SAT. The text is for the merchant, in Spanish.
pub fn treatment_problem(
    treatment: TaxTreatment,
    branch_postal_code: &str,
    incentive_declared: bool,
) -> Option<String> {
    if treatment != TaxTreatment::Iva8 {
        return None;
    }
    if border_region(branch_postal_code).is_none() {
        return Some(format!(
            "El IVA de 8 % solo aplica en la región fronteriza norte o sur, y el código postal {} de la sucursal no está en ella según el catálogo c_CodigoPostal del SAT: usa IVA 16 %.",
            branch_postal_code.trim()
        ));
    }
    if !incentive_declared {
        return Some("El IVA de 8 % es un estímulo fiscal que hay que haber avisado al SAT: márcalo en la configuración de facturación (estímulo de región fronteriza) o usa IVA 16 %.".to_owned());
    }
    None
}

/// A line's amounts: what the customer pays, split into base and IVA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// A line after a discount in shelf terms (IVA included when `includes_iva`): what the customer
/// pays is `unit × qty − discount` (plus IVA on that when prices exclude it), split the way the
/// CFDI states it (`mostrador_cfdi::amounts::split_line`), so the cart, the order and the invoice
/// agree to the centavo. `None` on overflow, a negative discount or one that leaves nothing.
pub fn discounted_line_amounts(
    unit: Centavos,
    qty: u32,
    tax: TaxTreatment,
    includes_iva: bool,
    discount: Centavos,
) -> Option<LineAmounts> {
    if discount.0 == 0 {
        return line_amounts(unit, qty, tax, includes_iva);
    }
    let gross = unit.checked_mul(qty)?.0;
    if discount.0 < 0 || discount.0 >= gross {
        return None;
    }
    let net = gross - discount.0;
    let rate = tax.rate_bp();
    if includes_iva {
        let base = div_round(net.checked_mul(10_000)?, 10_000 + rate);
        Some(LineAmounts {
            total: Centavos(net),
            base: Centavos(base),
            iva: Centavos(net - base),
        })
    } else {
        let iva = div_round(net.checked_mul(rate)?, 10_000);
        Some(LineAmounts {
            total: Centavos(net.checked_add(iva)?),
            base: Centavos(net),
            iva: Centavos(iva),
        })
    }
}

/// The shares of `amount` given back from `parts` (each a line or a tax rate of what was charged):
/// spread in proportion to each part's total (largest remainder, so the shares add up to `amount`
/// to the centavo), each share split into base and IVA in the proportion its part was charged, so
/// a partial refund gives back the IVA that was charged on what it gives back. `None` when
/// `amount` is more than the parts hold or an amount overflows.
pub fn refund_shares(amount: Centavos, parts: &[LineAmounts]) -> Option<Vec<LineAmounts>> {
    let weights: Vec<i64> = parts.iter().map(|p| p.total.0).collect();
    let shares = crate::money::spread(amount, &weights)?;
    Some(
        parts
            .iter()
            .zip(shares)
            .map(|(p, share)| {
                let base = if p.total.0 == 0 {
                    0
                } else {
                    let n = (p.base.0 as i128) * (share as i128);
                    ((n + p.total.0 as i128 / 2) / p.total.0 as i128) as i64
                };
                LineAmounts {
                    total: Centavos(share),
                    base: Centavos(base),
                    iva: Centavos(share - base),
                }
            })
            .collect(),
    )
}

/// Integer division rounding half up (amounts are never negative here).
fn div_round(n: i64, d: i64) -> i64 {
    (n + d / 2) / d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_border_regions_follow_sats_postal_catalog() {
        assert_eq!(border_region("22000"), Some(BorderRegion::Norte), "Tijuana");
        assert_eq!(
            border_region("32000"),
            Some(BorderRegion::Norte),
            "Ciudad Juárez"
        );
        assert_eq!(border_region("88500"), Some(BorderRegion::Norte), "Reynosa");
        assert_eq!(border_region("30700"), Some(BorderRegion::Sur), "Tapachula");
        assert_eq!(border_region("77000"), Some(BorderRegion::Sur), "Chetumal");
        assert_eq!(border_region("77500"), None, "Cancún is not in the region");
        assert_eq!(border_region("06700"), None, "Ciudad de México");
        assert_eq!(
            border_region("64000"),
            None,
            "Monterrey is not in the region"
        );
        assert_eq!(border_region("2200"), None);
        assert_eq!(border_region("22a00"), None);
    }

    #[test]
    fn iva_8_only_at_a_border_branch_of_a_merchant_with_the_incentive() {
        assert!(treatment_problem(TaxTreatment::Iva8, "22000", true).is_none());
        let outside = treatment_problem(TaxTreatment::Iva8, "06700", true).unwrap_or_default();
        assert!(
            outside.contains("06700") && outside.contains("16 %"),
            "{outside}"
        );
        let undeclared = treatment_problem(TaxTreatment::Iva8, "22000", false).unwrap_or_default();
        assert!(undeclared.contains("estímulo"), "{undeclared}");
        assert!(treatment_problem(TaxTreatment::Iva16, "06700", false).is_none());
        assert!(treatment_problem(TaxTreatment::Iva0, "06700", false).is_none());
    }

    #[test]
    fn a_partial_refund_gives_back_the_iva_charged_on_what_it_returns() {
        let at16 = line_amounts(Centavos(11_600), 3, TaxTreatment::Iva16, true).expect("line");
        let at0 = line_amounts(Centavos(5_000), 1, TaxTreatment::Iva0, true).expect("line");
        // Half of the order.
        let shares = refund_shares(Centavos(19_900), &[at16, at0]).expect("shares");
        assert_eq!(shares.iter().map(|s| s.total.0).sum::<i64>(), 19_900);
        assert_eq!(shares[0].total, Centavos(17_400));
        assert_eq!(shares[0].base, Centavos(15_000));
        assert_eq!(shares[0].iva, Centavos(2_400));
        assert_eq!(
            shares[1],
            LineAmounts {
                total: Centavos(2_500),
                base: Centavos(2_500),
                iva: Centavos(0)
            }
        );
        // All of it is exactly what was charged.
        assert_eq!(
            refund_shares(Centavos(39_800), &[at16, at0]),
            Some(vec![at16, at0])
        );
        assert_eq!(
            refund_shares(Centavos(39_801), &[at16, at0]),
            None,
            "more than was paid"
        );
        assert_eq!(refund_shares(Centavos(-1), &[at16]), None);
    }

    #[test]
    fn refund_shares_always_add_up_to_the_centavo() {
        let parts: Vec<LineAmounts> = [
            (1_999, 7, TaxTreatment::Iva16),
            (3_333, 1, TaxTreatment::Iva8),
            (101, 13, TaxTreatment::Exempt),
        ]
        .into_iter()
        .map(|(unit, qty, tax)| line_amounts(Centavos(unit), qty, tax, true).expect("line"))
        .collect();
        let total: i64 = parts.iter().map(|p| p.total.0).sum();
        for amount in (0..=total).step_by(97).chain([1, total - 1, total]) {
            let shares = refund_shares(Centavos(amount), &parts).expect("shares");
            assert_eq!(
                shares.iter().map(|s| s.total.0).sum::<i64>(),
                amount,
                "{amount}"
            );
            for (s, p) in shares.iter().zip(&parts) {
                assert_eq!(s.base.0 + s.iva.0, s.total.0);
                assert!(
                    s.total.0 <= p.total.0 && s.base.0 <= p.base.0 && s.iva.0 <= p.iva.0,
                    "{s:?} of {p:?}"
                );
                assert!(s.base.0 >= 0 && s.iva.0 >= 0);
            }
        }
    }

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
