//! CLABE: the 18-digit Mexican interbank account number (bank, plaza, account, check digit).

use serde::{Deserialize, Serialize};

/// A CLABE whose check digit is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Clabe(String);

/// Why a text is not a CLABE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClabeError {
    #[error("a CLABE has exactly 18 digits")]
    Format,
    #[error("the CLABE's check digit is wrong")]
    CheckDigit,
}

/// The check digit of the first 17 digits (weights 3, 7, 1; each product mod 10).
pub fn check_digit(first17: &[u8; 17]) -> u8 {
    const WEIGHTS: [u8; 3] = [3, 7, 1];
    let sum: u32 = first17
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from((d * WEIGHTS[i % 3]) % 10))
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl Clabe {
    /// Parses and checks a CLABE (spaces and dashes allowed).
    pub fn parse(text: &str) -> Result<Clabe, ClabeError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() != 18 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(ClabeError::Format);
        }
        let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        let mut first = [0u8; 17];
        first.copy_from_slice(&d[..17]);
        if check_digit(&first) != d[17] {
            return Err(ClabeError::CheckDigit);
        }
        Ok(Clabe(digits))
    }

    /// The 18 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bank code (first three digits, Banxico's institution number).
    pub fn bank_code(&self) -> &str {
        &self.0[..3]
    }
}

impl TryFrom<String> for Clabe {
    type Error = ClabeError;
    fn try_from(s: String) -> Result<Self, ClabeError> {
        Clabe::parse(&s)
    }
}

impl From<Clabe> for String {
    fn from(c: Clabe) -> String {
        c.0
    }
}

impl std::fmt::Display for Clabe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_clabes_pass_and_a_changed_digit_fails() {
        for ok in [
            "002000000000000008",
            "012180026050783858",
            "012 180 02605078385 8",
        ] {
            assert!(Clabe::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Clabe::parse("012180026050783859"),
            Err(ClabeError::CheckDigit)
        );
        assert_eq!(Clabe::parse("01218002605078385"), Err(ClabeError::Format));
        assert_eq!(Clabe::parse("01218002605078385a"), Err(ClabeError::Format));
        assert_eq!(
            Clabe::parse("012180026050783858").map(|c| c.bank_code().to_owned()),
            Ok("012".into())
        );
    }
}
