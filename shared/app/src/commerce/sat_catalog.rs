//! SAT's c_ClaveProdServ catalog, searchable the way a shop owner describes a product: "vitaminas",
//! "paracetamol", "jabon liquido", or the first digits of a code she already knows.
//!
//! The 52,000 descriptions come with `mostrador-cfdi` (the same catalog invoices are validated
//! against) and are indexed once per process with the shop assistant's search
//! ([`mostrador_core::search::ProductIndex`]: Spanish stems, accents, plurals, typos), plus a few
//! synonyms for words shops use and SAT does not ("paracetamol" is "Acetaminofén" in the catalog).

use mostrador_core::catalog::Product;
use mostrador_core::money::Centavos;
use mostrador_core::search::ProductIndex;
use mostrador_core::tax::TaxTreatment;
use mostrador_core::text::fold_text;
use serde::Serialize;
use std::sync::OnceLock;

/// Most results one search returns.
pub const MAX_RESULTS: usize = 50;

/// Words of shops ↔ words of SAT's descriptions.
const SHOP_WORDS: &[&[&str]] = &[
    &["paracetamol", "acetaminofen"],
    &[
        "cubrebocas",
        "tapabocas",
        "mascarilla",
        "mascaras quirurgicas",
    ],
    &["shampoo", "shampu", "champus", "champu"],
    &["croquetas", "alimento para perros", "alimento para gatos"],
    &["pastillas", "tabletas"],
    &["refresco", "refrescos", "soda"],
    &["gel antibacterial", "antibacterial", "antisepticos"],
    &["curitas", "vendajes o compresas para uso general"],
    &["suero oral", "electrolitos"],
    &[
        "toallas sanitarias",
        "toallas femeninas",
        "higiene femenina",
    ],
];

/// One c_ClaveProdServ with SAT's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clave {
    pub code: &'static str,
    pub name: &'static str,
}

fn index() -> &'static ProductIndex {
    static INDEX: OnceLock<ProductIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        // The index reads names; the other fields only make the entries products.
        let entries: Vec<Product> = mostrador_cfdi::catalogs::claves_prod_serv()
            .iter()
            .map(|(code, name)| Product {
                sku: (*code).to_owned(),
                name: (*name).to_owned(),
                description: String::new(),
                price: Centavos(1),
                tax: TaxTreatment::Iva16,
                clave_prod_serv: (*code).to_owned(),
                clave_unidad: "H87".into(),
                image_url: None,
                categories: Vec::new(),
                active: true,
                min_stock: None,
            })
            .collect();
        let synonyms: Vec<Vec<String>> = SHOP_WORDS
            .iter()
            .map(|g| g.iter().map(|w| (*w).to_owned()).collect())
            .collect();
        ProductIndex::build(&entries, &synonyms)
    })
}

/// The claves that best match `query` (words of a description, or the first digits of a code),
/// best first, at most `limit` (capped at [`MAX_RESULTS`]): the entries meeting the rarest of the
/// query's words first, then the better matches, then the shorter descriptions. Empty for an
/// empty query or one whose words meet nothing.
pub fn search(query: &str, limit: usize) -> Vec<Clave> {
    let limit = limit.clamp(1, MAX_RESULTS);
    let all = mostrador_cfdi::catalogs::claves_prod_serv();
    let query = query.trim();
    let as_clave = |&(code, name): &(&'static str, &'static str)| Clave { code, name };
    if !query.is_empty() && query.len() <= 8 && query.bytes().all(|b| b.is_ascii_digit()) {
        let start = all.partition_point(|(code, _)| *code < query);
        return all[start..]
            .iter()
            .take_while(|(code, _)| code.starts_with(query))
            .take(limit)
            .map(as_clave)
            .collect();
    }
    let folded = fold_text(query);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    let index = index();
    // Each word's reach, and its weight by rarity: "jabon liquido" is about soap, which few
    // descriptions name, more than about the many liquids.
    let total = all.len().max(1) as f64;
    let mut weight_of: std::collections::HashMap<usize, (f64, u32)> = Default::default();
    for word in &words {
        let hits = index.search(&[word]);
        if hits.is_empty() {
            continue;
        }
        let rarity = (total / hits.len() as f64).ln();
        for hit in hits {
            let slot = weight_of.entry(hit.position).or_insert((0.0, 0));
            slot.0 += rarity;
            slot.1 += hit.score;
        }
    }
    let mut ranked: Vec<(usize, f64, u32)> = weight_of
        .into_iter()
        .map(|(position, (rarity, score))| (position, rarity, score))
        .collect();
    // Rarest words met first; then the better match; then the shorter, more general description.
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(b.2.cmp(&a.2))
            .then_with(|| {
                let len = |p: usize| all.get(p).map_or(usize::MAX, |e| e.1.len());
                len(a.0).cmp(&len(b.0))
            })
            .then(a.0.cmp(&b.0))
    });
    ranked
        .into_iter()
        .filter_map(|(position, _, _)| all.get(position))
        // A code the catalog does not describe is found by its digits only.
        .filter(|(_, name)| !name.is_empty())
        .take(limit)
        .map(as_clave)
        .collect()
}

