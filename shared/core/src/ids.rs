//! Identifiers: time-ordered, URL-safe and unguessable.

use chrono::{DateTime, Utc};

/// Crockford base32 alphabet (no I, L, O, U): readable on the phone and in logs.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID-like id: 48 bits of milliseconds then 80 random bits, 26 characters, sorts by creation time.
/// The caller supplies the randomness so that this stays pure.
pub fn sortable_id(at: DateTime<Utc>, random: [u8; 10]) -> String {
    let ms = at.timestamp_millis().max(0) as u128 & ((1u128 << 48) - 1);
    let mut value: u128 = ms << 80;
    for (i, b) in random.iter().enumerate() {
        value |= (*b as u128) << (8 * (9 - i));
    }
    let mut out = [0u8; 26];
    for i in (0..26).rev() {
        out[i] = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_sort_by_time_and_have_fixed_length() {
        let a = sortable_id(
            Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
            [255; 10],
        );
        let b = sortable_id(
            Utc.timestamp_millis_opt(1_700_000_000_001).unwrap(),
            [0; 10],
        );
        assert_eq!(a.len(), 26);
        assert!(a < b, "{a} should sort before {b}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
