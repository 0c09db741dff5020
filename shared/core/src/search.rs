//! Product search a customer can't fail: typo-tolerant, accent- and case-insensitive, singular and
//! plural, diminutives, partial names, and the merchant's brand ↔ generic synonyms.
//!
//! Built on `fst` (a sorted set of the catalog's terms as a finite-state transducer, by the author of
//! ripgrep) queried with Levenshtein automata from `levenshtein_automata` (Tantivy's), and the Snowball
//! Spanish stemmer from `rust-stemmers`: the same pieces a search engine uses, without running one.
//! Chosen over a full engine (Tantivy) because a branch catalog is small enough to index in memory per
//! catalog version, and a query must stay in microseconds inside a conversation step.
//!
//! Terms come from a product's name (weight 3), its categories and description (weight 1), and the
//! synonyms of any of those words. A query word matches a term exactly (by stem), by prefix (4+
//! letters: "parace"), or within one edit (4+ letters) or two (7+ letters). Products are ranked by how
//! many query words they match, then by score.

use crate::catalog::Product;
use crate::text::fold_text;
use fst::automaton::{Automaton, Str};
use fst::{IntoStreamer, Map, MapBuilder, Streamer};
use levenshtein_automata::{LevenshteinAutomatonBuilder, DFA};
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// Words that never identify a product: articles, verbs of asking, units and courtesy.
pub const STOPWORDS: &[&str] = &[
    "a",
    "al",
    "algo",
    "algun",
    "alguna",
    "alguno",
    "ahi",
    "aqui",
    "buen",
    "buenas",
    "buenos",
    "busco",
    "buscaba",
    "caja",
    "cajas",
    "cajita",
    "cajitas",
    "como",
    "con",
    "cual",
    "cuales",
    "cuanto",
    "cuanta",
    "cuantos",
    "cuantas",
    "cuesta",
    "cuestan",
    "da",
    "dame",
    "de",
    "deme",
    "del",
    "den",
    "denme",
    "dia",
    "donde",
    "el",
    "en",
    "envase",
    "esa",
    "esas",
    "ese",
    "eso",
    "esos",
    "esta",
    "este",
    "estos",
    "favor",
    "frasco",
    "frascos",
    "hay",
    "hola",
    "la",
    "las",
    "le",
    "lo",
    "los",
    "manda",
    "mandame",
    "mandas",
    "mandan",
    "manejan",
    "manejas",
    "mas",
    "me",
    "mi",
    "mis",
    "muy",
    "necesito",
    "necesitaria",
    "otra",
    "otro",
    "otras",
    "otros",
    "paquete",
    "paquetes",
    "para",
    "pieza",
    "piezas",
    "pon",
    "ponme",
    "por",
    "porfavor",
    "precio",
    "precios",
    "pues",
    "que",
    "quiero",
    "queria",
    "quisiera",
    "se",
    "si",
    "sobre",
    "sobres",
    "su",
    "sus",
    "tambien",
    "tendra",
    "tendran",
    "tenga",
    "tengan",
    "tiene",
    "tienen",
    "tienes",
    "traes",
    "traen",
    "tu",
    "un",
    "una",
    "unas",
    "uno",
    "unos",
    "unidad",
    "unidades",
    "vende",
    "venden",
    "vendes",
    "vendan",
    "ver",
    "y",
    "ya",
    "agrega",
    "agregame",
    "agregar",
    "anade",
    "anademe",
    "pasame",
    "pasa",
    "ocupo",
    "requiero",
    "porfis",
    "gracias",
    "bien",
    "ok",
    "orale",
    "va",
    "bueno",
    "nomas",
    "solo",
    "sera",
    "seria",
    "serian",
    "disponible",
    "disponibles",
    "existencia",
    "stock",
    "tabletas",
    "tableta",
    "pastillas",
    "pastilla",
    "cosa",
    "cosas",
    "producto",
    "productos",
    "par",
    "docena",
    "docenas",
    "media",
    "medio",
    "bote",
    "botes",
    "botella",
    "botellas",
    "bolsa",
    "bolsas",
    "tubo",
    "tubos",
    "lata",
    "latas",
    "kilo",
    "kilos",
    "litro",
    "litros",
    "mg",
    "ml",
    "gr",
    "g",
    "cm",
    "hasta",
    "luego",
    "tarde",
    "tardes",
    "noche",
    "noches",
    "dias",
    "pronto",
    "onda",
    "tal",
    "todo",
    "nada",
    "nos",
    "vemos",
    "les",
    "te",
    "urge",
    "urgente",
    "rapido",
    "ahorita",
    "hoy",
    "podria",
    "puede",
    "puedes",
    "decir",
    "sale",
    "salen",
];

