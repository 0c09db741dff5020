//! Money inside a CFDI: `rust_decimal` amounts, SAT's rounding and text forms, and how a line the
//! customer paid splits into the CFDI's importe, descuento, base and IVA.
//!
//! `Centavos` (integer) is the boundary type: orders and tickets come in as centavos and the invoice
//! total goes out as centavos. Inside, amounts are `Decimal`.
//!
//! Why every line amount is a whole centavo: a concepto's Importe, Descuento, traslado Base and
//! traslado Importe are all written with 2 decimals, so the comprobante-level sums (SubTotal,
//! Descuento, each summary traslado's Base and Importe, Total) are exact and "rounded at the end"
//! changes nothing. Only ValorUnitario carries up to 6 decimals (Importe ÷ Cantidad), which keeps
//! Importe inside SAT's tolerance for Cantidad × ValorUnitario (CFDI40167) even when treating the
//! quantity as exact. Each line's IVA is the paid amount minus its base, which is always within one
//! centavo of Base × TasaOCuota and hence inside SAT's bounds for the traslado Importe (CFDI40180).

use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt::Write as _;

/// Pesos with 2 decimals for an amount in centavos.
pub fn pesos(amount: Centavos) -> Decimal {
    Decimal::new(amount.0, 2)
}

/// Centavos for a Decimal amount of pesos, when it is exact to the centavo.
pub fn centavos(amount: Decimal) -> Option<Centavos> {
    let scaled = amount.checked_mul(Decimal::ONE_HUNDRED)?;
    if scaled.fract().is_zero() {
        scaled.to_i64().map(Centavos)
    } else {
        None
    }
}

/// SAT's "redondeo": to `decimals` places, halves away from zero.
pub fn round_to(amount: Decimal, decimals: u32) -> Decimal {
    amount.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

/// Text of an amount with exactly 2 decimals (SubTotal, Total, Importe, Base, …): `"1160.00"`.
pub fn importe_text(amount: Decimal) -> String {
    let mut out = String::with_capacity(16);
    push_importe(&mut out, amount);
    out
}

/// Appends [`importe_text`] to `out` without an intermediate string.
pub(crate) fn push_importe(out: &mut String, amount: Decimal) {
    let mut v = round_to(amount, 2);
    v.rescale(2);
    // Writing to a String cannot fail.
    let _ = write!(out, "{v}");
}

/// Text of a ValorUnitario: at least 2 decimals, at most 6, no trailing zeros beyond 2.
pub fn valor_unitario_text(amount: Decimal) -> String {
    let mut out = String::with_capacity(16);
    push_valor_unitario(&mut out, amount);
    out
}

/// Appends [`valor_unitario_text`] to `out`.
pub(crate) fn push_valor_unitario(out: &mut String, amount: Decimal) {
    let mut v = round_to(amount, 6).normalize();
    if v.scale() < 2 {
        v.rescale(2);
    }
    let _ = write!(out, "{v}");
}

/// Text of a Cantidad: an integer as is (`"3"`), otherwise up to 6 decimals.
pub fn cantidad_text(quantity: Decimal) -> String {
    round_to(quantity, 6).normalize().to_string()
}

/// IVA rate of a tax treatment (`None` when exempt).
pub fn tasa(tax: TaxTreatment) -> Option<Decimal> {
    match tax {
        TaxTreatment::Iva16 => Some(Decimal::new(16, 2)),
        TaxTreatment::Iva8 => Some(Decimal::new(8, 2)),
        TaxTreatment::Iva0 => Some(Decimal::ZERO),
        TaxTreatment::Exempt => None,
    }
}

/// TasaOCuota as SAT's c_TasaOCuota writes it (`"0.160000"`), `None` when exempt.
pub fn tasa_o_cuota_text(tax: TaxTreatment) -> Option<&'static str> {
    match tax {
        TaxTreatment::Iva16 => Some("0.160000"),
        TaxTreatment::Iva8 => Some("0.080000"),
        TaxTreatment::Iva0 => Some("0.000000"),
        TaxTreatment::Exempt => None,
    }
}

