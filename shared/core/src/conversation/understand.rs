//! What a customer's free text asks for, the way Mexican customers write on WhatsApp: commands,
//! questions about the store, the order and the payment, cart edits, and products with quantities
//! ("me vende 2 cajas de paracetamol porfa", "tmb un ibuprofeno").
//!
//! Matching is on [`crate::text::normalize`]d text (lowercase, accents folded, shorthand spelled out).
//! Products are found by [`ProductIndex`]; everything else by phrases at word boundaries.

use super::choice::Choice;
use super::{Faq, MAX_QTY_PER_LINE};
use crate::search::{is_stopword, Hit, ProductIndex};
use crate::text::{contains_any, contains_phrase, normalize, MAX_READ_CHARS};

/// What a text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Intent {
    /// Stop receiving messages, in any phrasing.
    OptOut,
    /// "alta": receive messages again.
    OptIn,
    /// "baja promociones": stop promotions only; order and account notices go on.
    MarketingOptOut,
    /// "alta promociones": receive promotions again.
    MarketingOptIn,
    /// A command that is also a button ("menú", "catálogo", "mi pedido", "confirmar"…).
    Choose(Choice),
    /// A quantity while one was asked.
    Quantity(Quantity),
    /// One of the merchant's FAQs, by position.
    Faq(usize),
    /// "pagar", "liga de pago".
    PaymentLink,
    /// "¿aceptan tarjeta?", "¿puedo pagar en efectivo?".
    PaymentMethods,
    /// "ya pagué", "ya te deposité por oxxo".
    PaidClaim,
    /// "quiero cancelar mi pedido".
    CancelOrder,
    /// "¿a qué hora abren?".
    Hours,
    /// "¿dónde están?".
    Location,
    /// "¿hacen envíos?", "¿cuánto cuesta el envío?".
    Delivery,
    /// "quita el ibuprofeno": products named (positions in the offers), empty when none was named.
    Remove(Vec<usize>),
    /// "mejor que sean 3": the new quantity, and the products named (may be empty).
    SetQuantity(u32, Vec<usize>),
    /// "gracias".
    Thanks,
    /// "adiós", "hasta luego".
    Goodbye,
    /// Products, each with the quantity written next to it.
    Want(Vec<Wanted>),
    /// A product asked for that the catalog does not have: the words used.
    NotCarried(String),
    /// A promotion code ("BIENVENIDA", "mi código es VERANO-10"), normalized.
    Code(String),
    /// "Tengo un código" without the code.
    AskCode,
    /// "¿Hay promociones?", "¿tienen descuentos?".
    Promotions,
    /// Nothing we know.
    Unknown,
}

/// A product asked for in one part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// The quantity written next to it, if any.
    pub qty: Option<Quantity>,
    /// Products found, best first (positions in the offers); empty when none matched.
    pub found: Vec<usize>,
    /// Whether the first of `found` is clearly what was meant.
    pub sure: bool,
    /// Words after the product's name that matched nothing ("pañales *de adulto*"): what was
    /// found is only the closest thing.
    pub unmatched: Vec<String>,
    /// The words that named it.
    pub query: String,
}

/// A quantity as the customer wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantity {
    /// 1 to 99.
    Valid(u32),
    /// Zero, negative, fractional or too large.
    OutOfRange,
}

/// Where the conversation stands, as far as reading a text is concerned.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Situation {
    /// The machine asked how many units.
    pub asking_quantity: bool,
    /// A cart with products is open.
    pub has_cart: bool,
    /// An order waits for its payment.
    pub awaiting_payment: bool,
    /// The machine asked: pickup or delivery.
    pub choosing_fulfilment: bool,
}

