//! Text that goes into a CFDI attribute, normalized the way SAT reads it.
//!
//! SAT's XSD collapses whitespace in every text attribute and the cadena original applies
//! `normalize-space`, so we store text already collapsed: what the XML says is what the cadena
//! says. `|` separates the cadena's fields and is forbidden by the XSD.

use super::FiscalError;
use crate::rfc::TipoPersona;
use std::fmt;

/// Trims, turns any run of whitespace into one space and drops control characters.
pub(crate) fn collapse(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for c in input.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if !c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}') {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A text attribute of the CFDI (Descripcion, Unidad, NoIdentificacion, Serie, Folio): collapsed,
/// 1 to `max` characters, without `|`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Texto(String);

impl Texto {
    /// Parses text for `field`, rejecting what SAT would reject.
    pub(crate) fn parse(
        field: &str,
        label: &str,
        input: &str,
        max: usize,
    ) -> Result<Texto, FiscalError> {
        let text = collapse(input);
        if text.is_empty() {
            return Err(FiscalError::new(field, format!("Falta {label}.")));
        }
        if text.contains('|') {
            return Err(FiscalError::new(
                field,
                format!("{} no puede contener el carácter |.", capitalize(label)),
            ));
        }
        let len = text.chars().count();
        if len > max {
            return Err(FiscalError::new(
                field,
                format!(
                    "{} admite hasta {max} caracteres y tiene {len}.",
                    capitalize(label)
                ),
            ));
        }
        Ok(Texto(text))
    }

    /// Text from our own catalog (product names, units): `|` becomes `/` and it is cut at `max`
    /// characters rather than failing an invoice the customer already paid for. `None` when empty.
    pub(crate) fn lenient(input: &str, max: usize) -> Option<Texto> {
        // Catalog text is nearly always clean already: keep it without rebuilding it.
        let clean = !input.is_empty()
            && input.len() <= max
            && !input.starts_with(' ')
            && !input.ends_with(' ')
            && !input.contains("  ")
            && input
                .chars()
                .all(|c| c == ' ' || !(c == '|' || c.is_whitespace() || c.is_control()));
        if clean {
            return Some(Texto(input.to_owned()));
        }
        let text: String = collapse(&input.replace('|', "/"))
            .chars()
            .take(max)
            .collect();
        let text = text.trim_end().to_owned();
        (!text.is_empty()).then_some(Texto(text))
    }

