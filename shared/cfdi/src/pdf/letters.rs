//! Amounts in Spanish words, as Mexican invoices print them: `CIENTO DIECISÉIS PESOS 00/100 M.N.`

/// The amount `total` (exact decimal text) in words for currency `moneda`: pesos end in
/// `xx/100 M.N.`; dollars and euros are named; other currencies keep their code. Cents are rounded
/// half-up to two digits. `None` when `total` is not a non-negative decimal.
pub fn importe_con_letra(total: &str, moneda: &str) -> Option<String> {
    let (units, cents) = split_amount(total.trim())?;
    let (singular, plural, suffix) = match moneda.trim() {
        "MXN" => ("PESO", "PESOS", " M.N."),
        "USD" => ("DÓLAR", "DÓLARES", " USD"),
        "EUR" => ("EURO", "EUROS", " EUR"),
        other => ("", "", other),
    };
    let noun = if singular.is_empty() {
        String::new()
    } else if units == 1 {
        format!(" {singular}")
    } else if units != 0 && units % 1_000_000 == 0 {
        // "UN MILLÓN DE PESOS", "DOS MIL MILLONES DE PESOS".
        format!(" DE {plural}")
    } else {
        format!(" {plural}")
    };
    let suffix = if singular.is_empty() {
        format!(" {suffix}")
    } else {
        suffix.to_owned()
    };
    Some(format!(
        "{}{noun} {cents:02}/100{}",
        words(units, true),
        suffix.trim_end()
    ))
}

/// Integer units and cents (0–99) of a decimal text, rounding half-up.
fn split_amount(total: &str) -> Option<(u64, u64)> {
    let (int, frac) = total.split_once('.').unwrap_or((total, ""));
    if int.is_empty()
        || int.len() > 18
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut units: u64 = int.parse().ok()?;
    let digit = |i: usize| u64::from(frac.as_bytes().get(i).map_or(0, |b| b - b'0'));
    let mut cents = digit(0) * 10 + digit(1);
    if digit(2) >= 5 {
        cents += 1;
        if cents == 100 {
            cents = 0;
            units = units.checked_add(1)?;
        }
    }
    Some((units, cents))
}

/// `n` in Spanish capitals. With `apocope`, a final "UNO" becomes "UN"/"VEINTIÚN" (before a noun).
fn words(n: u64, apocope: bool) -> String {
    const TRILLION: u64 = 1_000_000_000_000;
    const MILLION: u64 = 1_000_000;
    if n == 0 {
        return "CERO".to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    let billones = n / TRILLION;
    let millones = (n % TRILLION) / MILLION;
    let rest = n % MILLION;
    if billones > 0 {
        parts.push(scale(billones, "BILLÓN", "BILLONES"));
    }
    if millones > 0 {
        parts.push(scale(millones, "MILLÓN", "MILLONES"));
    }
    if rest > 0 {
        parts.push(thousands(rest, apocope));
    }
    parts.join(" ")
}

/// `n` (1–999,999) millions or billions: "UN MILLÓN", "VEINTIÚN MILLONES", "MIL MILLONES".
fn scale(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("UN {one}")
    } else {
        format!("{} {many}", thousands(n, true))
    }
}

/// 1–999,999.
fn thousands(n: u64, apocope: bool) -> String {
    let high = n / 1000;
    let low = n % 1000;
    let mut parts = Vec::new();
    match high {
        0 => {}
        1 => parts.push("MIL".to_owned()),
        h => parts.push(format!("{} MIL", hundreds(h, true))),
    }
    if low > 0 {
        parts.push(hundreds(low, apocope));
    }
    parts.join(" ")
}

/// 1–999.
fn hundreds(n: u64, apocope: bool) -> String {
    const HUNDREDS: [&str; 10] = [
        "",
        "CIENTO",
        "DOSCIENTOS",
        "TRESCIENTOS",
        "CUATROCIENTOS",
        "QUINIENTOS",
        "SEISCIENTOS",
        "SETECIENTOS",
        "OCHOCIENTOS",
        "NOVECIENTOS",
    ];
    if n == 100 {
        return "CIEN".to_owned();
    }
    let h = (n / 100) as usize;
    let rest = n % 100;
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(HUNDREDS[h].to_owned());
    }
    if rest > 0 {
        parts.push(tens(rest, apocope));
    }
    parts.join(" ")
}