const OPT_OUT_EXACT: &[&str] = &[
    "baja",
    "alto",
    "stop",
    "parar",
    "unsubscribe",
    "darme de baja",
    "dar de baja",
    "de baja",
    "no mas mensajes",
    "ya no",
    "bloquear",
];
/// Phrases that ask to stop messages anywhere in a text.
const OPT_OUT_PHRASES: &[&str] = &[
    "dar de baja",
    "darme de baja",
    "dame de baja",
    "denme de baja",
    "me doy de baja",
    "de baja mi numero",
    "cancelar suscripcion",
    "desuscribir",
    "desuscribirme",
    "unsubscribe",
    "no me manden",
    "no me mandes",
    "no me envien",
    "no me envies",
    "no me escriban",
    "no me escribas",
    "no me sigan",
    "no me molesten",
    "dejen de mandar",
    "dejen de mandarme",
    "dejen de enviar",
    "dejen de enviarme",
    "dejen de escribir",
    "dejen de escribirme",
    "deja de mandar",
    "deja de mandarme",
    "deja de enviar",
    "deja de enviarme",
    "deja de escribirme",
    "no quiero recibir",
    "no deseo recibir",
    "ya no quiero recibir",
    "no quiero mas mensajes",
    "no mas mensajes",
    "ya no quiero mensajes",
    "no quiero mensajes",
    "no quiero promociones",
    "no quiero publicidad",
    "no me interesa recibir",
    "basta de mensajes",
    "quitenme de",
    "sacame de",
    "sacarme de",
    "borren mi numero",
    "borrar mi numero",
    "eliminen mi numero",
    "eliminar mi numero",
    "stop mensajes",
];
const OPT_IN: &[&str] = &[
    "alta",
    "dar de alta",
    "darme de alta",
    "start",
    "quiero recibir mensajes",
    "reactivar mensajes",
];
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
    "encargado",
    "encargada",
    "gerente",
    "dependiente",
    "vendedor",
    "vendedora",
    "farmaceutico",
    "farmaceutica",
    "quimico",
    "quimica",
    "doctor",
    "doctora",
    "medico",
    "representante",
];
const AGENT_PHRASES: &[&str] = &[
    "hablar con alguien",
    "hablar con una persona",
    "hablar con persona",
    "con una persona",
    "persona real",
    "una persona",
    "alguien real",
    "alguien que me atienda",
    "alguien me atienda",
    "me atienda alguien",
    "me atienda una",
    "que me atiendan",
    "atencion a cliente",
    "atencion a clientes",
    "atencion al cliente",
    "servicio al cliente",
    "servicio a cliente",
    "me pueden llamar",
    "me puedes llamar",
    "me llaman",
    "llamenme",
    "llamame",
    "marquenme",
    "marcame",
    "eres un bot",
    "eres bot",
    "eres robot",
    "eres un robot",
    "no eres humano",
    "no entiendes",
    "no me entiendes",
    "no me entienden",
    "con alguien",
    "que me llamen",
    "me llamen",
    "llamarme",
    "que me marquen",
    "me marquen",
    "ayuda de un humano",
    "ayuda de una persona",
    "hablar con la farmacia",
    "hablar con la tienda",
    "hablar con la sucursal",
    "hablar con ustedes",
    "comunicarme con ustedes",
    "me ayuda alguien",
    "me ayude alguien",
    "alguien me ayuda",
    "alguien me ayude",
    "alguien que me ayude",
    "tengo un problema",
    "tengo problema",
];
const GREETINGS: &[&str] = &[
    "hola", "holaa", "holi", "holis", "ola", "olaa", "buenas", "buenos", "buen", "hey", "hi",
    "hello", "saludos", "que onda", "quiubo", "quibo", "oye", "oiga", "disculpe", "disculpa",
];
const THANKS: &[&str] = &[
    "gracias",
    "muy amable",
    "te agradezco",
    "se agradece",
    "agradecida",
    "agradecido",
    "excelente",
    "perfecto",
    "genial",
    "muy bien",
];
const GOODBYE: &[&str] = &[
    "adios",
    "chao",
    "chau",
    "bye",
    "byebye",
    "hasta luego",
    "hasta pronto",
    "hasta manana",
    "nos vemos",
    "bendiciones",
    "cuidate",
    "que este bien",
    "que estes bien",
    "que tenga buen",
    "que tengas buen",
    "que tenga bonito",
    "que tengas bonito",
    "que le vaya bien",
    "que te vaya bien",
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
    ("trece", 13),
    ("catorce", 14),
    ("quince", 15),
    ("veinte", 20),
    ("treinta", 30),
    ("docena", 12),
];
/// Words that may surround a number in a message that is only a quantity ("quiero dos cajas porfa").
const QUANTITY_CONTEXT: &[&str] = &[
    "quiero", "dame", "deme", "ponme", "pon", "mandame", "solo", "nomas", "mas", "pieza", "piezas",
    "caja", "cajas", "unidad", "unidades", "frasco", "frascos", "paquete", "paquetes", "sobre",
    "sobres", "botella", "botellas", "bote", "botes", "bolsa", "bolsas", "tubo", "tubos", "de",
    "esos", "esas", "esa", "ese", "por", "favor", "porfavor", "media", "seran", "son", "va", "van",
    "ok", "si", "sean", "que", "mejor", "le", "la", "las", "los", "lo", "nada", "mas", "como",
    "unos", "unas", "seria", "serian", "par", "ahora", "tambien", "bien", "pues", "este", "ya",
    "necesito", "ocupo", "quisiera", "llevo", "me", "llevare", "nada", "porfis", "total", "en",
];
const ZERO_WORDS: &[&str] = &["cero", "ninguno", "ninguna", "menos"];
/// Words that introduce a product someone wants ("¿tienen…?", "me vende…").
const ASKING_FOR: &[&str] = &[
    "tienen",
    "tiene",
    "tienes",
    "tendran",
    "tendra",
    "venden",
    "vende",
    "vendes",
    "manejan",
    "manejas",
    "hay",
    "quiero",
    "queria",
    "quisiera",
    "busco",
    "buscaba",
    "necesito",
    "ocupo",
    "requiero",
    "dame",
    "deme",
    "denme",
    "ponme",
    "mandame",
    "traen",
    "traes",
    "cuanto cuesta",
    "cuanto cuestan",
    "precio",
    "precio de",
    // Asking for advice names what it is for: "¿qué llevo para la tos?".
    "que llevo para",
    "que me recomienda",
    "que me recomiendas",
    "que tomo para",
    "que puedo tomar",
    "algo para",
    "algo pal",
];
/// Words of conversation that are not product names, for telling "no lo manejamos" apart from chat.
const NOT_PRODUCTS: &[&str] = &[
    "tengo",
    "duda",
    "dudas",
    "pregunta",
    "preguntas",
    "consulta",
    "saber",
    "informes",
    "info",
    "mmm",
    "mm",
    "jaja",
    "jajaja",
    "jeje",
    "ahorita",
    "ahora",
    "luego",
    "despues",
    "espera",
    "esperame",
    "momento",
    "rato",
    "bueno",
    "claro",
    "entiendo",
    "entendi",
    "perdon",
    "disculpa",
    "oye",
    "oiga",
    "pasa",
    "paso",
    "puedo",
    "pueden",
    "puede",
    "hacer",
    "estoy",
    "estas",
    "esta",
    "como",
    "tal",
    "todo",
    "nada",
    "bien",
    "mal",
    "sale",
    "vale",
    "listo",
    "ok",
    "no",
    "si",
    "se",
    "dime",
    "digame",
    "sabes",
    "sabe",
    "ayudame",
    "ayuda",
    "ayudan",
    "favor",
    "poner",
    "aqui",
    "alla",
    "eso",
    "nose",
    "hmm",
    "ehh",
    "aja",
    "okey",
    "ya",
    "igual",
    "gusto",
    "amigo",
    "amiga",
    "joven",
    "senorita",
    "senor",
    "senora",
    "seno",
    "buenas",
    "tardes",
    "noches",
    "dias",
];

/// Words that split a message into products ("paracetamol y 2 ibuprofenos").
const JOINERS: &[&str] = &["y", "e", "tambien", "ademas", "mas", "aparte", "plus"];

fn exact(norm: &str, set: &[&str]) -> bool {
    set.contains(&norm)
}

fn has_word(words: &[&str], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(w))
}

fn word_starts(words: &[&str], prefixes: &[&str]) -> bool {
    words
        .iter()
        .any(|w| prefixes.iter().any(|p| w.starts_with(p)))
}