    /// A fixed text known to be valid.
    pub(crate) fn fixed(text: &'static str) -> Texto {
        Texto(text.to_owned())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Texto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn capitalize(label: &str) -> String {
    let mut c = label.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A name or razón social as SAT registers it, normalized for the Nombre of Emisor and Receptor.
///
/// What we do (CFDI 4.0 validates Nombre against SAT's list of RFCs, CFDI40139/CFDI40145):
/// - trim, collapse whitespace, drop control characters;
/// - uppercase (`ñ` → `Ñ`, `é` → `É`: accents are kept as typed, because the Constancia de
///   Situación Fiscal shows some names with them and SAT compares the text);
/// - for personas morales only, remove a trailing régimen societario ("S.A. DE C.V.", "SA DE CV",
///   "S. DE R.L. DE C.V.", "SAPI DE CV", "SAS", "S.C.", "A.C.", "S.P.R. DE R.L.", …, abbreviated or
///   spelled out, with or without dots and a comma before it), since 4.0 wants the name without it;
/// - reject empty names, `|`, and more than 300 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nombre(String);

/// Régimen societario forms, as tokens after removing dots and commas and joining single letters
/// (`S. A. DE C. V.` → `SA DE CV`). Longest forms first.
const REGIMENES_SOCIETARIOS: &[&str] = &[
    "SOCIEDAD ANONIMA PROMOTORA DE INVERSION DE CAPITAL VARIABLE",
    "SOCIEDAD DE RESPONSABILIDAD LIMITADA DE CAPITAL VARIABLE",
    "SOCIEDAD ANONIMA BURSATIL DE CAPITAL VARIABLE",
    "SOCIEDAD POR ACCIONES SIMPLIFICADA DE CAPITAL VARIABLE",
    "SOCIEDAD ANONIMA DE CAPITAL VARIABLE",
    "SOCIEDAD CIVIL DE RESPONSABILIDAD LIMITADA",
    "SOCIEDAD DE RESPONSABILIDAD LIMITADA",
    "SOCIEDAD POR ACCIONES SIMPLIFICADA",
    "SOCIEDAD DE PRODUCCION RURAL",
    "INSTITUCION DE ASISTENCIA PRIVADA",
    "SOCIEDAD COOPERATIVA",
    "SOCIEDAD ANONIMA",
    "SOCIEDAD CIVIL",
    "ASOCIACION CIVIL",
    "SC DE RL DE CV",
    "S DE RL DE CV",
    "SPR DE RL DE CV",
    "SPR DE RI DE CV",
    "SAPI DE CV",
    "SAB DE CV",
    "SAS DE CV",
    "SA DE CV",
    "SC DE RL",
    "SCP DE RL",
    "S DE RL MI",
    "S DE RL",
    "SPR DE RL",
    "SPR DE RI",
    "S EN C POR A",
    "S EN NC",
    "S EN C",
    "SAPI",
    "SAB",
    "SAS",
    "SA",
    "SC",
    "AC",
    "IAP",
    "ABP",
];

/// Uppercase without accents, for comparing forms only.
fn fold(token: &str) -> String {
    token
        .chars()
        .filter(|c| !matches!(c, '.' | ','))
        .map(|c| match c {
            'Á' | 'À' | 'Ä' => 'A',
            'É' | 'È' | 'Ë' => 'E',
            'Í' | 'Ì' | 'Ï' => 'I',
            'Ó' | 'Ò' | 'Ö' => 'O',
            'Ú' | 'Ù' | 'Ü' => 'U',
            other => other,
        })
        .collect()
}

/// The name without a trailing régimen societario (at least one word is kept).
fn without_regimen_societario(name: &str) -> &str {
    // Words with their byte offset in `name`.
    let words: Vec<(usize, &str)> = name
        .split(' ')
        .scan(0usize, |at, w| {
            let start = *at;
            *at += w.len() + 1;
            Some((start, w))
        })
        .collect();
    // Folded tokens, each remembering the first word it came from. Single letters followed by a
    // dot are joined with the next single letter: "S.A." and "S. A." both become "SA", while in
    // "JUAN Y S.A." the "Y" stays apart.
    let mut tokens: Vec<(usize, String)> = Vec::new();
    let mut joinable = false;
    for (i, (_, w)) in words.iter().enumerate() {
        let parts: Vec<&str> = w.split('.').collect();
        for (k, raw) in parts.iter().enumerate() {
            let part = fold(raw);
            if part.is_empty() {
                continue;
            }
            let single = part.chars().count() == 1;
            match tokens.last_mut() {
                Some((_, last)) if single && joinable => last.push_str(&part),
                _ => tokens.push((i, part)),
            }
            joinable = single && k + 1 < parts.len();
        }
    }
    for form in REGIMENES_SOCIETARIOS {
        let form: Vec<&str> = form.split(' ').collect();
        if tokens.len() <= form.len() {
            continue;
        }
        let tail = &tokens[tokens.len() - form.len()..];
        if tail.iter().zip(&form).all(|((_, t), f)| t == f) {
            let first_word = tail[0].0;
            if first_word == 0 {
                continue;
            }
            let cut = words[first_word].0;
            return name[..cut].trim_end_matches([' ', ',']);
        }
    }
    name
}

impl Nombre {
    /// Parses a name for a persona of `tipo`, normalizing it as described on [`Nombre`].
    pub fn parse(input: &str, tipo: TipoPersona) -> Result<Nombre, FiscalError> {
        let upper = collapse(input).to_uppercase();
        let name = match tipo {
            TipoPersona::Moral => without_regimen_societario(&upper).to_owned(),
            TipoPersona::Fisica => upper,
        };
        if name.is_empty() {
            return Err(FiscalError::new(
                "nombre",
                "Falta el nombre o razón social, escrito como aparece en tu Constancia de Situación Fiscal.",
            ));
        }
        if name.contains('|') {
            return Err(FiscalError::new(
                "nombre",
                "El nombre no puede contener el carácter |.",
            ));
        }
        let len = name.chars().count();
        if len > 300 {
            return Err(FiscalError::new(
                "nombre",
                format!("El nombre admite hasta 300 caracteres y tiene {len}."),
            ));
        }
        Ok(Nombre(name))
    }

    /// "PUBLICO EN GENERAL", the receptor's name on a factura global.
    pub fn publico_en_general() -> Nombre {
        Nombre("PUBLICO EN GENERAL".to_owned())
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Nombre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_whitespace_and_drops_controls() {
        assert_eq!(
            collapse("  Jabón\t de\n\n  tocador\u{7}  "),
            "Jabón de tocador"
        );
        assert_eq!(collapse("\u{A0}a\u{A0}\u{A0}b"), "a b");
        assert_eq!(collapse("   "), "");
    }

    #[test]
    fn moral_names_lose_their_regimen_societario() {
        let cases = [
            (
                "Escuela Kemper Urgate, S.A. de C.V.",
                "ESCUELA KEMPER URGATE",
            ),
            ("ESCUELA KEMPER URGATE SA DE CV", "ESCUELA KEMPER URGATE"),
            ("Abarrotes La Güera S. A. de C. V.", "ABARROTES LA GÜERA"),
            (
                "Distribuidora Norte S. de R.L. de C.V.",
                "DISTRIBUIDORA NORTE",
            ),
            ("Tecnologías Ñandú SAPI de CV", "TECNOLOGÍAS ÑANDÚ"),
            ("Mi Tienda SAS", "MI TIENDA"),
            ("Despacho Contable, S.C.", "DESPACHO CONTABLE"),
            ("Amigos del Libro A.C.", "AMIGOS DEL LIBRO"),
            ("Productores del Valle SPR de RL", "PRODUCTORES DEL VALLE"),
            (
                "Grupo Industrial Sociedad Anónima de Capital Variable",
                "GRUPO INDUSTRIAL",
            ),
            ("Farmacia San Juan", "FARMACIA SAN JUAN"),
            ("CIA. MINERA DEL NORTE SA", "CIA. MINERA DEL NORTE"),
            ("Hermanos Pérez y S.A. de C.V.", "HERMANOS PÉREZ Y"),
        ];
        for (input, want) in cases {
            let n = Nombre::parse(input, TipoPersona::Moral).unwrap();
            assert_eq!(n.as_str(), want, "{input}");
        }
    }

    #[test]
    fn a_name_that_is_only_a_regimen_is_kept() {
        assert_eq!(
            Nombre::parse("S.A.", TipoPersona::Moral).unwrap().as_str(),
            "S.A."
        );
    }

    #[test]
    fn person_names_are_only_uppercased() {
        let n = Nombre::parse("  maría   josé de la o  sa ", TipoPersona::Fisica).unwrap();
        assert_eq!(n.as_str(), "MARÍA JOSÉ DE LA O SA");
    }

    #[test]
    fn bad_names_are_explained() {
        assert!(Nombre::parse("  ", TipoPersona::Fisica)
            .unwrap_err()
            .message
            .contains("Falta"));
        assert!(Nombre::parse("A|B", TipoPersona::Fisica)
            .unwrap_err()
            .message
            .contains('|'));
        assert!(Nombre::parse(&"A".repeat(301), TipoPersona::Fisica)
            .unwrap_err()
            .message
            .contains("300"));
    }

    #[test]
    fn lenient_text_never_fails_on_catalog_text() {
        assert_eq!(
            Texto::lenient("Paracetamol | 500 mg", 1000)
                .unwrap()
                .as_str(),
            "Paracetamol / 500 mg"
        );
        assert_eq!(Texto::lenient("abcdef", 3).unwrap().as_str(), "abc");
        assert_eq!(Texto::lenient(" \n ", 10), None);
        assert!(Texto::parse("serie", "la serie", "A|B", 25).is_err());
        assert_eq!(
            Texto::parse("serie", "la serie", &"A".repeat(26), 25)
                .unwrap_err()
                .message,
            "La serie admite hasta 25 caracteres y tiene 26."
        );
    }
}