/// Synonym groups every merchant gets; a merchant adds its own (brands, local names).
pub const COMMON_SYNONYMS: &[&[&str]] = &[
    &[
        "nino",
        "ninos",
        "nina",
        "ninas",
        "infantil",
        "infantiles",
        "pediatrico",
        "pediatrica",
        "chiquitos",
    ],
    &["bebe", "bebes", "bebito", "bebita"],
    &["adulto", "adultos"],
    &[
        "cubrebocas",
        "tapabocas",
        "mascarilla",
        "mascarillas",
        "barbijo",
    ],
    &[
        "curitas", "curita", "banditas", "bandita", "venditas", "vendita", "aposito", "apositos",
    ],
    &["panal", "panales", "panalitos"],
    &["toallitas", "toallas humedas"],
    &["jabon", "jaboncito"],
    &["dental", "dientes", "diente"],
    &["suero", "electrolitos", "hidratante"],
    &["termometro", "termometros"],
    &["alergia", "alergias", "antialergico", "antihistaminico"],
    &[
        "digestivo",
        "digestivos",
        "acidez",
        "agruras",
        "gastritis",
        "reflujo",
        "indigestion",
    ],
    &["dolor", "analgesico", "analgesicos"],
];

/// How a query word met a term, best first.
const EXACT: u32 = 6;
const PREFIX: u32 = 4;
const ONE_EDIT: u32 = 3;
const TWO_EDITS: u32 = 2;

/// Weight of a term found in a product's name, against categories and description.
const NAME: u32 = 3;
const OTHER: u32 = 1;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::Spanish))
}

fn automata(distance: u8) -> &'static LevenshteinAutomatonBuilder {
    static ONE: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    static TWO: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    if distance <= 1 {
        ONE.get_or_init(|| LevenshteinAutomatonBuilder::new(1, true))
    } else {
        TWO.get_or_init(|| LevenshteinAutomatonBuilder::new(2, true))
    }
}

/// The term a word is indexed and searched by: its Spanish stem, diminutives folded
/// ("pastillitas" → "pastill", "curitas" → "curit"), then spelled as it sounds, so that the
/// usual misspellings meet ("parasetamol", "omeprasol", "alcol", "bitamina").
pub fn term(word: &str) -> String {
    let mut stem = stemmer().stem(word).into_owned();
    for ending in ["cit", "it"] {
        if stem.len() > ending.len() + 4 && stem.ends_with(ending) {
            stem.truncate(stem.len() - ending.len());
            break;
        }
    }
    sounds(&stem)
}

/// A word as written, and without a plural ending, spelled as it sounds ("gasas" → "gasas", "gasa").
fn whole_forms(word: &str) -> Vec<String> {
    let mut forms = vec![sounds(word)];
    for ending in ["es", "s"] {
        if let Some(singular) = word.strip_suffix(ending).filter(|w| w.chars().count() >= 2) {
            forms.push(sounds(singular));
            break;
        }
    }
    forms
}