/// What the reader needs besides the text.
pub(crate) struct Reader<'a> {
    pub faqs: &'a [Faq],
    /// The catalog's category names.
    pub categories: &'a [String],
    pub index: &'a ProductIndex,
    /// Whether each offer (by position) may be sold (active).
    pub active: &'a dyn Fn(usize) -> bool,
    /// The promotion codes we know (normalized), usable or not.
    pub codes: &'a [String],
}

/// Reads a text where the conversation stands.
pub(crate) fn understand(text: &str, at: Situation, reader: &Reader<'_>) -> Intent {
    let norm = normalize(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return Intent::Unknown;
    }

    if let Some(intent) = consent(text) {
        return intent;
    }
    if asks_for_person(&norm, &words) {
        return Intent::Choose(Choice::Agent);
    }
    if at.asking_quantity {
        if let Some(q) = quantity_only(text, &words) {
            return Intent::Quantity(q);
        }
    }
    if at.choosing_fulfilment {
        if contains_any(
            &norm,
            &[
                "recoger",
                "recojo",
                "recogerlo",
                "paso por",
                "paso a",
                "voy por",
                "voy a pasar",
                "en tienda",
                "en sucursal",
                "en la tienda",
                "en la sucursal",
                "lo recojo",
                "pickup",
            ],
        ) {
            return Intent::Choose(Choice::Pickup);
        }
        if contains_any(
            &norm,
            &[
                "domicilio",
                "envio",
                "enviar",
                "envien",
                "enviamelo",
                "mandalo",
                "mandenlo",
                "a mi casa",
                "me lo traen",
                "me lo llevan",
                "me lo mandan",
                "delivery",
            ],
        ) {
            return Intent::Choose(Choice::Delivery);
        }
    }
    if let Some(intent) = about_codes(text, &words, reader.codes) {
        return intent;
    }
    if let Some(intent) = command(&norm, at) {
        return intent;
    }
    if let Some(intent) = about_orders(&norm, &words, at) {
        return intent;
    }
    if let Some(intent) = cart_edit(&norm, &words, at, reader) {
        return intent;
    }
    if let Some(index) = match_faq(&norm, &words, reader.faqs) {
        return Intent::Faq(index);
    }
    if asks_for_promotions(&norm, &words) {
        return Intent::Promotions;
    }
    if let Some(intent) = about_store(&norm, &words) {
        return intent;
    }
    if words.len() <= 3 {
        if let Some(intent) = courtesy(&norm, &words) {
            return intent;
        }
    }
    if let Some(name) = category(&words, reader) {
        return Intent::Choose(Choice::Category { page: 0, name });
    }
    let wanted = products(text, reader);
    if wanted.iter().any(|w| !w.found.is_empty()) {
        return Intent::Want(wanted);
    }
    if let Some(intent) = courtesy(&norm, &words) {
        return intent;
    }
    if let Some(intent) = loose_command(&words) {
        return intent;
    }
    if at.asking_quantity {
        if let Some(q) = parse_quantity(text, &words) {
            return Intent::Quantity(q);
        }
    }
    if let Some(query) = not_carried(&norm, &words) {
        return Intent::NotCarried(as_written(text, &query));
    }
    Intent::Unknown
}

/// Words that name a promotion code.
const CODE_WORDS: &[&str] = &["codigo", "codigos", "cupon", "cupones", "coupon"];

/// Words between "código" and the code itself ("mi código *de descuento es* X").
const CODE_FILLERS: &[&str] = &[
    "es",
    "de",
    "del",
    "el",
    "la",
    "mi",
    "un",
    "una",
    "descuento",
    "promocion",
    "promo",
    "tengo",
    "con",
    "este",
    "esta",
    "usar",
    "uso",
    "aplica",
    "aplicar",
    "aplicame",
    "porfa",
    "porfavor",
    "por",
    "favor",
    "si",
    "no",
    "que",
    "pero",
    "y",
    "para",
    "mas",
    "aqui",
    "tienes",
    "traigo",
];

/// Codes and "tengo un código".
fn about_codes(text: &str, words: &[&str], codes: &[String]) -> Option<Intent> {
    let tokens: Vec<&str> = text
        .split(|c: char| {
            c.is_whitespace()
                || matches!(c, ',' | ';' | ':' | '!' | '?' | '¿' | '¡' | '"' | '*' | '.')
        })
        .filter(|t| !t.is_empty())
        .collect();
    // A code we know, in a short message ("BIENVENIDA", "tengo el bienvenida").
    if words.len() <= 4 {
        if let Some(code) = tokens
            .iter()
            .filter_map(|t| crate::promotions::normalize_code(t))
            .find(|c| codes.contains(c))
        {
            return Some(Intent::Code(code));
        }
    }
    let named = tokens
        .iter()
        .position(|t| CODE_WORDS.contains(&crate::text::fold_text(t).as_str()));
    if let Some(at) = named {
        // The first word after "código" that is not a filler is the code.
        let code = tokens[at + 1..]
            .iter()
            .find(|t| !CODE_FILLERS.contains(&crate::text::fold_text(t).as_str()))
            .and_then(|t| crate::promotions::normalize_code(t));
        return Some(match code {
            Some(code) => Intent::Code(code),
            None => Intent::AskCode,
        });
    }
    None
}

/// "¿Hay promociones?", "¿tienen descuentos?" (read after the merchant's FAQs, so a FAQ about a
/// discount of its own — INAPAM, a loyalty card — answers first).
fn asks_for_promotions(norm: &str, words: &[&str]) -> bool {
    contains_any(
        norm,
        &[
            "promocion",
            "promociones",
            "promo",
            "promos",
            "oferta",
            "ofertas",
            "descuento",
            "descuentos",
            "rebaja",
            "rebajas",
            "2x1",
            "3x2",
        ],
    ) && !has_word(words, &["cancelar", "reembolso", "devolucion"])
}

