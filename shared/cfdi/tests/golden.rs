//! A fixed invoice's cadena original and sello, pinned byte for byte. The same invoice is checked
//! against SAT's XSLT and the sello verified by satcfdi in the oracle test (`sat_oracle.rs`,
//! document "typical-order"), so this literal is SAT's cadena, not just ours.

mod common;

use common::{fixture_csd, header, pago_tarjeta, receptor_fisica, typical_order};
use mostrador_cfdi::cadena::cadena_original;
use mostrador_cfdi::Comprobante;

const CADENA: &str = "||4.0|F|1001|2025-06-15T12:30:05|28|30001000000500003416|369.67|4.31|MXN|390.75|I|01|PUE|42501|\
EKU9003173C9|ESCUELA KEMPER URGATE|601|CACX7605101P8|XOCHILT CASAS CHAVEZ|36257|626|G03|\
51142001|SKU-51142001|2|H87|Pieza|Paracetamol 500 mg, 10 tabletas|45.50|91.00|02|91.00|002|Tasa|0.000000|0.00|\
51191905|SKU-51191905|4|H87|Pieza|Suero oral 625 ml|28.90|115.60|02|115.60|002|Tasa|0.000000|0.00|\
53131608|SKU-53131608|3|H87|Pieza|Jabón de tocador 150 g|20.26|60.78|4.31|02|56.47|002|Tasa|0.160000|9.03|\
53131502|SKU-53131502|1|H87|Pieza|Pasta dental 100 ml|47.33|47.33|02|47.33|002|Tasa|0.160000|7.57|\
42311505|SKU-42311505|5|H87|Pieza|Gasas estériles 10 x 10 cm|10.992|54.96|02|54.96|002|Tasa|0.160000|8.79|\
158.76|002|Tasa|0.160000|25.39|206.60|002|Tasa|0.000000|0.00|25.39||";

const SELLO: &str = "L6WLqau2Q9olZnCdhaJy1e2V4Q9waJeJGC1xTW816xzA2iKuC14GIxDs97kUApWfHXnF4XDEL3EE/dxG87UojKWMJYSW+S+gt4r1QfDrKN9aEyHEuHDab7zYu3hIAzmmzcUtEF6hXx3wRb4xDkacsIl6YHbsNx+wbCiXbCg+9UboRDxh3M5Fd1GiMPrBo/nMCO+msNuLP9eB6t/ectM0njLMb9ZleOTZ8laqZfLqA+AKkBeu2Nq3Xsscmnc+w2ygTjVn0vvbPcqB90ViiOvGhWiWGobHDK/rN1FuwW2iT6vCU0BoNun7IywnU3mypHtq4I39kNjt6MENQ8G0ACH7fg==";

#[test]
fn golden_cadena_original_and_sello_of_a_typical_order() {
    let c = Comprobante::ingreso(
        &header(),
        receptor_fisica(),
        pago_tarjeta(),
        &typical_order(),
    )
    .unwrap();
    assert_eq!(cadena_original(&c, "30001000000500003416"), CADENA);
    let sealed = c.seal(&fixture_csd()).unwrap();
    assert_eq!(sealed.cadena_original(), CADENA);
    assert_eq!(sealed.sello(), SELLO);
}
