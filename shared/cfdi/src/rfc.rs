//! The RFC (Registro Federal de Contribuyentes), parsed: format, date, homoclave and SAT's check digit.
//!
//! Layout: 3 letters (persona moral) or 4 (persona física) from `A-Z`, `Ñ`, `&`; the date of birth or
//! incorporation `YYMMDD`; a two-character homoclave `[A-Z0-9]`; and a check digit `[0-9A]`.
//! The check digit is SAT's modulo-11 over the first 11 (moral, left-padded with a space to 12) or
//! 12 characters, with the alphabet `0-9 A-N & O-Z space Ñ` valued 0..38 and weights 13 down to 2.
//! The generic RFCs XAXX010101000 (público en general) and XEXX010101000 (extranjero) are accepted
//! as SAT publishes them.

use crate::model::FiscalError;
use chrono::NaiveDate;
use std::fmt;

/// Whether an RFC belongs to a person (física, 13 characters) or a company (moral, 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoPersona {
    /// Persona física (13 characters).
    Fisica,
    /// Persona moral (12 characters).
    Moral,
}

/// A valid RFC, uppercase, without separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rfc(String);

/// Values of the check-digit alphabet; `None` for characters outside it.
fn value(c: char) -> Option<u32> {
    Some(match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='N' => c as u32 - 'A' as u32 + 10,
        '&' => 24,
        'O'..='Z' => c as u32 - 'O' as u32 + 25,
        ' ' => 37,
        'Ñ' => 38,
        _ => return None,
    })
}

/// The check digit SAT computes for the first 12 characters (a moral's RFC padded with a space).
fn check_digit(first12: &[char]) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in first12.iter().enumerate() {
        sum += value(*c)? * (13 - i as u32);
    }
    Some(match 11 - sum % 11 {
        11 => '0',
        10 => 'A',
        d => char::from_digit(d, 10)?,
    })
}

impl Rfc {
    /// XAXX010101000, the generic RFC for sales to the general public.
    pub const PUBLICO_EN_GENERAL: &'static str = "XAXX010101000";
    /// XEXX010101000, the generic RFC for foreign customers.
    pub const EXTRANJERO: &'static str = "XEXX010101000";

    /// The generic RFC for the general public (factura global).
    pub fn publico_en_general() -> Rfc {
        Rfc(Rfc::PUBLICO_EN_GENERAL.to_owned())
    }

    /// Parses an RFC as a customer types it: case, surrounding spaces and the `-` or spaces some
    /// people put between its parts are forgiven.
    pub fn parse(input: &str) -> Result<Rfc, FiscalError> {
        let cleaned: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '.'))
            .flat_map(char::to_uppercase)
            .collect();
        let shown = if cleaned.is_empty() {
            input.trim()
        } else {
            &cleaned
        };
        let bad = |why: &str| {
            FiscalError::new(
                "rfc",
                format!("El RFC {shown} no tiene el formato correcto: {why}"),
            )
        };
        if cleaned.is_empty() {
            return Err(FiscalError::new(
                "rfc",
                "Falta el RFC: son 13 caracteres para persona física o 12 para persona moral, como aparece en tu Constancia de Situación Fiscal.",
            ));
        }
        if cleaned == Rfc::PUBLICO_EN_GENERAL || cleaned == Rfc::EXTRANJERO {
            return Ok(Rfc(cleaned));
        }
        let chars: Vec<char> = cleaned.chars().collect();
        let letters = match chars.len() {
            12 => 3,
            13 => 4,
            n => {
                return Err(bad(&format!(
                    "tiene {n} caracteres y debe tener 13 (persona física) o 12 (persona moral)."
                )))
            }
        };
        if !chars[..letters]
            .iter()
            .all(|c| c.is_ascii_uppercase() || matches!(c, 'Ñ' | '&'))
        {
            return Err(bad(&format!(
                "debe empezar con {letters} letras (las de tu nombre o razón social)."
            )));
        }
        let date: String = chars[letters..letters + 6].iter().collect();
        if !date.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(&format!(
                "después de las letras van 6 dígitos de fecha (AAMMDD) y aparece {date}."
            )));
        }
        if !valid_yymmdd(&date) {
            return Err(bad(&format!(
                "la fecha {date} (AAMMDD) no existe; revisa el año, mes y día."
            )));
        }
        let homoclave = &chars[letters + 6..];
        if !homoclave[..2]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            || !(homoclave[2].is_ascii_digit() || homoclave[2] == 'A')
        {
            let h: String = homoclave.iter().collect();
            return Err(bad(&format!(
                "la homoclave {h} (los 3 últimos caracteres) solo lleva letras y dígitos, y termina en un dígito o A."
            )));
        }
        let mut first12: Vec<char> = Vec::with_capacity(12);
        if letters == 3 {
            first12.push(' ');
        }
        first12.extend_from_slice(&chars[..chars.len() - 1]);
        let expected = check_digit(&first12);
        if expected != chars.last().copied() {
            return Err(FiscalError::new(
                "rfc",
                format!("El RFC {shown} no es válido: su último carácter (dígito verificador) no corresponde al resto. Cópialo tal cual de tu Constancia de Situación Fiscal."),
            ));
        }
        Ok(Rfc(cleaned))
    }

    /// Física (13 characters) or moral (12).
    pub fn tipo(&self) -> TipoPersona {
        if self.0.chars().count() == 12 {
            TipoPersona::Moral
        } else {
            TipoPersona::Fisica
        }
    }

    /// Whether it is one of SAT's generic RFCs (XAXX010101000 or XEXX010101000).
    pub fn es_generico(&self) -> bool {
        self.0 == Rfc::PUBLICO_EN_GENERAL || self.0 == Rfc::EXTRANJERO
    }

    /// The RFC text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `YYMMDD` is a real date in 19YY or 20YY.