fn opts_out(norm: &str) -> bool {
    if exact(norm, OPT_OUT_EXACT) || contains_any(norm, OPT_OUT_PHRASES) {
        return true;
    }
    // "ya no quiero que me manden mensajes": a refusal, a sending verb and what is sent.
    let words: Vec<&str> = norm.split(' ').collect();
    let refuses = has_word(&words, &["no", "dejen", "deja", "basta", "paren"]);
    let sending = has_word(
        &words,
        &[
            "manden", "mandes", "envien", "envies", "escriban", "escribas", "lleguen", "sigan",
            "mandar", "enviar", "mandarme", "enviarme",
        ],
    );
    let what = has_word(
        &words,
        &[
            "mensajes",
            "mensaje",
            "promociones",
            "publicidad",
            "notificaciones",
            "ofertas",
        ],
    );
    refuses && sending && what
}

fn asks_for_person(norm: &str, words: &[&str]) -> bool {
    // "pásame con la señorita", "¿me comunicas con alguien de la farmacia?": asking to be put
    // through to someone is asking for a person, whoever they name.
    const PUT_THROUGH: &[&str] = &[
        "pasame con",
        "pasenme con",
        "me pasas con",
        "me pasa con",
        "me pasan con",
        "comunicame con",
        "comuniqueme con",
        "comuniquenme con",
        "me comunicas con",
        "me comunica con",
        "me comunican con",
        "comunicarme con",
        "me enlazas con",
        "me contactas con",
    ];
    has_word(words, AGENT_WORDS)
        || contains_any(norm, AGENT_PHRASES)
        || contains_any(norm, PUT_THROUGH)
}

/// Words of courtesy around a short answer ("ok es todo", "listo gracias").
const AROUND: &[&str] = &[
    "ok", "gracias", "porfavor", "muchas", "bueno", "pues", "entonces",
];

/// Words that may surround an agreement without carrying it ("sí, eso sería todo", "va, por favor").
const AGREEING_FILLER: &[&str] = &[
    "eso", "es", "seria", "sera", "ya", "asi", "esta", "bien", "nada", "mas", "solo", "claro",
    "de", "acuerdo", "porfa", "por", "favor", "gracias", "muchas", "entonces", "pues", "bueno",
    "el", "pedido", "mi",
];

/// Words that carry an agreement ("va, confirmo"; a message of only "por favor" agrees to nothing).
const AGREEING_CORE: &[&str] = &[
    "si",
    "va",
    "ok",
    "okey",
    "sale",
    "dale",
    "listo",
    "lista",
    "confirmo",
    "confirmar",
    "confirma",
    "confirmado",
    "confirmada",
    "todo",
    "perfecto",
    "correcto",
    "adelante",
    "andale",
    "orale",
    "vale",
];

/// A short message, with a cart, made only of agreeing words: the customer confirms.
fn agrees(words: &[&str]) -> bool {
    (1..=7).contains(&words.len())
        && words
            .iter()
            .all(|w| AGREEING_CORE.contains(w) || AGREEING_FILLER.contains(w))
        && has_word(words, AGREEING_CORE)
}

/// Whole-message commands.
fn command(norm: &str, at: Situation) -> Option<Intent> {
    if at.has_cart {
        let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        if agrees(&words) {
            return Some(Intent::Choose(Choice::Confirm));
        }
        // "¿qué llevo en el carrito?", "¿cuánto llevo?": the cart, not a product called carrito.
        // ("¿qué llevo para la gripa?" asks for advice, so "qué llevo" counts alone or with
        // where or how far.)
        if norm == "que llevo"
            || norm == "cuanto llevo"
            || contains_any(
                norm,
                &[
                    "que llevo en",
                    "que llevo hasta",
                    "lo que llevo",
                    "que tengo en el carrito",
                    "que tengo en mi carrito",
                    "que hay en el carrito",
                    "que hay en mi carrito",
                    "ver el carrito",
                    "ver mi carrito",
                    "muestrame el carrito",
                    "muestrame mi carrito",
                    "revisar el carrito",
                    "revisar mi carrito",
                    "como va mi carrito",
                    "como va el carrito",
                    "cuanto llevo en",
                    "cuanto va mi cuenta",
                    "cuanto es en total",
                    "cuanto seria en total",
                ],
            )
        {
            return Some(Intent::Choose(Choice::ViewCart));
        }
        let core: Vec<&str> = norm.split(' ').filter(|w| !AROUND.contains(w)).collect();
        let core = core.join(" ");
        if !core.is_empty() && core != norm {
            if let Some(Intent::Choose(Choice::Confirm)) = command_exact(&core, at) {
                return Some(Intent::Choose(Choice::Confirm));
            }
        }
    }
    command_exact(norm, at)
}

fn command_exact(norm: &str, at: Situation) -> Option<Intent> {
    let choice = match norm {
        "menu" | "inicio" | "opciones" | "hola" | "volver" | "regresar" | "menu principal" => {
            Choice::Menu
        }
        "catalogo"
        | "ver catalogo"
        | "productos"
        | "ver productos"
        | "comprar"
        | "pedir"
        | "precios"
        | "lista de precios"
        | "que venden"
        | "que tienen"
        | "que productos tienen"
        | "que manejan" => Choice::Catalog { page: 0 },
        "pedido" | "mi pedido" | "mis pedidos" | "pedidos" | "estatus" | "status" | "rastrear" => {
            Choice::OrderStatus
        }
        "ayuda" | "help" | "info" | "informacion" => Choice::Help,
        "carrito" | "ver carrito" | "mi carrito" => Choice::ViewCart,
        "confirmar" | "confirmo" | "si confirmo" | "confirmar pedido" | "confirmado"
        | "confirmada" | "confirmamos" | "confirmalo" => Choice::Confirm,
        "si" | "ok" | "va" | "sale" | "dale" | "listo" | "de acuerdo" | "esta bien"
        | "asi esta bien" | "es todo" | "eso es todo" | "seria todo" | "ya es todo"
        | "es todo gracias" | "seria todo gracias" | "eso seria todo" | "nada mas" | "solo eso"
        | "ya seria todo" | "si es todo" | "si gracias" | "ok gracias" | "ya con eso"
        | "con eso" | "con eso es todo" | "ya" | "procede" | "proceder" | "mandamelo"
        | "mandalo" | "envialo" | "enviamelo" | "hazlo" | "adelante"
            if at.has_cart =>
        {
            Choice::Confirm
        }
        "cancelar" | "cancela" | "cancelalo" | "cancelar carrito" | "vaciar carrito"
        | "vacia el carrito" | "vaciar el carrito" | "borra todo" | "borrar todo"
        | "quita todo" | "ya no quiero nada" | "mejor no" | "olvidalo" | "siempre no"
        | "siempre no gracias" | "mejor no gracias" | "olvidalo gracias"
            if at.has_cart || !at.awaiting_payment =>
        {
            Choice::Cancel
        }
        "cancelar" | "cancela" | "cancelalo" | "ya no lo quiero" | "ya no quiero nada"
        | "mejor no" | "siempre no" | "siempre no gracias" | "mejor no gracias" => {
            return Some(Intent::CancelOrder)
        }
        "pagar" | "pago" | "liga" | "link" | "liga de pago" | "link de pago" | "enlace"
        | "enlace de pago" => return Some(Intent::PaymentLink),
        _ => return None,
    };
    Some(Intent::Choose(choice))
}