/// 1–99.
fn tens(n: u64, apocope: bool) -> String {
    const UNITS: [&str; 30] = [
        "",
        "UNO",
        "DOS",
        "TRES",
        "CUATRO",
        "CINCO",
        "SEIS",
        "SIETE",
        "OCHO",
        "NUEVE",
        "DIEZ",
        "ONCE",
        "DOCE",
        "TRECE",
        "CATORCE",
        "QUINCE",
        "DIECISÉIS",
        "DIECISIETE",
        "DIECIOCHO",
        "DIECINUEVE",
        "VEINTE",
        "VEINTIUNO",
        "VEINTIDÓS",
        "VEINTITRÉS",
        "VEINTICUATRO",
        "VEINTICINCO",
        "VEINTISÉIS",
        "VEINTISIETE",
        "VEINTIOCHO",
        "VEINTINUEVE",
    ];
    const TENS: [&str; 10] = [
        "",
        "",
        "",
        "TREINTA",
        "CUARENTA",
        "CINCUENTA",
        "SESENTA",
        "SETENTA",
        "OCHENTA",
        "NOVENTA",
    ];
    let unit = |u: u64| -> String {
        match (u, apocope) {
            (1, true) => "UN".to_owned(),
            (21, true) => "VEINTIÚN".to_owned(),
            (u, _) => UNITS[u as usize].to_owned(),
        }
    };
    if n < 30 {
        return unit(n);
    }
    let t = TENS[(n / 10) as usize];
    match n % 10 {
        0 => t.to_owned(),
        u => format!("{t} Y {}", unit(u)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mxn(total: &str) -> String {
        importe_con_letra(total, "MXN").unwrap_or_default()
    }

    #[test]
    fn pesos_are_written_as_mexican_invoices_print_them() {
        assert_eq!(mxn("116.00"), "CIENTO DIECISÉIS PESOS 00/100 M.N.");
        assert_eq!(mxn("1.00"), "UN PESO 00/100 M.N.");
        assert_eq!(mxn("0.50"), "CERO PESOS 50/100 M.N.");
        assert_eq!(mxn("21"), "VEINTIÚN PESOS 00/100 M.N.");
        assert_eq!(mxn("31.05"), "TREINTA Y UN PESOS 05/100 M.N.");
        assert_eq!(mxn("100"), "CIEN PESOS 00/100 M.N.");
        assert_eq!(mxn("101"), "CIENTO UN PESOS 00/100 M.N.");
        assert_eq!(mxn("1000"), "MIL PESOS 00/100 M.N.");
        assert_eq!(mxn("1250.30"), "MIL DOSCIENTOS CINCUENTA PESOS 30/100 M.N.");
        assert_eq!(mxn("21000"), "VEINTIÚN MIL PESOS 00/100 M.N.");
        assert_eq!(mxn("1000000"), "UN MILLÓN DE PESOS 00/100 M.N.");
        assert_eq!(
            mxn("2500000"),
            "DOS MILLONES QUINIENTOS MIL PESOS 00/100 M.N."
        );
        assert_eq!(mxn("1000000000"), "MIL MILLONES DE PESOS 00/100 M.N.");
        assert_eq!(
            mxn("777777.77"),
            "SETECIENTOS SETENTA Y SIETE MIL SETECIENTOS SETENTA Y SIETE PESOS 77/100 M.N."
        );
    }

    #[test]
    fn cents_round_half_up_and_carry() {
        assert_eq!(mxn("10.005"), "DIEZ PESOS 01/100 M.N.");
        assert_eq!(mxn("10.995"), "ONCE PESOS 00/100 M.N.");
        assert_eq!(mxn("10.994"), "DIEZ PESOS 99/100 M.N.");
    }

    #[test]
    fn other_currencies_and_bad_amounts() {
        assert_eq!(
            importe_con_letra("1.50", "USD").as_deref(),
            Some("UN DÓLAR 50/100 USD")
        );
        assert_eq!(
            importe_con_letra("3", "JPY").as_deref(),
            Some("TRES 00/100 JPY")
        );
        assert_eq!(importe_con_letra("-1", "MXN"), None);
        assert_eq!(importe_con_letra("1e3", "MXN"), None);
    }
}
