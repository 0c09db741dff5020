//! What a customer's free text asks for: commands, FAQ keywords, quantities, product names.
//!
//! Matching is on a normalized form: lowercase, without accents or punctuation ("¿Cuál es su
//! HORARIO?" → "cual es su horario").

use super::choice::Choice;
use super::{Faq, Offer, MAX_QTY_PER_LINE};

/// Only the start of a very long message is read.
const MAX_READ_CHARS: usize = 500;

/// What a text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Intent {
    /// "baja", "alto", "stop".
    OptOut,
    /// "alta".
    OptIn,
    /// A command that is also a button ("menú", "catálogo", "mi pedido", "confirmar"…).
    Choose(Choice),
    /// A quantity while one was asked.
    Quantity(Quantity),
    /// One of the merchant's FAQs, by position.
    Faq(usize),
    /// "pagar", "liga de pago".
    PaymentLink,
    /// "gracias".
    Thanks,
    /// Product names matching these words.
    Search(Vec<usize>),
    /// Nothing we know.
    Unknown,
}

/// A quantity as the customer wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantity {
    /// 1 to 99.
    Valid(u32),
    /// Zero, negative, fractional or too large.
    OutOfRange,
}

/// Lowercase, accents folded, anything but letters and digits turned into single spaces.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text
        .chars()
        .take(MAX_READ_CHARS)
        .flat_map(char::to_lowercase)
    {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
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

const OPT_OUT: &[&str] = &[
    "baja",
    "alto",
    "stop",
    "dar de baja",
    "darme de baja",
    "unsubscribe",
    "cancelar suscripcion",
];
const OPT_IN: &[&str] = &["alta", "dar de alta", "darme de alta", "start"];
const AGENT_WORDS: &[&str] = &[
    "asesor",
    "asesora",
    "asesores",
    "humano",
    "humana",
    "agente",
    "operador",
    "operadora",
    "ejecutivo",
    "ejecutiva",
];
const AGENT_PHRASES: &[&str] = &[
    "hablar con alguien",
    "hablar con una persona",
    "una persona real",
];
const GREETINGS: &[&str] = &[
    "hola", "holi", "holis", "ola", "buenas", "buenos", "buen", "hey", "hi", "hello", "saludos",
    "que onda",
];
const NUMBER_WORDS: &[(&str, u32)] = &[
    ("un", 1),
    ("uno", 1),
    ("una", 1),
    ("dos", 2),
    ("tres", 3),
    ("cuatro", 4),
    ("cinco", 5),
    ("seis", 6),
    ("siete", 7),
    ("ocho", 8),
    ("nueve", 9),
    ("diez", 10),
    ("once", 11),
    ("doce", 12),
    ("docena", 12),
];
/// Words that may surround a number word in a quantity ("quiero dos cajas por favor").
const QUANTITY_CONTEXT: &[&str] = &[
    "quiero", "dame", "deme", "ponme", "pon", "mandame", "solo", "nomas", "mas", "pieza", "piezas",
    "caja", "cajas", "unidad", "unidades", "frasco", "frascos", "paquete", "paquetes", "sobre",
    "sobres", "botella", "botellas", "bote", "botes", "bolsa", "bolsas", "tubo", "tubos", "de",
    "esos", "esas", "por", "favor", "porfa", "porfavor", "media", "seran", "son", "va", "van",
    "ok", "si",
];
const ZERO_WORDS: &[&str] = &["cero", "ninguno", "ninguna", "menos", "nada"];
/// Words that say nothing about which product is wanted.
const STOPWORDS: &[&str] = &[
    "que", "quiero", "queria", "busco", "buscaba", "tienen", "tienes", "tiene", "hay", "para",
    "por", "con", "los", "las", "del", "una", "uno", "unos", "unas", "precio", "cuanto", "cuesta",
    "cuestan", "favor", "necesito", "venden", "manejan", "algo", "mas", "muy", "como", "donde",
    "cual", "sus", "este", "esta", "eso", "esa", "ese",
];

fn exact(norm: &str, set: &[&str]) -> bool {
    set.contains(&norm)
}

fn has_word(words: &[&str], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(w))
}