/// The customer's order and payment: cancel it, "ya pagué", how to pay, where it is.
fn about_orders(norm: &str, words: &[&str], at: Situation) -> Option<Intent> {
    let order_word = has_word(
        words,
        &[
            "pedido", "pedidos", "orden", "ordenes", "compra", "compras", "paquete", "encargo",
        ],
    );
    let cancels = word_starts(words, &["cancel", "anul"])
        || contains_any(
            norm,
            &[
                "ya no lo quiero",
                "ya no la quiero",
                "ya no quiero el pedido",
                "ya no lo voy a querer",
                "ya no la voy a querer",
                "no lo voy a querer",
                "ya no lo necesito",
                "ya no lo ocupo",
            ],
        );
    if cancels {
        // "quiero cancelar, ya pagué": a paid order, not a cart.
        if order_word || (at.awaiting_payment && !at.has_cart) || paid_claim(norm, words) {
            return Some(Intent::CancelOrder);
        }
        return Some(Intent::Choose(Choice::Cancel));
    }
    if paid_claim(norm, words) {
        return Some(Intent::PaidClaim);
    }
    if payment_methods(norm, words) {
        return Some(Intent::PaymentMethods);
    }
    let status = contains_any(
        norm,
        &[
            "donde viene",
            "donde va",
            "donde esta mi",
            "donde anda",
            "cuando llega",
            "cuando me llega",
            "a que hora llega",
            "a que hora me llega",
            "cuanto tarda",
            "cuanto tardan",
            "ya viene",
            "ya salio",
            "ya lo enviaron",
            "ya lo mandaron",
            "ya esta listo",
            "ya esta mi",
            "esta listo mi",
            "ya puedo pasar",
            "puedo pasar por",
            "no ha llegado",
            "no me ha llegado",
            "no llega",
            "sigue sin llegar",
            "como va mi",
            "estado de mi",
            "estatus de mi",
            "status de mi",
            "seguimiento",
            "cuanto falta",
            "cuanto le falta",
            "falta mucho",
            "mero llega",
            "ya llega",
            "casi llega",
            "puedo ir por",
            "ya puedo ir",
            "puedo recogerlo",
            "puedo recogerla",
            "ya puedo recoger",
            "pasar a recoger",
            "cuando me lo mandan",
            "cuando me lo envian",
            "cuando me lo traen",
            "cuando me lo llevan",
            "cuando lo mandan",
            "cuando lo envian",
            "que llegue",
            "para cuando",
            "rastrear",
            "rastreo",
            "numero de guia",
        ],
    ) || (order_word
        && has_word(
            words,
            &[
                "mi", "mis", "estado", "estatus", "status", "donde", "cuando", "listo", "llega",
            ],
        ));
    if status {
        let delivery_question = has_word(words, &["envio", "envios", "entrega"]) && !order_word;
        return Some(if delivery_question {
            Intent::Delivery
        } else {
            Intent::Choose(Choice::OrderStatus)
        });
    }
    None
}

/// "ya pagué", "ya te deposité", "ya hice la transferencia", "¿recibieron mi pago?".
fn paid_claim(norm: &str, words: &[&str]) -> bool {
    const PAID: &[&str] = &[
        "pague",
        "page",
        "pagado",
        "pagada",
        "pagamos",
        "pago",
        "pagos",
        "deposite",
        "deposito",
        "depositado",
        "depositamos",
        "transferi",
        "transferencia",
        "transferimos",
        "transferido",
        "abone",
        "liquide",
        "spei",
        "comprobante",
    ];
    let past = has_word(words, &["ya"]) && has_word(words, PAID);
    past || contains_any(
        norm,
        &[
            "hice el pago",
            "realice el pago",
            "hice la transferencia",
            "hice el deposito",
            "mande el comprobante",
            "envie el comprobante",
            "te mande el pago",
            "recibieron mi pago",
            "recibiste mi pago",
            "les llego mi pago",
            "te llego mi pago",
            "llego mi pago",
            "se reflejo mi pago",
            "no se refleja",
            "no se ha reflejado",
            "ya quedo el pago",
            "comprobante de pago",
            "aqui esta el comprobante",
            "ya les pague",
            "ya te pague",
        ],
    )
}

/// "¿aceptan tarjeta?", "¿puedo pagar en efectivo al recibir?", "¿cómo pago?".
fn payment_methods(norm: &str, words: &[&str]) -> bool {
    has_word(
        words,
        &[
            "tarjeta",
            "tarjetas",
            "efectivo",
            "spei",
            "oxxo",
            "codi",
            "credito",
            "debito",
            "msi",
            "paypal",
            "visa",
            "mastercard",
            "amex",
            "vales",
            "contraentrega",
            "terminal",
            "tpv",
            "transferencia",
            "transferencias",
            "deposito",
            "depositos",
        ],
    ) || contains_any(
        norm,
        &[
            "formas de pago",
            "forma de pago",
            "metodos de pago",
            "metodo de pago",
            "como pago",
            "como le pago",
            "como puedo pagar",
            "como se paga",
            "como les pago",
            "donde pago",
            "donde puedo pagar",
            "puedo pagar",
            "aceptan pago",
            "meses sin intereses",
            "contra entrega",
            "pagar al recibir",
            "pago al recibir",
            "mercado pago",
            "por transferencia",
            "pagar con",
            "pago con",
        ],
    )
}

