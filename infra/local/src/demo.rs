//! The demo merchant seeded on the first `cargo run`: a neighbourhood pharmacy with two branches, a
//! real-looking catalog with SAT codes, and stock. Its API key and numbers are kept in
//! `<data dir>/demo.json` (local only) and printed at every start.

use mostrador_app::commerce::catalog::{self, StockRow};
use mostrador_app::parties::merchants::{self, BranchInput, NewApiKey, NewMerchant};
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_app::Deps;
use mostrador_core::catalog::Product;
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a developer needs to use the demo merchant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Demo {
    pub merchant_id: String,
    pub api_key: String,
    pub branches: Vec<DemoBranch>,
    /// The owner's sign-in for the console at `/panel`.
    #[serde(default)]
    pub owner_email: String,
    /// The owner's password (generated; kept only in this file, mode 0600).
    #[serde(default)]
    pub owner_password: String,
}

/// A demo branch and its WhatsApp number id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoBranch {
    pub id: String,
    pub name: String,
    pub phone_number_id: String,
}

/// (sku, name, price in centavos, tax, ClaveProdServ, ClaveUnidad, category, stock Centro, stock Polanco)
type CatalogRow = (
    &'static str,
    &'static str,
    i64,
    TaxTreatment,
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
);

/// Brand and everyday names of the demo pharmacy's products.
const DEMO_SYNONYMS: &[&[&str]] = &[
    &["tylenol", "tempra", "paracetamol"],
    &["advil", "motrin", "ibuprofeno"],
    &["flanax", "naproxeno"],
    &["clarityne", "loratadina"],
    &["electrolit", "suerox", "suero"],
    &["pampers", "huggies", "kleen bebe", "panales"],
    &["redoxon", "vitamina c"],
    &["band aid", "curitas"],
    &["colgate", "pasta dental"],
    &["alcohol", "desinfectante"],
];

const CATALOG: &[CatalogRow] = &[
    (
        "7501008491072",
        "Paracetamol 500 mg, 10 tabletas",
        4_550,
        TaxTreatment::Iva0,
        "51142001",
        "XBX",
        "Analgésicos",
        40,
        25,
    ),
    (
        "7501008400166",
        "Ibuprofeno 400 mg, 10 tabletas",
        6_200,
        TaxTreatment::Iva0,
        "51142106",
        "XBX",
        "Analgésicos",
        30,
        12,
    ),
    (
        "7501109900123",
        "Naproxeno 250 mg, 20 tabletas",
        8_900,
        TaxTreatment::Iva0,
        "51142109",
        "XBX",
        "Analgésicos",
        18,
        10,
    ),
    (
        "7501349021457",
        "Loratadina 10 mg, 10 tabletas",
        7_450,
        TaxTreatment::Iva0,
        "51161701",
        "XBX",
        "Alergias",
        20,
        8,
    ),
    (
        "7501125109873",
        "Omeprazol 20 mg, 14 cápsulas",
        9_900,
        TaxTreatment::Iva0,
        "51171900",
        "XBX",
        "Digestivos",
        22,
        14,
    ),
    (
        "7501008425015",
        "Suero oral sabor coco 625 ml",
        2_850,
        TaxTreatment::Iva0,
        "51191905",
        "XBO",
        "Digestivos",
        60,
        35,
    ),
    (
        "7501022101114",
        "Alcohol etílico 70% 250 ml",
        3_900,
        TaxTreatment::Iva16,
        "12352104",
        "XBO",
        "Curación",
        35,
        20,
    ),
    (
        "7501109710012",
        "Gasas estériles 10 x 10 cm, 10 piezas",
        4_200,
        TaxTreatment::Iva16,
        "42311500",
        "XPK",
        "Curación",
        25,
        15,
    ),
    (
        "7501109712344",
        "Curitas, caja con 20",
        3_500,
        TaxTreatment::Iva16,
        "42311505",
        "XBX",
        "Curación",
        40,
        30,
    ),
    (
        "7501035911208",
        "Cepillo dental medio",
        3_200,
        TaxTreatment::Iva16,
        "53131503",
        "H87",
        "Higiene",
        50,
        40,
    ),
    (
        "7501035911215",
        "Pasta dental 100 ml",
        3_890,
        TaxTreatment::Iva16,
        "53131502",
        "XTU",
        "Higiene",
        45,
        30,
    ),
    (
        "7501035911222",
        "Jabón de tocador neutro 150 g",
        2_490,
        TaxTreatment::Iva16,
        "53131608",
        "H87",
        "Higiene",
        70,
        50,
    ),
    (
        "7501943456012",
        "Pañales etapa 3, 40 piezas",
        28_900,
        TaxTreatment::Iva16,
        "53102305",
        "XPK",
        "Bebés",
        12,
        6,
    ),
    (
        "7501943456029",
        "Toallitas húmedas, 80 piezas",
        6_490,
        TaxTreatment::Iva16,
        "53131624",
        "XPK",
        "Bebés",
        30,
        20,
    ),
    (
        "7501058712340",
        "Vitamina C 1 g, 10 tabletas efervescentes",
        8_450,
        TaxTreatment::Iva16,
        "51191905",
        "XTU",
        "Vitaminas",
        20,
        12,
    ),
    (
        "7501058712357",
        "Multivitamínico, 30 tabletas",
        17_900,
        TaxTreatment::Iva16,
        "51191905",
        "XBX",
        "Vitaminas",
        10,
        8,
    ),
    (
        "7501001234560",
        "Termómetro digital",
        11_900,
        TaxTreatment::Iva16,
        "42182200",
        "H87",
        "Equipo",
        8,
        5,
    ),
    (
        "7501001234577",
        "Cubrebocas tricapa, 10 piezas",
        3_900,
        TaxTreatment::Iva16,
        "42131606",
        "XPK",
        "Equipo",
        80,
        60,
    ),
];

