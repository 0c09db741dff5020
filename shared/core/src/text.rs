//! Customers' text as the assistant reads it: lowercase, accents folded, punctuation dropped,
//! stretched letters shortened ("holaaa") and WhatsApp shorthand spelled out ("tmb", "xfa", "q").
//!
//! Every rule that reads a customer's words (intents, product search, quantities) works on this form.

/// Only the start of a very long message is read.
pub const MAX_READ_CHARS: usize = 500;

/// Shorthand as Mexican customers write it on WhatsApp, and the word it stands for.
const SHORTHAND: &[(&str, &str)] = &[
    ("tmb", "tambien"),
    ("tmbn", "tambien"),
    ("tambn", "tambien"),
    ("tb", "tambien"),
    ("tbn", "tambien"),
    ("tamb", "tambien"),
    ("porfa", "porfavor"),
    ("porfis", "porfavor"),
    ("porfas", "porfavor"),
    ("xfa", "porfavor"),
    ("xfavor", "porfavor"),
    ("plis", "porfavor"),
    ("pls", "porfavor"),
    ("plz", "porfavor"),
    ("q", "que"),
    ("k", "que"),
    ("ke", "que"),
    ("qe", "que"),
    ("x", "por"),
    ("xq", "porque"),
    ("pq", "porque"),
    ("porq", "porque"),
    ("d", "de"),
    ("kiero", "quiero"),
    ("qiero", "quiero"),
    ("kero", "quiero"),
    ("qero", "quiero"),
    ("kisiera", "quisiera"),
    ("bnas", "buenas"),
    ("bns", "buenas"),
    ("wenas", "buenas"),
    ("bnos", "buenos"),
    ("grax", "gracias"),
    ("grx", "gracias"),
    ("grasias", "gracias"),
    ("dnd", "donde"),
    ("dond", "donde"),
    ("cdo", "cuando"),
    ("cuant", "cuanto"),
    ("cnt", "cuanto"),
    ("grax", "gracias"),
    ("grx", "gracias"),
    ("grasias", "gracias"),
    ("gracia", "gracias"),
    ("grcs", "gracias"),
    ("thx", "gracias"),
    ("thanks", "gracias"),
    ("oki", "ok"),
    ("okis", "ok"),
    ("okey", "ok"),
    ("okay", "ok"),
    ("oka", "ok"),
    ("ook", "ok"),
    ("bn", "bien"),
    ("tmbien", "tambien"),
    ("msj", "mensaje"),
    ("msjs", "mensajes"),
    ("mjs", "mensajes"),
    ("hr", "hora"),
    ("hra", "hora"),
    ("hrs", "horas"),
    ("xfas", "porfavor"),
    ("salu2", "saludos"),
    ("sta", "esta"),
    ("stan", "estan"),
    ("toy", "estoy"),
    ("pa", "para"),
    ("pal", "para el"),
    ("nel", "no"),
    ("ntp", "no te preocupes"),
    ("pzas", "piezas"),
    ("pza", "pieza"),
    ("pz", "pieza"),
    ("pzs", "piezas"),
    ("cjas", "cajas"),
    ("cja", "caja"),
    ("fact", "factura"),
    ("ped", "pedido"),
];

/// Folds one lowercase character: accents off, ñ → n; anything but letters and digits → space.
fn fold(c: char) -> char {
    match c {
        'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
        'é' | 'è' | 'ë' | 'ê' => 'e',
        'í' | 'ì' | 'ï' | 'î' => 'i',
        'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
        'ú' | 'ù' | 'ü' | 'û' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        c if c.is_alphanumeric() => c,
        _ => ' ',
    }
}

/// Lowercase, accents folded, anything but letters and digits turned into single spaces
/// ("¿Cuál es su HORARIO?" → "cual es su horario"). Digits stay glued to letters ("500mg").
pub fn fold_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text
        .chars()
        .take(MAX_READ_CHARS)
        .flat_map(char::to_lowercase)
        .map(fold)
    {
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// A word with runs of three or more equal letters cut to one ("holaaaa" → "hola", "siii" → "si");
/// doubled letters stay ("llegar", "carro").
fn unstretch(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let keep = if run >= 3 && c.is_alphabetic() {
            1
        } else {
            run
        };
        for _ in 0..keep {
            out.push(c);
        }
        i += run;
    }
    out
}

/// The text as rules read it: [`fold_text`], stretched letters cut and shorthand spelled out
/// ("Holaaa, tmb kiero 2 xfa" → "hola tambien quiero 2 porfavor").
pub fn normalize(text: &str) -> String {
    let folded = fold_text(text);
    let mut out = String::with_capacity(folded.len() + 8);
    for word in folded.split(' ').filter(|w| !w.is_empty()) {
        let word = unstretch(word);
        let word = SHORTHAND
            .iter()
            .find(|(short, _)| *short == word)
            .map_or(word.as_str(), |(_, long)| long);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether `phrase` (normalized, one or more words) occurs in `norm` at word boundaries.
pub fn contains_phrase(norm: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(at) = norm[from..].find(phrase) {
        let start = from + at;
        let end = start + phrase.len();
        let before = start == 0 || norm.as_bytes()[start - 1] == b' ';
        let after = end == norm.len() || norm.as_bytes()[end] == b' ';
        if before && after {
            return true;
        }
        from = start + 1;
        while from < norm.len() && !norm.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

/// Whether any of `phrases` occurs in `norm` at word boundaries.
pub fn contains_any(norm: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| contains_phrase(norm, p))
}

/// A web address that opens a map search for `address` (percent-encoded UTF-8).
pub fn map_link(address: &str) -> String {
    let mut query = String::with_capacity(address.len() * 2);
    for byte in address.trim().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                query.push(char::from(byte))
            }
            b' ' => query.push('+'),
            _ => query.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("https://www.google.com/maps/search/?api=1&query={query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(fold_text("¿Cuál es su HORARIO?"), "cual es su horario");
        assert_eq!(fold_text("  Niños,   ¡ya!  "), "ninos ya");
        assert_eq!(fold_text("500mg"), "500mg");
    }

    #[test]
    fn spells_out_shorthand_and_cuts_stretched_letters() {
        assert_eq!(
            normalize("Holaaaa, tmb kiero 2 xfa"),
            "hola tambien quiero 2 porfavor"
        );
        assert_eq!(normalize("siiii q onda"), "si que onda");
        assert_eq!(normalize("llegar carro"), "llegar carro");
        assert_eq!(normalize("x fa"), "por fa");
    }

    #[test]
    fn reads_only_the_start_of_a_long_message() {
        let long = "a ".repeat(2_000);
        assert!(normalize(&long).len() <= MAX_READ_CHARS);
    }

    #[test]
    fn phrases_match_at_word_boundaries() {
        assert!(contains_phrase("donde esta mi pedido", "mi pedido"));
        assert!(contains_phrase("mi pedido", "mi pedido"));
        assert!(!contains_phrase("mis pedidos", "mi pedido"));
        assert!(!contains_phrase("tabaja", "baja"));
        assert!(contains_any("dame de baja", &["alto", "de baja"]));
        assert!(!contains_phrase("año ñu", ""));
    }

    #[test]
    fn map_links_are_percent_encoded() {
        assert_eq!(
            map_link("Av. 5 de Mayo 32, Cuauhtémoc"),
            "https://www.google.com/maps/search/?api=1&query=Av.+5+de+Mayo+32%2C+Cuauht%C3%A9moc"
        );
    }
}