/// One line as the CFDI states it, in centavos: `importe − descuento = base`, `base + iva = pagado`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSplit {
    /// Concepto Importe: the line before discount and before IVA.
    pub importe: i64,
    /// Concepto Descuento before IVA (0 when none).
    pub descuento: i64,
    /// Traslado Base: importe − descuento.
    pub base: i64,
    /// Traslado Importe (0 for 0 % and exento).
    pub iva: i64,
    /// What the customer paid for the line: base + iva.
    pub pagado: i64,
}

/// Integer division rounding half up, for non-negative amounts (as `mostrador_core::tax` does).
fn div_round(n: i64, d: i64) -> i64 {
    (n + d / 2) / d
}

/// Splits a paid amount that includes IVA: base = paid ÷ (1 + rate) to the centavo (half up),
/// IVA = the rest. Exempt and 0 % amounts are all base.
pub fn split_paid(paid: Centavos, tax: TaxTreatment) -> Option<LineSplit> {
    let bp = tax.rate_bp();
    let base = div_round(paid.0.checked_mul(10_000)?, 10_000 + bp);
    Some(LineSplit {
        importe: base,
        descuento: 0,
        base,
        iva: paid.0 - base,
        pagado: paid.0,
    })
}

/// Splits an order line. With `includes_iva` the unit price and the discount are shelf amounts (IVA
/// included) and the customer paid exactly `unit × qty − discount`; otherwise both are before IVA
/// and IVA is added on the discounted amount, rounded half up — the same split the cart shows
/// (`mostrador_core::tax::line_amounts`) when there is no discount. `None` on overflow or when the
/// discount is negative or not below the line amount.
pub fn split_line(
    unit: Centavos,
    qty: u32,
    tax: TaxTreatment,
    includes_iva: bool,
    discount: Centavos,
) -> Option<LineSplit> {
    let gross = unit.0.checked_mul(i64::from(qty))?;
    if unit.0 <= 0 || discount.0 < 0 || discount.0 >= gross {
        return None;
    }
    let bp = tax.rate_bp();
    if includes_iva {
        let paid = gross - discount.0;
        let base = div_round(paid.checked_mul(10_000)?, 10_000 + bp);
        let descuento = div_round(discount.0.checked_mul(10_000)?, 10_000 + bp);
        Some(LineSplit {
            importe: base + descuento,
            descuento,
            base,
            iva: paid - base,
            pagado: paid,
        })
    } else {
        let base = gross - discount.0;
        let iva = div_round(base.checked_mul(bp)?, 10_000);
        Some(LineSplit {
            importe: gross,
            descuento: discount.0,
            base,
            iva,
            pagado: base.checked_add(iva)?,
        })
    }
}

/// SAT's bounds for the Importe of an IVA traslado whose Base has 2 decimals (CFDI40180), in
/// centavos: from (Base − ½ centavo) × TasaOCuota truncated to (Base + ½ centavo) × TasaOCuota
/// rounded up. `None` for exempt (no Importe) or on overflow.
pub fn iva_bounds(base: i64, tax: TaxTreatment) -> Option<(i64, i64)> {
    if tax == TaxTreatment::Exempt {
        return None;
    }
    let bp = i128::from(tax.rate_bp());
    let b = i128::from(base);
    // In centavos: low = ⌊(2b − 1)·bp / 20000⌋, high = ⌈(2b + 1)·bp / 20000⌉.
    let low = (2 * b - 1).checked_mul(bp)?.div_euclid(20_000);
    let high = -(-(2 * b + 1).checked_mul(bp)?).div_euclid(20_000);
    Some((i64::try_from(low).ok()?, i64::try_from(high).ok()?))
}

/// Whether one traslado may state `iva` over `base` (always `iva == 0` for 0 % and exento).
pub fn within_bounds(base: i64, iva: i64, tax: TaxTreatment) -> bool {
    if tax.rate_bp() == 0 {
        return iva == 0;
    }
    iva_bounds(base, tax).is_some_and(|(low, high)| (low..=high).contains(&iva))
}

