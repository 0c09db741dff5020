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

/// The moment a [`sortable_id`] was made (its first ten characters, in either case), or `None`
/// when `id` is not one.
pub fn sortable_id_time(id: &str) -> Option<DateTime<Utc>> {
    let head = id.get(..10)?;
    let mut ms: i64 = 0;
    for c in head.bytes() {
        let digit = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
        ms = (ms << 5) | digit as i64;
    }
    if id.len() != 26 || ms >= 1 << 48 {
        return None;
    }
    DateTime::from_timestamp_millis(ms)
}

/// The id of the `position`-th of many things made together at `at` (a bulk's items): a
/// [`sortable_id`] whose random part starts with the position (24 bits) and ends with `salt`'s
/// first seven bytes, so that ids made together sort, and sit in a table, in their order.
/// `None` past 2^24 positions.
pub fn sequenced_id(at: DateTime<Utc>, position: u32, salt: &[u8]) -> Option<String> {
    if position >= 1 << 24 || salt.len() < 7 {
        return None;
    }
    let mut random = [0u8; 10];
    random[..3].copy_from_slice(&position.to_be_bytes()[1..]);
    random[3..].copy_from_slice(&salt[..7]);
    Some(sortable_id(at, random))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_moment_of_an_id_is_read_back_and_anything_else_is_refused() {
        let at = Utc.timestamp_millis_opt(1_795_262_400_250).unwrap();
        let id = sortable_id(at, [7; 10]);
        assert_eq!(sortable_id_time(&id), Some(at));
        assert_eq!(sortable_id_time(&id.to_lowercase()), Some(at));
        assert_eq!(sortable_id_time("short"), None);
        assert_eq!(
            sortable_id_time(&format!("U{}", &id[1..])),
            None,
            "U is not in the alphabet"
        );
        assert_eq!(sortable_id_time(&format!("{id}X")), None, "27 characters");
    }

    #[test]
    fn sequenced_ids_sort_by_position_and_differ_by_salt() {
        let at = Utc.timestamp_millis_opt(1_795_262_400_250).unwrap();
        let salt = [9u8; 32];
        let ids: Vec<String> = [0u32, 1, 2, 31, 32, 1_000, 99_999]
            .iter()
            .map(|p| sequenced_id(at, *p, &salt).expect("id"))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "in position order");
        assert!(ids.iter().all(|id| sortable_id_time(id) == Some(at)));
        assert_ne!(sequenced_id(at, 5, &[1; 7]), sequenced_id(at, 5, &[2; 7]));
        assert_eq!(sequenced_id(at, 5, &[1; 7]), sequenced_id(at, 5, &[1; 7]));
        assert_eq!(sequenced_id(at, 1 << 24, &salt), None);
        assert_eq!(sequenced_id(at, 1, &[1; 6]), None);
    }

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