/// Reads a text. `asking_quantity` is set while the machine waits for a number.
pub(crate) fn understand(
    text: &str,
    asking_quantity: bool,
    faqs: &[Faq],
    offers: &[Offer],
) -> Intent {
    let norm = normalize(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();

    if exact(&norm, OPT_OUT) {
        return Intent::OptOut;
    }
    if exact(&norm, OPT_IN) {
        return Intent::OptIn;
    }
    if has_word(&words, AGENT_WORDS) || AGENT_PHRASES.iter().any(|p| contains_phrase(&norm, p)) {
        return Intent::Choose(Choice::Agent);
    }
    if asking_quantity {
        if let Some(q) = parse_quantity(text, &words) {
            return Intent::Quantity(q);
        }
    }
    if let Some(intent) = command(&norm) {
        return intent;
    }
    if let Some(index) = match_faq(&norm, &words, faqs) {
        return Intent::Faq(index);
    }
    if let Some(intent) = loose_command(&words) {
        return intent;
    }
    let found = search(&words, offers);
    if !found.is_empty() {
        return Intent::Search(found);
    }
    Intent::Unknown
}

/// Whole-message commands.
fn command(norm: &str) -> Option<Intent> {
    let choice = match norm {
        "menu" | "inicio" | "opciones" | "hola" | "volver" | "regresar" => Choice::Menu,
        "catalogo" | "ver catalogo" | "productos" | "ver productos" | "comprar" | "pedir"
        | "precios" => Choice::Catalog { page: 0 },
        "pedido" | "mi pedido" | "mis pedidos" | "pedidos" | "estatus" | "status" | "rastrear" => {
            Choice::OrderStatus
        }
        "ayuda" | "help" | "info" | "informacion" => Choice::Help,
        "carrito" | "ver carrito" | "mi carrito" => Choice::ViewCart,
        "confirmar" | "confirmo" | "si" | "si confirmo" | "confirmar pedido" => Choice::Confirm,
        "cancelar" | "cancela" | "cancelar carrito" | "vaciar carrito" => Choice::Cancel,
        "pagar" | "pago" | "liga" | "link" | "liga de pago" | "link de pago" => {
            return Some(Intent::PaymentLink)
        }
        "gracias" | "muchas gracias" | "ok gracias" | "mil gracias" => return Some(Intent::Thanks),
        _ => return None,
    };
    Some(Intent::Choose(choice))
}

/// Commands found inside a longer message ("¿dónde está mi pedido?").
fn loose_command(words: &[&str]) -> Option<Intent> {
    if has_word(words, &["pedido", "pedidos", "orden", "compra"]) {
        let new_order = has_word(words, &["hacer", "nuevo", "otro", "realizar", "levantar"]);
        return Some(Intent::Choose(if new_order {
            Choice::Catalog { page: 0 }
        } else {
            Choice::OrderStatus
        }));
    }
    if has_word(
        words,
        &["catalogo", "productos", "precios", "comprar", "pedir"],
    ) {
        return Some(Intent::Choose(Choice::Catalog { page: 0 }));
    }
    if has_word(words, &["carrito"]) {
        return Some(Intent::Choose(Choice::ViewCart));
    }
    if has_word(words, &["pagar", "liga", "link"]) {
        return Some(Intent::PaymentLink);
    }
    if has_word(words, &["gracias"]) {
        return Some(Intent::Thanks);
    }
    if has_word(words, &["menu", "inicio", "opciones"])
        || words.first().is_some_and(|w| GREETINGS.contains(w))
    {
        return Some(Intent::Choose(Choice::Menu));
    }
    None
}

fn contains_phrase(norm: &str, phrase: &str) -> bool {
    format!(" {norm} ").contains(&format!(" {phrase} "))
}

/// The FAQ with the most keyword hits; a one-word keyword of four letters or more also matches
/// words that start with it ("envio" matches "envios").
fn match_faq(norm: &str, words: &[&str], faqs: &[Faq]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (index, faq) in faqs.iter().enumerate() {
        let hits = faq
            .keywords
            .iter()
            .map(|k| normalize(k))
            .filter(|k| !k.is_empty())
            .filter(|k| {
                if k.contains(' ') {
                    contains_phrase(norm, k)
                } else {
                    words
                        .iter()
                        .any(|w| w == k || (k.chars().count() >= 4 && w.starts_with(k.as_str())))
                }
            })
            .count();
        if hits > 0 && best.is_none_or(|(_, b)| hits > b) {
            best = Some((index, hits));
        }
    }
    best.map(|(index, _)| index)
}

/// A quantity in the text: the first number ("quiero 3", "-2", "1.5") or a number word ("dos").
pub(crate) fn parse_quantity(raw: &str, words: &[&str]) -> Option<Quantity> {
    let raw: String = raw.chars().take(MAX_READ_CHARS).collect();
    for token in raw.split_whitespace() {
        let Some(first_digit) = token.find(|c: char| c.is_ascii_digit()) else {
            continue;
        };
        let negative = token[..first_digit].ends_with('-');
        let number: &str = {
            let tail = &token[first_digit..];
            let end = tail
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                .unwrap_or(tail.len());
            tail[..end].trim_end_matches(['.', ','])
        };
        if negative || number.contains(['.', ',']) || number.len() > 3 {
            return Some(Quantity::OutOfRange);
        }
        return Some(match number.parse::<u32>() {
            Ok(n) if (1..=MAX_QTY_PER_LINE).contains(&n) => Quantity::Valid(n),
            _ => Quantity::OutOfRange,
        });
    }
    // Number words count only in a message about a quantity ("dos", "una caja", "quiero tres
    // piezas"), so that "tengo una duda" is not one unit.
    if !words.iter().all(|w| {
        QUANTITY_CONTEXT.contains(w)
            || NUMBER_WORDS.iter().any(|(n, _)| n == w)
            || ZERO_WORDS.contains(w)
    }) {
        return None;
    }
    if words.windows(2).any(|w| w == ["media", "docena"]) {
        return Some(Quantity::Valid(6));
    }
    if let Some((_, n)) = words
        .iter()
        .find_map(|w| NUMBER_WORDS.iter().find(|(word, _)| word == w))
    {
        return Some(Quantity::Valid(*n));
    }
    if has_word(words, ZERO_WORDS) {
        return Some(Quantity::OutOfRange);
    }
    None
}

/// Positions of active offers whose name contains every meaningful word of the text.
fn search(words: &[&str], offers: &[Offer]) -> Vec<usize> {
    let query: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(w))
        .collect();
    if query.is_empty() {
        return Vec::new();
    }
    offers
        .iter()
        .enumerate()
        .filter(|(_, o)| o.product.active)
        .filter(|(_, o)| {
            let name = normalize(&o.product.name);
            query.iter().all(|q| name.contains(q))
        })
        .map(|(i, _)| i)
        .collect()
}

/// The words a search used, for the reply.
pub(crate) fn search_query(text: &str) -> String {
    let norm = normalize(text);
    norm.split(' ')
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// "baja" or "alta" alone; the only texts that act while a person has the conversation.
pub(crate) fn consent(text: &str) -> Option<Intent> {
    let norm = normalize(text);
    if exact(&norm, OPT_OUT) {
        Some(Intent::OptOut)
    } else if exact(&norm, OPT_IN) {
        Some(Intent::OptIn)
    } else {
        None
    }
}