/// A base and IVA as they were charged, written as traslados SAT accepts, keeping both sums to the
/// centavo.
///
/// A ticket's IVA is the sum of its lines' IVA, each rounded on its own line; over many lines the
/// sum can stray from Base × TasaOCuota further than SAT's tolerance for one traslado
/// ([`iva_bounds`]). Re-splitting the total would then declare an IVA different from the one
/// charged. Instead the stray centavos go into parts of 25 centavos of base — whose exact IVA is a
/// whole number of centavos (4 at 16 %, 2 at 8 %) and whose bounds admit one centavo more or less
/// — each carrying one of them; the rest stays in the first part. Most tickets need no extra part.
///
/// Returns the parts as `(base, iva)`, the first the largest; `None` when the amounts cannot be
/// stated (negative, IVA on a 0 % or exempt amount, or too far apart to come from rounding).
pub fn charged_parts(base: i64, iva: i64, tax: TaxTreatment) -> Option<Vec<(i64, i64)>> {
    if base <= 0 || iva < 0 {
        return None;
    }
    if within_bounds(base, iva, tax) {
        return Some(vec![(base, iva)]);
    }
    let bp = tax.rate_bp();
    if bp == 0 {
        return None;
    }
    const UNIT: i64 = 25;
    let exact = UNIT * bp / 10_000;
    // Above the exact IVA, each part carries one centavo more; below, one less.
    let step = if i128::from(iva) * 10_000 > i128::from(base) * i128::from(bp) {
        exact + 1
    } else {
        exact - 1
    };
    // Rounding strays by at most about half a centavo per line: 10,000 parts is far beyond any
    // ticket, and the bound keeps a wrong input from looping long.
    for k in 1..=10_000i64 {
        let rest_base = base.checked_sub(k.checked_mul(UNIT)?)?;
        let rest_iva = iva.checked_sub(k.checked_mul(step)?)?;
        if rest_base <= 0 || rest_iva < 0 {
            break;
        }
        if within_bounds(rest_base, rest_iva, tax) {
            let mut parts = Vec::with_capacity(usize::try_from(k).ok()?.saturating_add(1));
            parts.push((rest_base, rest_iva));
            parts.extend((0..k).map(|_| (UNIT, step)));
            return Some(parts);
        }
    }
    // A base under 25 centavos a part (a ticket of a few centavos whose lines' IVA rounded up):
    // equal parts, each within its bounds, the larger first. The strayed IVA per part shrinks as
    // the parts grow in number. Only for an IVA some lines' rounding can give: no line's IVA is a
    // larger share of its base than the largest a line of a few centavos gets (0.04 paid at 16 %
    // is 0.03 + 0.01).
    let (top_iva, top_base) = largest_line_share(tax)?;
    if i128::from(iva) * i128::from(top_base) > i128::from(base) * i128::from(top_iva) {
        return None;
    }
    (2..=base.min(MAX_SMALL_PARTS)).find_map(|n| {
        let parts: Vec<(i64, i64)> = (0..n)
            .map(|i| {
                (
                    base / n + i64::from(i < base % n),
                    iva / n + i64::from(i < iva % n),
                )
            })
            .collect();
        parts
            .iter()
            .all(|&(b, v)| b > 0 && within_bounds(b, v, tax))
            .then_some(parts)
    })
}

/// The most equal parts a small base is cut into before it is refused (each a concepto).
const MAX_SMALL_PARTS: i64 = 100;

/// The largest share of its base a line's rounded IVA can be, as `(iva, base)` of that line: lines
/// of a few centavos round the most (larger lines stray less than one centavo in their base).
fn largest_line_share(tax: TaxTreatment) -> Option<(i64, i64)> {
    let mut top = (0i64, 1i64);
    for paid in 1..=1_000 {
        let s = split_paid(Centavos(paid), tax)?;
        if s.base > 0 && s.iva * top.1 > top.0 * s.base {
            top = (s.iva, s.base);
        }
    }
    Some(top)
}