/// Spanish spelling folded to sound: silent h dropped, b/v, c/s/z, c/k/qu, ll/y and g/j before e
/// and i written alike, doubled letters single.
fn sounds(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let soft = matches!(next, Some('e' | 'i'));
        let (sound, skip) = match c {
            'h' if out.last() != Some(&'c') => (None, 1),
            'v' | 'w' => (Some('b'), 1),
            'z' => (Some('s'), 1),
            'c' if next == Some('h') => (Some('x'), 2),
            'c' if soft => (Some('s'), 1),
            'c' | 'q' => (
                Some('k'),
                if c == 'q' && next == Some('u') && soft {
                    2
                } else {
                    1
                },
            ),
            'l' if next == Some('l') => (Some('y'), 2),
            'g' if soft => (Some('j'), 1),
            'i' if next.is_some_and(|n| "aeou".contains(n)) && i > 0 => (Some('y'), 1),
            c => (Some(c), 1),
        };
        if let Some(sound) = sound {
            if out.last() != Some(&sound) || sound.is_ascii_digit() {
                out.push(sound);
            }
        }
        i += skip;
    }
    out.into_iter().collect()
}

/// Whether a word says nothing about which product is wanted.
pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word) || word.chars().count() < 2
}

/// The catalog's terms, ready to search. Positions refer to the products it was built from, in order.
#[derive(Debug)]
pub struct ProductIndex {
    terms: Map<Vec<u8>>,
    /// Per term id: (product position, weight), positions ascending.
    postings: Vec<Vec<(u32, u32)>>,
    products: usize,
    /// The products' category names, in catalog order, each once.
    categories: Vec<String>,
    /// Per category (same order), the positions of its products; last, the products without one.
    members: Vec<Vec<u32>>,
}

/// One product found, with how well it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Position of the product in the list the index was built from.
    pub position: usize,
    /// How many of the query's words it matched.
    pub matched: usize,
    /// Sum over matched words of match quality × field weight.
    pub score: u32,
}