/// The branch: hours, address, delivery.
fn about_store(norm: &str, words: &[&str]) -> Option<Intent> {
    if has_word(
        words,
        &["envio", "envios", "enviar", "envian", "reparto", "delivery"],
    ) || contains_any(
        norm,
        &[
            "a domicilio",
            "servicio a domicilio",
            "entregan a",
            "hacen entregas",
            "llevan a",
            "me lo llevan",
            "me lo traen",
            "me lo mandan",
            "lo mandan",
            "mandan a",
            "costo de entrega",
            "hasta mi casa",
            "a mi casa",
            "entrega a domicilio",
        ],
    ) {
        return Some(Intent::Delivery);
    }
    if has_word(
        words,
        &[
            "horario", "horarios", "abren", "cierran", "abierto", "abiertos", "abierta", "cierra",
            "abre",
        ],
    ) || contains_any(
        norm,
        &[
            "a que hora",
            "que hora",
            "hasta que hora",
            "que dias",
            "dias abren",
            "atienden hoy",
            "atienden el",
            "estan atendiendo",
            "hora de apertura",
        ],
    ) {
        return Some(Intent::Hours);
    }
    if has_word(
        words,
        &[
            "ubicacion",
            "ubicados",
            "ubicadas",
            "ubicada",
            "ubicado",
            "direccion",
            "mapa",
            "sucursal",
            "sucursales",
            "localizados",
        ],
    ) || contains_any(
        norm,
        &[
            "donde estan",
            "donde esta la farmacia",
            "donde esta la tienda",
            "donde se encuentran",
            "donde los encuentro",
            "donde queda",
            "donde quedan",
            "como llego",
            "en que calle",
            "donde se ubican",
        ],
    ) {
        return Some(Intent::Location);
    }
    None
}

/// Removing products, emptying the cart, changing a quantity.
fn cart_edit(norm: &str, words: &[&str], at: Situation, reader: &Reader<'_>) -> Option<Intent> {
    if !at.has_cart && !at.asking_quantity {
        return None;
    }
    let removes = word_starts(
        words,
        &["quit", "elimin", "borr", "sac", "remov", "descart"],
    ) || contains_any(
        norm,
        &[
            "ya no quiero",
            "ya no quiero el",
            "ya no quiero la",
            "mejor sin",
            "sin el",
            "sin la",
            "sin los",
            "sin las",
            "no quiero el",
            "no quiero la",
            "no quiero los",
            "no quiero las",
        ],
    );
    // "no, el paracetamol no": a product of the cart between refusals.
    let refused = at.has_cart
        && (words.first() == Some(&"no") || words.last() == Some(&"no"))
        && words.len() <= 6;
    if refused && !removes {
        let named = search_words(words, reader);
        if !named.is_empty() {
            return Some(Intent::Remove(named));
        }
    }
    if removes {
        if has_word(words, &["todo", "todos", "nada", "carrito"]) {
            return Some(Intent::Choose(Choice::Cancel));
        }
        let named = search_words(words, reader);
        return Some(Intent::Remove(named));
    }
    let changes = contains_any(
        norm,
        &[
            "mejor",
            "que sean",
            "cambia",
            "cambiar",
            "cambialo",
            "ponle",
            "nada mas",
            "solo quiero",
            "solamente",
            "nomas",
            "en vez de",
            "en lugar de",
        ],
    ) || words.first() == Some(&"solo");
    if changes && at.has_cart {
        if let Some(Quantity::Valid(qty)) = parse_number(words) {
            let named = search_words(words, reader);
            return Some(Intent::SetQuantity(qty, named));
        }
    }
    None
}

/// Products named in `words`, best matches only.
fn search_words(words: &[&str], reader: &Reader<'_>) -> Vec<usize> {
    let hits = reader.index.search(words);
    best_of(&hits, reader).0
}

/// The hits tied with the best (and whether the first is clearly it).
fn best_of(hits: &[Hit], reader: &Reader<'_>) -> (Vec<usize>, bool) {
    let hits: Vec<&Hit> = hits
        .iter()
        .filter(|h| (reader.active)(h.position))
        .collect();
    let Some(best) = hits.first() else {
        return (Vec::new(), false);
    };
    let top: Vec<usize> = hits
        .iter()
        .filter(|h| h.matched == best.matched && h.score * 2 >= best.score)
        .map(|h| h.position)
        .collect();
    let sure = hits.get(1).is_none_or(|second| {
        second.matched < best.matched
            || second.score * 2 < best.score + 1 && second.score < best.score
    });
    let sure = sure || top.len() == 1;
    (top, sure)
}

/// A message that names one of the catalog's categories and nothing else ("vitaminas", "¿qué
/// tienen de bebés?").
fn category(words: &[&str], reader: &Reader<'_>) -> Option<String> {
    // A lone consonant names something ("vitaminas c" is a product, not the category).
    let letter = |w: &str| w.len() == 1 && !matches!(w, "a" | "e" | "o" | "u" | "y");
    let content: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| (!is_stopword(w) || letter(w)) && !NOT_PRODUCTS.contains(w))
        .collect();
    if content.is_empty() {
        return None;
    }
    reader
        .categories
        .iter()
        .find(|name| {
            let folded = normalize(name);
            let named: Vec<&str> = folded.split(' ').filter(|w| !is_stopword(w)).collect();
            named == content
        })
        .cloned()
}

/// "gracias", "adiós", greetings.
fn courtesy(norm: &str, words: &[&str]) -> Option<Intent> {
    // "buen día" greets, unless wished on leaving ("que tenga buen día").
    let wishes = contains_any(
        norm,
        &["que tenga", "que tengas", "que le vaya", "que te vaya"],
    ) && !contains_any(norm, THANKS);
    if contains_any(norm, GOODBYE)
        && (wishes || !contains_any(norm, &["buen dia", "buenas noches"]))
    {
        return Some(Intent::Goodbye);
    }
    if contains_any(norm, THANKS) {
        return Some(Intent::Thanks);
    }
    if contains_any(norm, &["buen dia", "buenas noches"]) && words.len() <= 3 {
        return Some(Intent::Choose(Choice::Menu));
    }
    None
}