/// ValorUnitario for a concepto: Importe ÷ Cantidad to 6 decimals (exact whenever possible).
pub fn valor_unitario(importe: Decimal, cantidad: Decimal) -> Option<Decimal> {
    let v = round_to(importe.checked_div(cantidad)?, 6);
    (v > Decimal::ZERO).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mostrador_core::tax::line_amounts;

    #[test]
    fn a_ticket_of_a_few_centavos_keeps_the_iva_its_lines_charged() {
        // Two lines of 0.11 at 16 % charged 0.02 of IVA each: base 0.18, IVA 0.04, outside the
        // bounds of one traslado (0.02–0.03) and too small for parts of 0.25.
        let parts = charged_parts(18, 4, TaxTreatment::Iva16).expect("stated");
        assert_eq!(parts, vec![(9, 2), (9, 2)]);
        for (base, iva) in [(18, 4), (7, 0), (3, 2), (40, 8), (1, 0), (11, 3)] {
            if let Some(parts) = charged_parts(base, iva, TaxTreatment::Iva16) {
                assert_eq!(parts.iter().map(|p| p.0).sum::<i64>(), base);
                assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), iva);
                assert!(parts
                    .iter()
                    .all(|&(b, v)| within_bounds(b, v, TaxTreatment::Iva16)));
            }
        }
        // What no rounding of lines can give is still refused.
        assert_eq!(charged_parts(18, 40, TaxTreatment::Iva16), None);
    }

    #[test]
    fn every_ticket_of_small_lines_is_stated() {
        // Every ticket of 1 to 6 lines of 1 to 40 centavos, as the order splits them.
        for tax in [TaxTreatment::Iva16, TaxTreatment::Iva8] {
            for lines in 1..=6i64 {
                for each in 1..=40i64 {
                    let split =
                        crate::amounts::split_paid(mostrador_core::money::Centavos(each), tax)
                            .expect("split");
                    let (base, iva) = (split.base * lines, split.iva * lines);
                    let parts = charged_parts(base, iva, tax)
                        .unwrap_or_else(|| panic!("{lines} × {each} at {tax:?}"));
                    assert_eq!(parts.iter().map(|p| p.0).sum::<i64>(), base);
                    assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), iva);
                }
            }
        }
    }

    #[test]
    fn bounds_are_sats() {
        // 100.00 at 16 %: 16.00 exactly; (99.995 × 0.16 = 15.9992 → 15.99, 100.005 × 0.16 = 16.0008 → 16.01).
        assert_eq!(
            iva_bounds(10_000, TaxTreatment::Iva16),
            Some((1_599, 1_601))
        );
        // 0.25 at 16 %: 0.04 exactly, and the half centavo either side admits 0.03 and 0.05.
        assert_eq!(iva_bounds(25, TaxTreatment::Iva16), Some((3, 5)));
        assert_eq!(iva_bounds(25, TaxTreatment::Iva8), Some((1, 3)));
        // 86.21 at 16 % = 13.7936: 13.79 and 13.80 only.
        assert_eq!(iva_bounds(8_621, TaxTreatment::Iva16), Some((1_379, 1_380)));
        assert!(within_bounds(500, 0, TaxTreatment::Iva0));
        assert!(!within_bounds(500, 1, TaxTreatment::Iva0));
        assert_eq!(iva_bounds(500, TaxTreatment::Exempt), None);
    }

    #[test]
    fn every_split_line_is_within_bounds() {
        for paid in 1..20_000 {
            for tax in [TaxTreatment::Iva16, TaxTreatment::Iva8, TaxTreatment::Iva0] {
                let s = split_paid(Centavos(paid), tax).expect("split");
                assert!(within_bounds(s.base, s.iva, tax), "{paid} {tax:?}");
            }
        }
    }

    #[test]
    fn charged_amounts_keep_their_sums_and_sats_bounds() {
        // Thirty lines of 0.29 at 16 % (base 0.25, IVA 0.04 each): 7.50 + 1.20, within bounds.
        assert_eq!(
            charged_parts(750, 120, TaxTreatment::Iva16),
            Some(vec![(750, 120)])
        );
        // Ten lines of 1.17 at 16 % (base 1.01, IVA 0.16 each): 10.10 + 1.60 charged, while
        // 10.10 × 0.16 = 1.616 admits only 1.61 and 1.62 — two centavos go to parts of 0.25.
        let parts = charged_parts(1_010, 160, TaxTreatment::Iva16).expect("parts");
        assert_eq!(parts.iter().map(|p| p.0).sum::<i64>(), 1_010);
        assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), 160);
        assert!(parts.len() > 1);
        for (b, i) in &parts {
            assert!(within_bounds(*b, *i, TaxTreatment::Iva16), "{b} {i}");
        }
        // Lines rounded down: the extra parts carry one centavo less each.
        let parts = charged_parts(10_000, 1_596, TaxTreatment::Iva16).expect("parts");
        assert_eq!(parts[1..], [(25, 3), (25, 3), (25, 3)]);
        assert_eq!(parts[0], (9_925, 1_587));
        assert!(within_bounds(9_925, 1_587, TaxTreatment::Iva16));
        // Not from rounding, or nothing to state.
        assert_eq!(charged_parts(100, 50, TaxTreatment::Iva16), None);
        assert_eq!(charged_parts(100, 1, TaxTreatment::Iva0), None);
        assert_eq!(charged_parts(0, 0, TaxTreatment::Iva16), None);
        assert_eq!(
            charged_parts(100, 0, TaxTreatment::Exempt),
            Some(vec![(100, 0)])
        );
    }

    #[test]
    fn random_tickets_keep_their_charged_iva() {
        // Tickets of 1–30 lines from 0.01 to 999.99, each line split as the order splits it.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..5_000 {
            let tax = [TaxTreatment::Iva16, TaxTreatment::Iva8][usize::from(next(2) == 1)];
            let lines = 1 + next(30);
            let (mut base, mut iva) = (0, 0);
            for _ in 0..lines {
                let s = split_paid(Centavos(1 + i64::try_from(next(99_999)).unwrap_or(1)), tax)
                    .expect("split");
                base += s.base;
                iva += s.iva;
            }
            let parts = charged_parts(base, iva, tax).expect("parts");
            assert_eq!(parts.iter().map(|p| p.0).sum::<i64>(), base);
            assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), iva);
            assert!(parts.iter().all(|(b, i)| within_bounds(*b, *i, tax)));
            assert!(parts.len() <= 1 + usize::try_from(lines).unwrap_or(0));
        }
    }

    #[test]
    fn texts_are_what_sat_expects() {
        assert_eq!(importe_text(Decimal::new(116, 0)), "116.00");
        assert_eq!(importe_text(Decimal::new(5, 3)), "0.01");
        assert_eq!(
            valor_unitario_text(Decimal::new(3922333333, 8)),
            "39.223333"
        );
        assert_eq!(valor_unitario_text(Decimal::new(100, 0)), "100.00");
        assert_eq!(valor_unitario_text(Decimal::new(12345, 3)), "12.345");
        assert_eq!(cantidad_text(Decimal::from(3)), "3");
        assert_eq!(tasa_o_cuota_text(TaxTreatment::Iva16), Some("0.160000"));
        assert_eq!(tasa_o_cuota_text(TaxTreatment::Exempt), None);
    }

    #[test]
    fn rounding_takes_halves_away_from_zero() {
        assert_eq!(round_to(Decimal::new(5, 3), 2), Decimal::new(1, 2));
        assert_eq!(round_to(Decimal::new(15, 3), 2), Decimal::new(2, 2));
        assert_eq!(round_to(Decimal::new(25, 3), 2), Decimal::new(3, 2));
    }

    #[test]
    fn centavos_round_trip_exactly() {
        assert_eq!(centavos(pesos(Centavos(123_456))), Some(Centavos(123_456)));
        assert_eq!(centavos(Decimal::new(1005, 3)), None);
        assert_eq!(centavos(Decimal::new(7, 0)), Some(Centavos(700)));
    }

    #[test]
    fn shelf_price_lines_split_like_the_cart() {
        for (unit, qty, tax) in [
            (4_550, 3, TaxTreatment::Iva16),
            (11_600, 1, TaxTreatment::Iva16),
            (1, 7, TaxTreatment::Iva8),
            (99_999, 2, TaxTreatment::Iva0),
            (1_234, 5, TaxTreatment::Exempt),
        ] {
            for includes in [true, false] {
                let cart = line_amounts(Centavos(unit), qty, tax, includes).unwrap();
                let cfdi = split_line(Centavos(unit), qty, tax, includes, Centavos::ZERO).unwrap();
                assert_eq!(
                    (cfdi.pagado, cfdi.base, cfdi.iva),
                    (cart.total.0, cart.base.0, cart.iva.0)
                );
            }
        }
    }

    #[test]
    fn discounts_reduce_what_is_paid() {
        let l = split_line(
            Centavos(11_600),
            2,
            TaxTreatment::Iva16,
            true,
            Centavos(1_160),
        )
        .unwrap();
        assert_eq!(l.pagado, 22_040);
        assert_eq!(l.importe - l.descuento, l.base);
        assert_eq!(l.base + l.iva, l.pagado);
        assert_eq!(
            (l.importe, l.descuento, l.base, l.iva),
            (20_000, 1_000, 19_000, 3_040)
        );
        let n = split_line(
            Centavos(10_000),
            1,
            TaxTreatment::Iva16,
            false,
            Centavos(500),
        )
        .unwrap();
        assert_eq!(
            (n.importe, n.descuento, n.base, n.iva, n.pagado),
            (10_000, 500, 9_500, 1_520, 11_020)
        );
        assert!(split_line(Centavos(100), 1, TaxTreatment::Iva16, true, Centavos(100)).is_none());
        assert!(split_line(Centavos(100), 1, TaxTreatment::Iva16, true, Centavos(-1)).is_none());
        assert!(split_line(Centavos(0), 1, TaxTreatment::Iva16, true, Centavos(0)).is_none());
        assert!(split_line(
            Centavos(i64::MAX / 2),
            3,
            TaxTreatment::Iva16,
            true,
            Centavos(0)
        )
        .is_none());
    }

    #[test]
    fn paid_amounts_split_into_base_and_iva() {
        let s = split_paid(Centavos(11_600), TaxTreatment::Iva16).unwrap();
        assert_eq!((s.base, s.iva), (10_000, 1_600));
        let s = split_paid(Centavos(1), TaxTreatment::Iva16).unwrap();
        assert_eq!((s.base, s.iva), (1, 0));
        let s = split_paid(Centavos(999), TaxTreatment::Exempt).unwrap();
        assert_eq!((s.base, s.iva), (999, 0));
    }

    #[test]
    fn valor_unitario_has_up_to_six_decimals_and_is_positive() {
        assert_eq!(
            valor_unitario(Decimal::new(11_767, 2), Decimal::from(3)),
            Some(Decimal::new(39_223_333, 6))
        );
        assert_eq!(
            valor_unitario(Decimal::new(1, 2), Decimal::from(100_000_000)),
            None
        );
    }

    proptest::proptest! {
        /// The cart and the order split a discounted line with `mostrador_core::tax`; the CFDI
        /// with `split_line`: both must say the same total, base and IVA.
        #[test]
        fn the_order_and_the_cfdi_split_a_discounted_line_alike(
            unit in 1i64..=200_000,
            qty in 1u32..=99,
            discount_per_mille in 0i64..1000,
            includes_iva in proptest::bool::ANY,
            tax in proptest::sample::select(vec![TaxTreatment::Iva16, TaxTreatment::Iva8, TaxTreatment::Iva0, TaxTreatment::Exempt]),
        ) {
            let gross = unit * i64::from(qty);
            let discount = Centavos((gross * discount_per_mille / 1000).min(gross - 1));
            let cfdi = split_line(Centavos(unit), qty, tax, includes_iva, discount);
            let order = mostrador_core::tax::discounted_line_amounts(Centavos(unit), qty, tax, includes_iva, discount);
            let (Some(cfdi), Some(order)) = (cfdi, order) else {
                return Err(proptest::test_runner::TestCaseError::fail("both split"));
            };
            proptest::prop_assert_eq!((cfdi.pagado, cfdi.base, cfdi.iva), (order.total.0, order.base.0, order.iva.0));
        }
    }
}
