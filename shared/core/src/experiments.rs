//! A/B tests of notifications: which variant a recipient gets, and whether the difference between
//! two variants' rates is more than chance.
//!
//! A recipient's variant is a stable hash of the experiment's name and the recipient (FNV-1a, a
//! fixed public algorithm, so the same customer always gets the same variant, in every process
//! and after a restart) over the variants' weights. Significance is the two-proportion z-test with
//! a pooled standard error and a two-sided p-value from the normal distribution; rates are
//! statistics, not money, so they are computed in floating point.

/// The variant index for `recipient` in `experiment`, by `weights` (any positive numbers; a zero
/// weight is never chosen). `None` when no weight is positive.
pub fn assign(experiment: &str, recipient: &str, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut point = fnv1a(&[experiment.as_bytes(), b"\x1f", recipient.as_bytes()]) % total;
    for (i, w) in weights.iter().enumerate() {
        let w = u64::from(*w);
        if point < w {
            return Some(i);
        }
        point -= w;
    }
    None
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The comparison of a variant with the control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// The variant's rate minus the control's, relative to the control's (0.25 = 25 % better);
    /// `None` when the control's rate is zero.
    pub lift: Option<f64>,
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// The smallest number of successes and of failures in each group for the normal approximation
/// to hold; below it there is not enough data to say.
pub const MIN_EACH: u64 = 5;

/// Compares `successes_b` of `n_b` (the variant) with `successes_a` of `n_a` (the control); `None`
/// when either group has fewer than [`MIN_EACH`] successes or failures.
pub fn compare(successes_a: u64, n_a: u64, successes_b: u64, n_b: u64) -> Option<Comparison> {
    let enough = |s: u64, n: u64| s <= n && s >= MIN_EACH && n - s >= MIN_EACH;
    if !enough(successes_a, n_a) || !enough(successes_b, n_b) {
        return None;
    }
    let (sa, na, sb, nb) = (
        successes_a as f64,
        n_a as f64,
        successes_b as f64,
        n_b as f64,
    );
    let (pa, pb) = (sa / na, sb / nb);
    let pooled = (sa + sb) / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se == 0.0 {
        return None;
    }
    let z = (pb - pa) / se;
    let p_value = (2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0);
    Some(Comparison {
        lift: (pa > 0.0).then(|| (pb - pa) / pa),
        z,
        p_value,
    })
}

/// The standard normal distribution function, through the complementary error function
/// (Numerical Recipes' `erfc` Chebyshev fit, relative error below 1.2e-7 everywhere).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_always_gets_the_same_variant_and_the_split_follows_the_weights() {
        let weights = [50, 50];
        assert_eq!(
            assign("prestamo-dic", "5215512345678", &weights),
            assign("prestamo-dic", "5215512345678", &weights)
        );
        let mut seen = [0u32; 3];
        for n in 0..30_000u32 {
            let to = format!("52155{n:08}");
            let i = assign("prestamo-dic", &to, &[20, 30, 50]).expect("a variant");
            seen[i] += 1;
        }
        for (got, want) in seen.iter().zip([6_000, 9_000, 15_000]) {
            assert!(got.abs_diff(want) < 450, "{seen:?}");
        }
        assert_eq!(assign("x", "y", &[0, 0]), None);
        assert_eq!(assign("x", "y", &[0, 7]), Some(1));
    }

    #[test]
    fn the_normal_distribution_matches_its_tables() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.644_854) - 0.05).abs() < 1e-6);
        assert!((normal_cdf(3.0) - 0.998_650_1).abs() < 1e-6);
    }

    #[test]
    fn a_clear_difference_is_significant_and_noise_is_not() {
        // 10 % vs 15 % over 1,000 each: z ≈ 3.38, p ≈ 0.0007.
        let c = compare(100, 1_000, 150, 1_000).expect("enough data");
        assert!((c.z - 3.38).abs() < 0.01, "{c:?}");
        assert!(c.p_value < 0.001, "{c:?}");
        assert!((c.lift.expect("lift") - 0.5).abs() < 1e-9);
        // 10 % vs 11 % over 200 each: not distinguishable.
        let c = compare(20, 200, 22, 200).expect("enough data");
        assert!(c.p_value > 0.5, "{c:?}");
        // Too few to say.
        assert_eq!(compare(2, 10, 4, 10), None);
        assert_eq!(compare(0, 1_000, 50, 1_000), None);
    }
}