/// SAT's description of a clave, when the catalog has it.
pub fn describe(code: &str) -> Option<&'static str> {
    mostrador_cfdi::catalogs::clave_prod_serv_name(code).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(query: &str) -> Vec<&'static str> {
        search(query, 10).iter().map(|c| c.code).collect()
    }

    #[test]
    fn shop_words_find_sats_descriptions() {
        // SAT says "Acetaminofén"; shops say paracetamol.
        assert_eq!(codes("paracetamol").first(), Some(&"51142001"));
        assert_eq!(codes("Acetaminofen").first(), Some(&"51142001"));
        // Plural, no accent, other word form: "Suplementos vitamínicos".
        assert!(
            codes("vitaminas").contains(&"51191905"),
            "{:?}",
            codes("vitaminas")
        );
        assert!(codes("ibuprofeno").contains(&"51142106"));
        assert!(codes("panales para bebe").contains(&"53102305"));
        assert!(codes("Pañales adulto").contains(&"53102306"));
        assert!(codes("jabon").contains(&"53131608"));
        assert!(codes("croquetas").contains(&"10121800"));
        assert!(
            codes("cubrebocas").contains(&"42131606"),
            "{:?}",
            search("cubrebocas", 10)
        );
        assert_eq!(codes("curitas").first(), Some(&"42311505"));
        assert_eq!(codes("toallas sanitarias").first(), Some(&"53131615"));
        // A typo still lands.
        assert_eq!(codes("ibuprofneo").first(), Some(&"51142106"));
    }

    #[test]
    fn rare_words_and_whole_matches_rank_first() {
        let found = search("pañales para adulto", 10);
        assert_eq!(found[0].code, "53102306");
        // Soap is rare and liquids are many: the soaps come before every liquid.
        let soap = codes("jabon liquido");
        assert_eq!(soap[0], "53131608", "{soap:?}");
        // The general description before the longer ones that mention it.
        assert!(codes("jabones").starts_with(&["53131608"]));
    }

    #[test]
    fn digits_look_up_codes_by_prefix() {
        let found = search("5114200", 50);
        assert!(found
            .iter()
            .any(|c| c.code == "51142001" && c.name == "Acetaminofén"));
        assert!(found.iter().all(|c| c.code.starts_with("5114200")));
        assert_eq!(search("51142001", 5).len(), 1);
        assert!(search("99999999", 5).is_empty());
    }

    #[test]
    fn limits_and_empty_queries() {
        assert!(search("", 10).is_empty());
        assert!(search("   ", 10).is_empty());
        assert!(
            search("de la", 10).is_empty(),
            "stopwords alone find nothing"
        );
        assert!(search("xqzwv", 10).is_empty());
        assert_eq!(search("1", 500).len(), MAX_RESULTS);
        assert_eq!(search("1", 0).len(), 1);
        assert_eq!(describe("51191905"), Some("Suplementos vitamínicos"));
        assert_eq!(describe("00000001"), None);
    }
}