/// Commands found inside a longer message ("quiero ver el catálogo").
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
        &[
            "catalogo",
            "productos",
            "precios",
            "comprar",
            "pedir",
            "lista",
        ],
    ) {
        return Some(Intent::Choose(Choice::Catalog { page: 0 }));
    }
    // "¿qué llevo?" is the cart; "¿qué llevo para la tos?" asks for something for the cough.
    if has_word(words, &["carrito"]) || (has_word(words, &["llevo"]) && !has_word(words, &["para"]))
    {
        return Some(Intent::Choose(Choice::ViewCart));
    }
    if has_word(words, &["pagar", "liga", "link", "enlace"]) {
        return Some(Intent::PaymentLink);
    }
    if has_word(words, &["menu", "inicio", "opciones", "ayuda"])
        || words.first().is_some_and(|w| GREETINGS.contains(w))
        || contains_any(
            &words.join(" "),
            &[
                "que onda",
                "que tal",
                "buenas tardes",
                "buenas noches",
                "buenos dias",
            ],
        )
        || words.iter().all(|w| {
            GREETINGS.contains(w)
                || [
                    "tardes", "dias", "noches", "que", "tal", "como", "esta", "estas",
                ]
                .contains(w)
        })
    {
        return Some(Intent::Choose(Choice::Menu));
    }
    None
}

/// A product asked for that nothing in the catalog matched: the words that named it.
fn not_carried(norm: &str, words: &[&str]) -> Option<String> {
    let content: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !is_stopword(w) && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !GREETINGS.contains(w) && !NOT_PRODUCTS.contains(w))
        .collect();
    if content.is_empty() {
        return None;
    }
    let asking = contains_any(norm, ASKING_FOR);
    let short = content.len() <= 2 && words.len() <= 4 && content.iter().any(|w| w.len() >= 4);
    (asking && content.len() <= 4 || short).then(|| content.join(" "))
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

/// A number in digits or words ("3", "tres", "un par", "media docena") among `words`.
fn parse_number(words: &[&str]) -> Option<Quantity> {
    for (i, w) in words.iter().enumerate() {
        if let Some(q) = digits(w) {
            return Some(q);
        }
        if *w == "media" && words.get(i + 1) == Some(&"docena") {
            return Some(Quantity::Valid(6));
        }
        if *w == "par" {
            return Some(Quantity::Valid(2));
        }
        if let Some((_, n)) = NUMBER_WORDS.iter().find(|(word, _)| word == w) {
            // "un par" is two.
            if words.get(i + 1) == Some(&"par") {
                return Some(Quantity::Valid(2));
            }
            // "una docena" is twelve, "dos docenas" twenty-four.
            if *w != "docena" && matches!(words.get(i + 1), Some(&"docena") | Some(&"docenas")) {
                let dozens = n.saturating_mul(12);
                return Some(if (1..=MAX_QTY_PER_LINE).contains(&dozens) {
                    Quantity::Valid(dozens)
                } else {
                    Quantity::OutOfRange
                });
            }
            return Some(Quantity::Valid(*n));
        }
    }
    None
}

/// A token of digits: 1 to 99 valid, anything else out of range.
fn digits(token: &str) -> Option<Quantity> {
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(match token.parse::<u32>() {
        Ok(n) if (1..=MAX_QTY_PER_LINE).contains(&n) && token.len() <= 3 => Quantity::Valid(n),
        _ => Quantity::OutOfRange,
    })
}

/// A message that is only a quantity ("3", "dos cajas porfa", "-1", "1.5", "un par").
fn quantity_only(raw: &str, words: &[&str]) -> Option<Quantity> {
    if !words.iter().all(|w| {
        QUANTITY_CONTEXT.contains(w)
            || NUMBER_WORDS.iter().any(|(n, _)| n == w)
            || ZERO_WORDS.contains(w)
            || w.chars().all(|c| c.is_ascii_digit())
    }) {
        return None;
    }
    parse_quantity(raw, words)
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
    if let Some(q) = parse_number(words) {
        return Some(q);
    }
    if has_word(words, ZERO_WORDS) {
        return Some(Quantity::OutOfRange);
    }
    None
}

/// The products of a message, each with its quantity: the text is cut at commas, new lines and
/// joining words ("y", "también"), and before a number that follows a product's name; a number
/// that is part of a name ("500 mg", "etapa 3") stays with it.
fn products(text: &str, reader: &Reader<'_>) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = Vec::new();
    for part in text.split([',', '\n', ';', '+']) {
        let norm = normalize(part);
        let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        let mut segment: Vec<&str> = Vec::new();
        let mut qty: Option<Quantity> = None;
        let mut has_name = false;
        for (i, word) in words.iter().enumerate() {
            let is_number = digits(word).is_some()
                || (NUMBER_WORDS.iter().any(|(n, _)| n == word) && *word != "docena")
                || (*word == "media" && words.get(i + 1) == Some(&"docena"));
            let in_name = is_number
                && has_name
                && (words.get(i + 1).is_some_and(|n| MEASURES.contains(n))
                    || i.checked_sub(1)
                        .and_then(|p| words.get(p))
                        .is_some_and(|p| {
                            ["etapa", "talla", "numero", "no", "del", "de"].contains(p)
                        }));
            if JOINERS.contains(word) {
                if has_name {
                    out.push(segment_of(&segment, qty.take(), part, reader));
                    segment.clear();
                    has_name = false;
                }
                continue;
            }
            if is_number && !in_name {
                if has_name {
                    out.push(segment_of(&segment, qty.take(), part, reader));
                    segment.clear();
                    has_name = false;
                }
                if qty.is_none() {
                    qty = parse_number(&words[i..(i + 2).min(words.len())]);
                }
                continue;
            }
            // "no, ibuprofeno": words of conversation alone name no product.
            if !is_stopword(word) && !NOT_PRODUCTS.contains(word) {
                has_name = true;
            }
            segment.push(word);
        }
        if has_name {
            out.push(segment_of(&segment, qty, part, reader));
        } else if let Some(qty) = qty {
            // "pañales etapa 3, 2 paquetes": a quantity alone belongs to the product before it.
            if let Some(previous) = out.last_mut().filter(|w| w.qty.is_none()) {
                previous.qty = Some(qty);
            }
        }
    }
    out
}