/// Seeds the demo merchant once per data directory; returns it (from the file on later starts).
pub async fn seed(deps: &Deps, data_dir: &Path) -> anyhow::Result<Demo> {
    let path = data_dir.join("demo.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(mut demo) = serde_json::from_str::<Demo>(&text) {
            // A data directory from before the console: give it its owner once.
            if demo.owner_email.is_empty() {
                let merchant = MerchantId::try_from(demo.merchant_id.clone())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let (email, password) = seed_owner(deps, &merchant).await?;
                demo.owner_email = email;
                demo.owner_password = password;
                mostrador_app::platform::config::write_private_json(&path, &demo)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            return Ok(demo);
        }
    }
    let merchant = merchants::create_merchant(
        deps,
        NewMerchant {
            name: "Farmacia San Juan".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let issued = merchants::issue_key(
        deps,
        &merchant.id,
        NewApiKey {
            label: Some("demo".into()),
            branch_id: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let caller = merchants::resolve_key(deps, &issued.api_key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut branches = Vec::new();
    for (name, phone, cp, address) in [
        (
            "Centro",
            "100000000000001",
            "06000",
            "Av. 5 de Mayo 32, Centro, Cuauhtémoc, CDMX",
        ),
        (
            "Polanco",
            "100000000000002",
            "11560",
            "Av. Presidente Masaryk 101, Polanco, Miguel Hidalgo, CDMX",
        ),
    ] {
        let input = BranchInput {
            name: name.into(),
            phone_number_id: Some(phone.into()),
            postal_code: cp.into(),
            timezone: "America/Mexico_City".into(),
            address: address.into(),
            hours: "Lun a sáb 8:00–22:00, dom 9:00–15:00".into(),
            border_incentive: false,
            // Polanco delivers; Centro is pickup only.
            delivery: (name == "Polanco").then(|| mostrador_core::conversation::DeliveryOffer {
                fee: Centavos(4_500),
                free_from: Some(Centavos(50_000)),
                zone: "Polanco, Anzures y Granada".into(),
                postal_codes: vec![
                    "11560".into(),
                    "11550".into(),
                    "11590".into(),
                    "11520".into(),
                ],
                eta: "llega en 45 a 90 minutos".into(),
            }),
        };
        let branch = merchants::create_branch(deps, &caller, input)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        branches.push(DemoBranch {
            id: branch.id,
            name: name.into(),
            phone_number_id: phone.into(),
        });
    }
    let table = TenantTable::of(deps, &merchant.id);
    let products = CATALOG
        .iter()
        .map(|(sku, name, price, tax, clave, unidad, category, _, _)| {
            Ok(Product {
                sku: (*sku).into(),
                name: (*name).into(),
                description: String::new(),
                price: Centavos(*price),
                tax: *tax,
                clave_prod_serv: (*clave).into(),
                clave_unidad: (*unidad).into(),
                image_url: None,
                categories: vec![(*category).into()],
                active: true,
                min_stock: None,
            })
        })
        .collect();
    catalog::upsert_products(&table, products, false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, branch) in branches.iter().enumerate() {
        let rows = CATALOG
            .iter()
            .map(|row| StockRow {
                sku: row.0.into(),
                quantity: Some(if i == 0 { row.7 } else { row.8 }),
                delta: None,
            })
            .collect();
        catalog::apply_stock(&table, &branch.id, rows, true, false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // Brands customers ask for by name, mapped to what the pharmacy stocks.
    let chat = mostrador_app::parties::conversation::ChatSettings {
        synonyms: DEMO_SYNONYMS
            .iter()
            .map(|group| group.iter().map(|w| (*w).to_owned()).collect())
            .collect(),
        ..Default::default()
    };
    mostrador_app::parties::conversation::save_settings(&table, &chat)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    seed_invoicing(deps, &merchant.id).await;
    let (owner_email, owner_password) = seed_owner(deps, &merchant.id).await?;
    let demo = Demo {
        merchant_id: merchant.id.to_string(),
        api_key: issued.api_key,
        branches,
        owner_email,
        owner_password,
    };
    mostrador_app::platform::config::write_private_json(&path, &demo)
        .map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(merchant = %merchant.id, "demo merchant seeded");
    Ok(demo)
}

/// The merchant id of a seeded demo.
pub fn merchant_id(demo: &Demo) -> Option<MerchantId> {
    MerchantId::try_from(demo.merchant_id.clone()).ok()
}

/// The demo owner's email.
pub const DEMO_OWNER_EMAIL: &str = "duena@farmaciasanjuan.mx";

/// Creates the demo merchant's owner with a fresh random password: (email, password). An owner
/// left by an earlier run of the same data directory keeps its account; its password is then
/// unknown, so a new one cannot be shown and the email is returned with an empty password.
async fn seed_owner(deps: &Deps, merchant: &MerchantId) -> anyhow::Result<(String, String)> {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    let mut rng = rand::thread_rng();
    let password: String = (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    let created = mostrador_app::parties::staff::create(
        deps,
        merchant,
        mostrador_app::parties::staff::NewStaff {
            email: DEMO_OWNER_EMAIL.into(),
            name: "Lucía Hernández".into(),
            role: mostrador_core::accounts::Role::Owner,
            branch_id: None,
            password: password.clone(),
        },
    )
    .await;
    match created {
        Ok(_) => Ok((DEMO_OWNER_EMAIL.into(), password)),
        Err(mostrador_app::platform::error::AppError::Conflict(_)) => {
            Ok((DEMO_OWNER_EMAIL.into(), String::new()))
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// SAT's public test CSD (RFC EKU9003173C9, password 12345678a), for the demo's invoices through the
/// sandbox PAC: never valid for real invoices.
const TEST_CSD_CER: &[u8] =
    include_bytes!("../../../shared/cfdi/tests/fixtures/csd/EKU9003173C9.cer");
const TEST_CSD_KEY: &[u8] =
    include_bytes!("../../../shared/cfdi/tests/fixtures/csd/EKU9003173C9.key");

/// Makes the demo pharmacy able to invoice: SAT's test issuer and CSD with the sandbox PAC. Best
/// effort: when the test certificate has expired the demo runs without invoicing (and says so).
async fn seed_invoicing(deps: &Deps, merchant: &MerchantId) {
    use base64::Engine as _;
    use mostrador_app::invoicing::settings::{self, CsdUpload, IssuerInput};
    let issuer = IssuerInput {
        rfc: "EKU9003173C9".into(),
        nombre: "ESCUELA KEMPER URGATE".into(),
        regimen_fiscal: "601".into(),
        serie: "FSJ".into(),
        periodicidad: "01".into(),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let result = async {
        settings::save_issuer(deps, merchant, &issuer, None).await?;
        settings::save_csd(
            deps,
            merchant,
            CsdUpload {
                certificate: b64.encode(TEST_CSD_CER),
                private_key: b64.encode(TEST_CSD_KEY),
                password: "12345678a".into(),
            },
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "the demo pharmacy was seeded without invoicing (SAT's test CSD was refused)");
    }
}
