//! Products as the merchant sells them, validated at the edge.

use crate::money::Centavos;
use crate::tax::TaxTreatment;
use serde::{Deserialize, Serialize};

/// Units of SAT's c_ClaveUnidad that retail and food merchants use. The full catalog has ~2,400 codes;
/// this list covers what a PyME sells by (and grows when a merchant needs another).
pub const CLAVES_UNIDAD: &[(&str, &str)] = &[
    ("H87", "Pieza"),
    ("E48", "Unidad de servicio"),
    ("ACT", "Actividad"),
    ("XUN", "Unidad"),
    ("EA", "Elemento"),
    ("KGM", "Kilogramo"),
    ("GRM", "Gramo"),
    ("LTR", "Litro"),
    ("MLT", "Mililitro"),
    ("MTR", "Metro"),
    ("XBX", "Caja"),
    ("XPK", "Paquete"),
    ("XBO", "Botella"),
    ("XBG", "Bolsa"),
    ("XCN", "Lata"),
    ("XTU", "Tubo"),
    ("PR", "Par"),
    ("SET", "Conjunto"),
    ("KT", "Kit"),
    ("DPC", "Docena de piezas"),
    ("XSA", "Saco"),
    ("XBJ", "Cubeta"),
    ("XRO", "Rollo"),
    ("XOK", "Bloque"),
];

/// A product of the merchant's catalog. The SKU equals the WhatsApp catalog's `product_retailer_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Shelf price in centavos (IVA included unless the merchant prices without it).
    pub price: Centavos,
    pub tax: TaxTreatment,
    /// SAT c_ClaveProdServ (8 digits).
    pub clave_prod_serv: String,
    /// SAT c_ClaveUnidad.
    pub clave_unidad: String,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A reason a product field is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

/// Largest price accepted for one unit: one million pesos.
pub const MAX_PRICE: Centavos = Centavos(100_000_000);

/// Checks a SKU: 1-64 letters, digits, `-`, `_` or `.` (WhatsApp's retailer id rules, and safe in keys).
pub fn valid_sku(sku: &str) -> bool {
    !sku.is_empty()
        && sku.len() <= 64
        && sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Product {
    /// Every problem with the product, field by field (empty when valid).
    pub fn problems(&self) -> Vec<Invalid> {
        let mut out = Vec::new();
        if !valid_sku(&self.sku) {
            out.push(invalid("sku", "1-64 letters, digits, '-', '_' or '.'"));
        }
        let name_len = self.name.trim().chars().count();
        if name_len == 0 || name_len > 120 {
            out.push(invalid("name", "1-120 characters"));
        }
        if self.description.chars().count() > 1000 {
            out.push(invalid("description", "at most 1000 characters"));
        }
        if self.price.0 <= 0 || self.price > MAX_PRICE {
            out.push(invalid(
                "price",
                "centavos, more than 0 and at most 100,000,000 ($1,000,000.00)",
            ));
        }
        if self.clave_prod_serv.len() != 8
            || !self.clave_prod_serv.chars().all(|c| c.is_ascii_digit())
            || self.clave_prod_serv == "00000000"
        {
            out.push(invalid(
                "clave_prod_serv",
                "SAT c_ClaveProdServ: 8 digits, e.g. 51191905",
            ));
        }
        if !CLAVES_UNIDAD
            .iter()
            .any(|(code, _)| *code == self.clave_unidad)
        {
            out.push(invalid(
                "clave_unidad",
                "SAT c_ClaveUnidad, e.g. H87 (pieza), KGM, LTR, XBX, E48",
            ));
        }
        if let Some(url) = &self.image_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
                out.push(invalid("image_url", "an http(s) URL"));
            }
        }
        if self.categories.len() > 10
            || self
                .categories
                .iter()
                .any(|c| c.trim().is_empty() || c.chars().count() > 24)
        {
            out.push(invalid(
                "categories",
                "up to 10 names of 1-24 characters (a WhatsApp list row title)",
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paracetamol() -> Product {
        Product {
            sku: "7501008491072".into(),
            name: "Paracetamol 500 mg, 10 tabletas".into(),
            description: String::new(),
            price: Centavos(4_550),
            tax: TaxTreatment::Iva0,
            clave_prod_serv: "51142001".into(),
            clave_unidad: "XBX".into(),
            image_url: None,
            categories: vec!["Analgésicos".into()],
            active: true,
        }
    }

    #[test]
    fn a_real_product_is_valid() {
        assert!(paracetamol().problems().is_empty());
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut p = paracetamol();
        p.sku = "con espacio".into();
        p.price = Centavos(0);
        p.clave_prod_serv = "5114".into();
        p.clave_unidad = "BOX".into();
        let fields: Vec<&str> = p.problems().iter().map(|i| i.field).collect();
        assert_eq!(fields, ["sku", "price", "clave_prod_serv", "clave_unidad"]);
    }
}