/// Units written after a number that is part of a product's name.
const MEASURES: &[&str] = &[
    "mg",
    "ml",
    "g",
    "gr",
    "grs",
    "gramos",
    "kg",
    "cm",
    "mm",
    "l",
    "lt",
    "litro",
    "litros",
    "oz",
    "mcg",
    "ui",
    "x",
    "tabletas",
    "tableta",
    "capsulas",
    "capsula",
    "comprimidos",
    "grageas",
    "pastillas",
];

/// The words of `raw` as the customer wrote them (accents, ñ), keeping those whose normalized form
/// is in `query`: what a reply quotes back ("pañales adulto", not "panales adulto").
fn as_written(raw: &str, query: &str) -> String {
    let wanted: Vec<&str> = query.split(' ').collect();
    let words: Vec<String> = raw
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| wanted.contains(&crate::text::fold_text(w).as_str()))
        .collect();
    if words.is_empty() {
        query.to_owned()
    } else {
        words.join(" ")
    }
}

fn segment_of(words: &[&str], qty: Option<Quantity>, raw: &str, reader: &Reader<'_>) -> Wanted {
    let (mut hits, reached) = reader.index.search_marking(words);
    if hits.is_empty() && words.len() >= 2 {
        // A name written in two pieces ("ibu profeno", "cubre bocas").
        let joined: Vec<String> = words
            .windows(2)
            .filter(|pair| !is_stopword(pair[0]) && !is_stopword(pair[1]))
            .map(|pair| pair.concat())
            .collect();
        let joined: Vec<&str> = joined.iter().map(String::as_str).collect();
        hits = reader.index.search(&joined);
    }
    let (found, sure) = best_of(&hits, reader);
    // A word after the first one that names a product, matching nothing in the catalog, is a
    // qualifier the shop does not have ("de adulto", "elásticas"); verbs come before the name.
    let mut named = false;
    let mut unmatched = Vec::new();
    for (w, reached) in words.iter().copied().zip(reached).filter(|(w, _)| {
        !is_stopword(w)
            && !NOT_PRODUCTS.contains(w)
            && digits(w).is_none()
            && !NUMBER_WORDS.iter().any(|(n, _)| n == w)
            && !ASKING_FOR.contains(w)
    }) {
        if reached {
            named = true;
        } else if named {
            unmatched.push(w.to_owned());
        }
    }
    if found.is_empty() {
        unmatched.clear();
    }
    let query = words
        .iter()
        .copied()
        .filter(|w| {
            !is_stopword(w) && digits(w).is_none() && !NUMBER_WORDS.iter().any(|(n, _)| n == w)
        })
        .collect::<Vec<_>>()
        .join(" ");
    let query = as_written(raw, &query);
    Wanted {
        qty,
        found,
        sure,
        unmatched,
        query,
    }
}

/// The words a search used, for the reply.
pub(crate) fn search_query(text: &str) -> String {
    let norm = normalize(text);
    norm.split(' ')
        .filter(|w| !is_stopword(w) && digits(w).is_none())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opt-out or opt-in; the only texts that act while a person has the conversation.
/// Whether a message changes the customer's consent ("baja", "alta", "baja promociones"...): such
/// messages are always answered by mostrador (recorded and confirmed), whoever else holds the
/// conversation — a person, or a merchant's own bot.
pub fn changes_consent(text: &str) -> bool {
    consent(text).is_some()
}

pub(crate) fn consent(text: &str) -> Option<Intent> {
    let norm = normalize(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    if has_word(&words, MARKETING_WORDS) {
        // "baja promociones", "ya no quiero ofertas"; "alta promociones", "sí quiero promociones".
        let refuses = opts_out(&norm)
            || has_word(
                &words,
                &[
                    "baja", "stop", "alto", "basta", "cancelar", "quitar", "quitame",
                ],
            )
            || contains_any(
                &norm,
                &["no quiero", "ya no", "no me interesan", "no me interesa"],
            );
        if refuses {
            return Some(Intent::MarketingOptOut);
        }
        let accepts = has_word(&words, &["alta", "reactivar", "activar", "start"])
            || contains_any(
                &norm,
                &[
                    "quiero recibir",
                    "si quiero",
                    "mandame",
                    "mandenme",
                    "enviame",
                    "envienme",
                ],
            );
        if accepts && words.len() <= 8 {
            return Some(Intent::MarketingOptIn);
        }
        return None;
    }
    if opts_out(&norm) {
        Some(Intent::OptOut)
    } else if exact(&norm, OPT_IN)
        || (words.len() <= 8
            && contains_any(
                &norm,
                &[
                    "volver a recibir",
                    "quiero recibir mensajes",
                    "quiero recibir sus mensajes",
                    "suscribirme",
                    "me suscribo",
                    "reactivar mensajes",
                    "activar mensajes",
                    "vuelvan a mandarme",
                    "vuelvan a enviarme",
                ],
            ))
    {
        Some(Intent::OptIn)
    } else {
        None
    }
}

/// Words that name promotional messages.
const MARKETING_WORDS: &[&str] = &[
    "promociones",
    "promocion",
    "promos",
    "promo",
    "ofertas",
    "publicidad",
    "marketing",
    "anuncios",
    "descuentos",
];

/// Whether a text asks about an invoice ("me das factura porfa?", "no me ha llegado mi factura").
pub fn asks_for_invoice(text: &str) -> bool {
    let norm = normalize(text);
    norm.split(' ')
        .any(|w| w.starts_with("factur") || w == "cfdi" || w == "facutra" || w == "fatura")
        || contains_phrase(&norm, "recibo fiscal")
        || contains_phrase(&norm, "comprobante fiscal")
}
