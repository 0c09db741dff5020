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
    /// Units at or under which a branch's stock of the product counts as low (the console's
    /// "Poco inventario"); [`DEFAULT_MIN_STOCK`] when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_stock: Option<u32>,
}

/// The low-stock threshold of a product that has none of its own.
pub const DEFAULT_MIN_STOCK: u32 = 5;

/// Largest low-stock threshold accepted.
pub const MAX_MIN_STOCK: u32 = 1_000_000;

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
    /// Whether `available` units in a branch are few enough to restock: at or under the product's
    /// threshold (an out-of-stock product is always low).
    pub fn is_low(&self, available: i64) -> bool {
        available <= i64::from(self.min_stock.unwrap_or(DEFAULT_MIN_STOCK))
    }

    /// Every problem with the product, field by field (empty when valid).
    pub fn problems(&self) -> Vec<Invalid> {
        let mut out = Vec::new();
        if !valid_sku(&self.sku) {
            out.push(invalid(
                "sku",
                "el SKU lleva de 1 a 64 letras sin acento, dígitos, '-', '_' o '.'",
            ));
        }
        let name_len = self.name.trim().chars().count();
        if name_len == 0 || name_len > 120 {
            out.push(invalid("name", "el nombre lleva de 1 a 120 caracteres"));
        }
        if self.description.chars().count() > 1000 {
            out.push(invalid(
                "description",
                "la descripción lleva a lo más 1,000 caracteres",
            ));
        }
        if self.price.0 <= 0 || self.price > MAX_PRICE {
            out.push(invalid(
                "price",
                "el precio (en centavos) es mayor que 0 y a lo más 100,000,000 ($1,000,000.00)",
            ));
        }
        if self.clave_prod_serv.len() != 8
            || !self.clave_prod_serv.chars().all(|c| c.is_ascii_digit())
            || self.clave_prod_serv == "00000000"
        {
            out.push(invalid(
                "clave_prod_serv",
                "la clave de producto del SAT (c_ClaveProdServ) lleva 8 dígitos, por ejemplo 51191905",
            ));
        }
        if !CLAVES_UNIDAD
            .iter()
            .any(|(code, _)| *code == self.clave_unidad)
        {
            out.push(invalid(
                "clave_unidad",
                "la clave de unidad del SAT (c_ClaveUnidad), por ejemplo H87 (pieza), KGM, LTR, XBX, E48",
            ));
        }
        if let Some(url) = &self.image_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
                out.push(invalid("image_url", "la imagen es una dirección http(s)"));
            }
        }
        if self.min_stock.is_some_and(|m| m > MAX_MIN_STOCK) {
            out.push(invalid(
                "min_stock",
                "el mínimo de inventario va de 0 a 1,000,000 piezas",
            ));
        }
        if self.categories.len() > 10
            || self
                .categories
                .iter()
                .any(|c| c.trim().is_empty() || c.chars().count() > 24)
        {
            out.push(invalid(
                "categories",
                "hasta 10 categorías de 1 a 24 caracteres (el título de una fila de lista de WhatsApp)",
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
            min_stock: None,
        }
    }

    #[test]
    fn low_stock_is_at_or_under_the_threshold() {
        let mut p = paracetamol();
        assert!(p.is_low(0) && p.is_low(5) && !p.is_low(6), "default 5");
        p.min_stock = Some(20);
        assert!(p.is_low(20) && !p.is_low(21));
        p.min_stock = Some(0);
        assert!(p.is_low(0) && !p.is_low(1), "0: only when out");
        assert!(p.is_low(-1), "oversold counts as low");
        p.min_stock = Some(MAX_MIN_STOCK + 1);
        assert_eq!(p.problems()[0].field, "min_stock");
    }

    #[test]
    fn a_product_saved_before_thresholds_reads_and_writes_the_same() {
        let old = r#"{"sku":"A1","name":"Gasas","price":1000,"tax":"iva16","clave_prod_serv":"42311500","clave_unidad":"XPK"}"#;
        let p: Product = serde_json::from_str(old).unwrap();
        assert_eq!(p.min_stock, None);
        assert!(!serde_json::to_string(&p).unwrap().contains("min_stock"));
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