fn valid_yymmdd(date: &str) -> bool {
    let n = |r: std::ops::Range<usize>| date.get(r).and_then(|s| s.parse::<u32>().ok());
    let (Some(yy), Some(mm), Some(dd)) = (n(0..2), n(2..4), n(4..6)) else {
        return false;
    };
    [1900, 2000]
        .iter()
        .any(|century| NaiveDate::from_ymd_opt(century + yy as i32, mm, dd).is_some())
}

impl fmt::Display for Rfc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_format_rfcs_with_their_check_digit() {
        // SAT's test RFCs (CSD de pruebas) and well-known real-format examples.
        for rfc in [
            "EKU9003173C9",
            "XIA190128J61",
            "IIA040805DZ4",
            "EWE1709045U0",
            "URE180429TM6",
            "H&E951128469",
            "SAT970701NN3",
            "CACX7605101P8",
            "MISC491214B86",
            "FUNK671228PH6",
            "KICR630120NX3",
            "GODE561231GR8",
            "VAAM130719H60",
        ] {
            assert_eq!(
                Rfc::parse(rfc).map(|r| r.to_string()),
                Ok(rfc.to_owned()),
                "{rfc}"
            );
        }
    }

    #[test]
    fn person_and_company_rfcs_are_told_apart() {
        assert_eq!(
            Rfc::parse("EKU9003173C9").unwrap().tipo(),
            TipoPersona::Moral
        );
        assert_eq!(
            Rfc::parse("CACX7605101P8").unwrap().tipo(),
            TipoPersona::Fisica
        );
        assert_eq!(
            Rfc::parse("H&E951128469").unwrap().tipo(),
            TipoPersona::Moral
        );
    }

    #[test]
    fn forgives_case_spaces_and_dashes() {
        assert_eq!(
            Rfc::parse("  gode-561231-gr8 ").map(|r| r.to_string()),
            Ok("GODE561231GR8".into())
        );
    }

    #[test]
    fn generic_rfcs_are_accepted_and_known() {
        for g in [Rfc::PUBLICO_EN_GENERAL, Rfc::EXTRANJERO] {
            let rfc = Rfc::parse(g).unwrap();
            assert!(rfc.es_generico());
            assert_eq!(rfc.tipo(), TipoPersona::Fisica);
        }
        assert!(!Rfc::parse("EKU9003173C9").unwrap().es_generico());
    }

    #[test]
    fn a_wrong_check_digit_is_rejected() {
        for bad in [
            "EKU9003173C8",
            "GODE561231GR9",
            "CACX7605101P0",
            "AAA010101AAA",
        ] {
            let e = Rfc::parse(bad).unwrap_err();
            assert_eq!(e.field, "rfc");
            assert!(
                e.message.contains("dígito verificador"),
                "{bad}: {}",
                e.message
            );
            assert!(e.message.contains(bad), "{}", e.message);
        }
    }

    #[test]
    fn malformed_rfcs_say_what_is_wrong() {
        let cases = [
            ("ABC", "tiene 3 caracteres"),
            ("GODE561331GR8", "la fecha 561331"),
            ("GODE560230GR8", "la fecha 560230"),
            ("GOD1561231GR8", "4 letras"),
            ("GODE5612A1GR8", "6 dígitos"),
            ("GODE561231GR8X", "tiene 14 caracteres"),
            ("GODE561231G_8", "homoclave"),
            ("", "Falta el RFC"),
        ];
        for (input, why) in cases {
            let e = Rfc::parse(input).unwrap_err();
            assert_eq!(e.field, "rfc");
            assert!(e.message.contains(why), "{input}: {}", e.message);
        }
        assert!(Rfc::parse("ABC")
            .unwrap_err()
            .message
            .starts_with("El RFC ABC no tiene el formato correcto"));
    }

    #[test]
    fn leap_days_exist_only_in_leap_years() {
        assert!(valid_yymmdd("000229") && valid_yymmdd("960229"));
        assert!(!valid_yymmdd("970229"));
    }

    #[test]
    fn the_check_digit_matches_an_independent_formulation() {
        // Sum over all 13 (padded) characters with weights 13..1 must be a multiple of 11.
        for rfc in [
            "EKU9003173C9",
            "GODE561231GR8",
            "H&E951128469",
            "XIA190128J61",
        ] {
            let mut chars: Vec<char> = rfc.chars().collect();
            if chars.len() == 12 {
                chars.insert(0, ' ');
            }
            let total: u32 = chars
                .iter()
                .rev()
                .enumerate()
                .map(|(i, c)| value(*c).unwrap() * (i as u32 + 1))
                .sum();
            assert_eq!(total % 11, 0, "{rfc}");
        }
    }
}