impl ProductIndex {
    /// Indexes products (in the order given); `synonyms` are groups of words that mean the same
    /// product (folded like customers' text: "tylenol", "paracetamol").
    pub fn build<'a>(
        products: impl IntoIterator<Item = &'a Product>,
        synonyms: &[Vec<String>],
    ) -> ProductIndex {
        let groups: Vec<Vec<String>> = COMMON_SYNONYMS
            .iter()
            .map(|g| g.iter().map(|w| fold_text(w)).collect())
            .chain(
                synonyms
                    .iter()
                    .map(|g| g.iter().map(|w| fold_text(w)).collect()),
            )
            .collect();
        // One-word synonyms by word; phrases ("toallas humedas") are looked for in the text.
        let mut group_of_word: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut phrases: Vec<(&str, usize)> = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            for entry in group {
                if entry.contains(' ') {
                    phrases.push((entry.as_str(), g));
                } else if !entry.is_empty() {
                    group_of_word.entry(entry.as_str()).or_default().push(g);
                }
            }
        }
        // Words repeat across a catalog: each is stemmed once.
        let mut keys_of: HashMap<String, Vec<String>> = HashMap::new();
        // term → (position → best weight)
        let mut table: BTreeMap<String, BTreeMap<u32, u32>> = BTreeMap::new();
        let mut categories: Vec<String> = Vec::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        let mut unnamed: Vec<u32> = Vec::new();
        let mut products_seen = 0usize;
        for (position, product) in products.into_iter().enumerate() {
            products_seen = position + 1;
            let Ok(position) = u32::try_from(position) else {
                break;
            };
            let mut named = false;
            for category in &product.categories {
                let category = category.trim();
                if category.is_empty() {
                    continue;
                }
                named = true;
                match categories.iter().position(|c| c == category) {
                    Some(at) => {
                        if members[at].last() != Some(&position) {
                            members[at].push(position);
                        }
                    }
                    None => {
                        categories.push(category.to_owned());
                        members.push(vec![position]);
                    }
                }
            }
            if !named {
                unnamed.push(position);
            }
            let mut add = |text: &str, weight: u32| {
                if text.trim().is_empty() {
                    return;
                }
                let folded = fold_text(text);
                let mut found_groups: Vec<usize> = Vec::new();
                for word in folded.split(' ').filter(|w| w.chars().count() >= 2) {
                    if let Some(gs) = group_of_word.get(word) {
                        found_groups.extend(gs);
                    }
                }
                for (phrase, g) in &phrases {
                    if crate::text::contains_phrase(&folded, phrase) {
                        found_groups.push(*g);
                    }
                }
                found_groups.sort_unstable();
                found_groups.dedup();
                let synonyms = found_groups
                    .iter()
                    .flat_map(|&g| groups[g].iter().flat_map(|e| e.split(' ')));
                for word in folded.split(' ').chain(synonyms) {
                    if word.chars().count() < 2 {
                        continue;
                    }
                    let keys = keys_of.entry(word.to_owned()).or_insert_with(|| {
                        let mut keys = whole_forms(word);
                        keys.push(term(word));
                        keys.sort_unstable();
                        keys.dedup();
                        keys
                    });
                    for key in keys.iter() {
                        let best = match table.get_mut(key) {
                            Some(entry) => entry.entry(position).or_insert(0),
                            None => table
                                .entry(key.clone())
                                .or_default()
                                .entry(position)
                                .or_insert(0),
                        };
                        *best = (*best).max(weight);
                    }
                }
            };
            add(&product.name, NAME);
            for category in &product.categories {
                add(category, OTHER);
            }
            add(&product.description, OTHER);
        }
        let mut builder = MapBuilder::memory();
        let mut postings = Vec::with_capacity(table.len());
        for (id, (term, positions)) in table.into_iter().enumerate() {
            // Keys arrive sorted and unique from the BTreeMap, so insertion cannot fail.
            if builder.insert(term.as_bytes(), id as u64).is_err() {
                continue;
            }
            postings.push(positions.into_iter().collect());
        }
        let terms = builder.into_map().into_fst().into_inner();
        let terms = Map::new(terms).unwrap_or_default();
        ProductIndex {
            terms,
            postings,
            products: products_seen,
            categories,
            members: {
                members.push(unnamed);
                members
            },
        }
    }

    /// Each category with the positions of its products, in catalog order, then `None` with the
    /// products that have no category.
    pub fn category_members(&self) -> impl Iterator<Item = (Option<&str>, &[u32])> {
        self.categories
            .iter()
            .map(|c| Some(c.as_str()))
            .chain(std::iter::once(None))
            .zip(self.members.iter().map(Vec::as_slice))
    }

    /// The products' category names, in catalog order, each once.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// How many products the index was built from.
    pub fn len(&self) -> usize {
        self.products
    }

    /// Whether it was built from no products.
    pub fn is_empty(&self) -> bool {
        self.products == 0
    }

    /// Products matching the most of `words` (folded words; stopwords are skipped), best first.
    /// Empty when no word matches anything.
    pub fn search(&self, words: &[&str]) -> Vec<Hit> {
        self.search_marking(words).0
    }

    /// [`ProductIndex::search`], and for each of `words` whether it reached any term (stopwords:
    /// false).
    pub fn search_marking(&self, words: &[&str]) -> (Vec<Hit>, Vec<bool>) {
        let mut reached = vec![false; words.len()];
        let query: Vec<(usize, &str)> = words
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, w)| !is_stopword(w))
            .collect();
        if query.is_empty() {
            return (Vec::new(), reached);
        }
        // Per product: (matched words, score); per word: the best score, and which it touched.
        let mut found: Vec<(u32, u32)> = vec![(0, 0); self.products];
        let mut word_best: Vec<u32> = vec![0; self.products];
        let mut touched: Vec<u32> = Vec::new();
        let mut any: Vec<u32> = Vec::new();
        for &(at, word) in &query {
            let terms = self.matching_terms(word);
            reached[at] = !terms.is_empty();
            for (term_id, quality) in terms {
                let Some(postings) = self.postings.get(term_id) else {
                    continue;
                };
                for &(position, weight) in postings {
                    let Some(slot) = word_best.get_mut(position as usize) else {
                        continue;
                    };
                    let score = quality * weight;
                    if *slot == 0 {
                        touched.push(position);
                    }
                    *slot = (*slot).max(score);
                }
            }
            for position in touched.drain(..) {
                let at = position as usize;
                if found[at].0 == 0 {
                    any.push(position);
                }
                found[at].0 += 1;
                found[at].1 += word_best[at];
                word_best[at] = 0;
            }
        }
        let mut hits: Vec<Hit> = any
            .into_iter()
            .map(|position| {
                let (matched, score) = found[position as usize];
                Hit {
                    position: position as usize,
                    matched: matched as usize,
                    score,
                }
            })
            .collect();
        hits.sort_by(|a, b| {
            b.matched
                .cmp(&a.matched)
                .then(b.score.cmp(&a.score))
                .then(a.position.cmp(&b.position))
        });
        (hits, reached)
    }

    /// Terms a query word reaches, with the quality of the best way it reaches each.
    fn matching_terms(&self, word: &str) -> Vec<(usize, u32)> {
        fn keep(out: &mut BTreeMap<usize, u32>, id: u64, quality: u32) {
            let slot = out.entry(id as usize).or_insert(0);
            *slot = (*slot).max(quality);
        }
        let mut out: BTreeMap<usize, u32> = BTreeMap::new();
        let stem = term(word);
        let numeric = word.chars().all(|c| c.is_ascii_digit());
        if stem.chars().count() < 4 {
            // A short stem says too little ("coca" and "coco" are both "coc"): whole words only.
            for form in whole_forms(word) {
                if let Some(id) = self.terms.get(form.as_bytes()) {
                    keep(&mut out, id, EXACT);
                }
            }
            return out.into_iter().collect();
        }
        if let Some(id) = self.terms.get(stem.as_bytes()) {
            keep(&mut out, id, EXACT);
        }
        for form in whole_forms(word) {
            if let Some(id) = self.terms.get(form.as_bytes()) {
                keep(&mut out, id, EXACT);
            }
        }
        // A partial name ("parace") when the word is not a whole one.
        if out.is_empty() && !numeric {
            let prefix = Str::new(&stem).starts_with();
            let mut stream = self.terms.search(prefix).into_stream();
            while let Some((_, id)) = stream.next() {
                keep(&mut out, id, PREFIX);
            }
        }
        // Typos: one edit from five letters, two from eight ("coca" is not "coco"); only for a
        // word that met nothing as written.
        let letters = stem.chars().count();
        if out.is_empty() && letters >= 5 && !numeric {
            // One edit first (microseconds); two only for long words that one edit did not reach.
            for distance in [1u8, 2] {
                if distance == 2 && (letters < 8 || !out.is_empty()) {
                    break;
                }
                let dfa: DFA = automata(distance).build_dfa(&stem);
                let mut stream = self.terms.search(&dfa).into_stream();
                while let Some((key, id)) = stream.next() {
                    let quality = match dfa.eval(key) {
                        levenshtein_automata::Distance::Exact(0) => EXACT,
                        levenshtein_automata::Distance::Exact(1) => ONE_EDIT,
                        _ => TWO_EDITS,
                    };
                    keep(&mut out, id, quality);
                }
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Centavos;
    use crate::tax::TaxTreatment;

    fn product(name: &str, category: &str) -> Product {
        Product {
            sku: name
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(20)
                .collect(),
            name: name.into(),
            description: String::new(),
            price: Centavos(1_000),
            tax: TaxTreatment::Iva0,
            clave_prod_serv: "51142001".into(),
            clave_unidad: "XBX".into(),
            image_url: None,
            categories: vec![category.into()],
            active: true,
            min_stock: None,
        }
    }

    fn pharmacy() -> Vec<Product> {
        vec![
            product("Paracetamol 500 mg, 10 tabletas", "Analgésicos"),
            product("Ibuprofeno 400 mg, 10 tabletas", "Analgésicos"),
            product("Loratadina 10 mg", "Alergias"),
            product("Curitas, caja con 20", "Curación"),
            product("Paracetamol infantil jarabe 120 ml", "Analgésicos"),
            product("Pañales etapa 3, 40 piezas", "Bebés"),
            product("Cubrebocas tricapa, 10 piezas", "Equipo"),
            product("Pasta dental 100 ml", "Higiene"),
        ]
    }

    fn first(index: &ProductIndex, query: &str) -> Option<usize> {
        let folded = crate::text::normalize(query);
        let words: Vec<&str> = folded.split(' ').collect();
        index.search(&words).first().map(|h| h.position)
    }

    fn top(index: &ProductIndex, query: &str) -> Vec<usize> {
        let folded = crate::text::normalize(query);
        let words: Vec<&str> = folded.split(' ').collect();
        let hits = index.search(&words);
        let Some(best) = hits.first().copied() else {
            return Vec::new();
        };
        hits.iter()
            .filter(|h| h.matched == best.matched && h.score == best.score)
            .map(|h| h.position)
            .collect()
    }

    #[test]
    fn finds_by_any_word_of_the_name_whatever_the_case_and_accents() {
        let index = ProductIndex::build(&pharmacy(), &[]);
        assert_eq!(first(&index, "IBUPROFENO"), Some(1));
        assert_eq!(first(&index, "loratádina"), Some(2));
        assert_eq!(first(&index, "pañales"), Some(5));
        assert_eq!(first(&index, "panal"), Some(5));
    }

    #[test]
    fn tolerates_typos_and_partial_names() {
        let index = ProductIndex::build(&pharmacy(), &[]);
        assert_eq!(first(&index, "ibuprofeo"), Some(1));
        assert_eq!(first(&index, "ibuprofenno"), Some(1));
        assert_eq!(first(&index, "paracetamo"), Some(0));
        assert_eq!(first(&index, "lorata"), Some(2));
        assert_eq!(first(&index, "curita"), Some(3));
        assert_eq!(first(&index, "cubre bocas"), Some(6));
    }

    #[test]
    fn more_words_matched_rank_first() {
        let index = ProductIndex::build(&pharmacy(), &[]);
        assert_eq!(top(&index, "paracetamol para niños"), vec![4]);
        assert_eq!(top(&index, "paracetamol infantil"), vec![4]);
        let both = top(&index, "paracetamol");
        assert!(both.contains(&0), "{both:?}");
    }

    #[test]
    fn merchant_synonyms_reach_the_generic_name() {
        let synonyms = vec![vec!["tylenol".to_string(), "paracetamol".to_string()]];
        let index = ProductIndex::build(&pharmacy(), &synonyms);
        assert!(top(&index, "tienen tylenol?").contains(&0));
        let plain = ProductIndex::build(&pharmacy(), &[]);
        assert_eq!(first(&plain, "tylenol"), None);
    }

    #[test]
    fn common_synonyms_and_categories_help() {
        let index = ProductIndex::build(&pharmacy(), &[]);
        assert_eq!(first(&index, "banditas"), Some(3));
        assert_eq!(first(&index, "tapabocas"), Some(6));
        assert_eq!(first(&index, "algo para la alergia"), Some(2));
    }

    #[test]
    fn nothing_for_products_not_carried_or_empty_queries() {
        let index = ProductIndex::build(&pharmacy(), &[]);
        assert_eq!(first(&index, "amoxicilina"), None);
        assert_eq!(first(&index, "quiero porfavor"), None);
        assert_eq!(first(&index, ""), None);
        let empty = ProductIndex::build(&[], &[]);
        assert!(empty.is_empty());
        assert_eq!(first(&empty, "paracetamol"), None);
    }
}
