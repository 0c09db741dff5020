#!/usr/bin/env python3
"""Independent check of CFDI 4.0 XML with satcfdi (SAT's XSD and XSLT, OpenSSL via cryptography).

    python oracle.py FILE.xml [FILE.xml ...]

For each file:
  1. the XML is well formed and valid against SAT's cfdv40.xsd (+ catalogs and any complement
     satcfdi knows, e.g. TimbreFiscalDigital);
  2. when FILE.xml.cadena exists, SAT's cadenaoriginal_4_0.xslt run over the XML gives exactly
     those bytes (our natively computed cadena original);
  3. the Sello verifies (RSA PKCS#1 v1.5, SHA-256) over SAT's cadena with the certificate embedded
     in the XML, and NoCertificado is that certificate's serial number;
  4. SAT's arithmetic (Anexo 20, matriz de errores 4.0), recomputed here with Python's Decimal:
     concepto Importe within the Cantidad x ValorUnitario bounds (CFDI40167), Descuento <= Importe
     with no more decimals (CFDI40168/40169), traslado Base > 0 and Importe within the
     Base x TasaOCuota bounds (CFDI40174/40180), Exento without TasaOCuota/Importe (CFDI40177),
     SubTotal / Descuento / Total (CFDI40107/40108/40111/40112/40119), summary traslados per
     impuesto+factor+tasa = rounded sums of the conceptos (CFDI40215/40221),
     TotalImpuestosTrasladados = sum of them (CFDI40205); retenciones likewise (Importe within
     Base x TasaOCuota bounds, summary per impuesto = rounded sum, TotalImpuestosRetenidos = their
     sum, Total less them); RFC check digits;
  5. when a TimbreFiscalDigital is present, its SelloCFD equals the Comprobante's Sello.

Exit status 0 when every file passes; otherwise 1 with a readable report per failing file.
All files are checked in one process so the 5 MB catalog schema is parsed once.
"""

import base64
import os
import sys
from collections import OrderedDict
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

from lxml import etree
from satcfdi.cfdi import CFDI
from satcfdi.models import Certificate
from satcfdi.models.rfc import RFC
from satcfdi.transform import SCHEMA_ROOT, SchemaCollector, cfdi_schemas, xslt_transform
from satcfdi.utils import parser

NS = {"cfdi": "http://www.sat.gob.mx/cfd/4", "tfd": "http://www.sat.gob.mx/TimbreFiscalDigital"}
TASAS = {"0.160000", "0.080000", "0.000000"}
_schemas = {}


def schema_for(root):
    """XMLSchema for the document's schemas (as satcfdi's validate_xsd builds it), cached."""
    col = SchemaCollector()
    cfdi_schemas[root.tag](col, CFDI.from_xml(root))
    key = tuple(sorted(col.base))
    if key not in _schemas:
        element = etree.fromstring(
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>',
            base_url=os.path.join(SCHEMA_ROOT, "schema.xsd"),
            parser=parser,
        )
        for location in key:
            etree.SubElement(
                element,
                "{http://www.w3.org/2001/XMLSchema}import",
                attrib={"namespace": "", "schemaLocation": location},
            )
        _schemas[key] = etree.XMLSchema(element)
    return _schemas[key]


def decimals(text):
    return len(text.split(".", 1)[1]) if "." in text else 0


def half_ulp(text):
    return Decimal(1).scaleb(-decimals(text)) / 2


def trunc_to(value, places):
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def ceil_to(value, places):
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)


def round2(value):
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def arithmetic(root, problems):
    """SAT's validation rules on amounts (MXN: 2 decimals)."""
    conceptos = root.findall("cfdi:Conceptos/cfdi:Concepto", NS)
    sum_importe = Decimal(0)
    sum_descuento = Decimal(0)
    any_descuento = False
    groups = OrderedDict()
    retained = OrderedDict()
    for i, c in enumerate(conceptos):
        where = f"Concepto[{i}]"
        cant_t, vu_t, imp_t = c.get("Cantidad"), c.get("ValorUnitario"), c.get("Importe")
        cant, vu, imp = Decimal(cant_t), Decimal(vu_t), Decimal(imp_t)
        if vu <= 0:
            problems.append(f"{where}: ValorUnitario {vu_t} must be > 0 (CFDI40166)")
        low = trunc_to((cant - half_ulp(cant_t)) * (vu - half_ulp(vu_t)), decimals(imp_t))
        high = ceil_to((cant + half_ulp(cant_t)) * (vu + half_ulp(vu_t)), decimals(imp_t))
        if not (low <= imp <= high):
            problems.append(f"{where}: Importe {imp_t} outside [{low}, {high}] for {cant_t} x {vu_t} (CFDI40167)")
        sum_importe += imp
        desc_t = c.get("Descuento")
        base_expected = imp
        if desc_t is not None:
            any_descuento = True
            desc = Decimal(desc_t)
            sum_descuento += desc
            base_expected = imp - desc
            if desc > imp:
                problems.append(f"{where}: Descuento {desc_t} > Importe {imp_t} (CFDI40169)")
            if decimals(desc_t) > decimals(imp_t):
                problems.append(f"{where}: Descuento {desc_t} has more decimals than Importe (CFDI40168)")
        traslados = c.findall("cfdi:Impuestos/cfdi:Traslados/cfdi:Traslado", NS)
        if c.get("ObjetoImp") == "02" and c.find("cfdi:Impuestos", NS) is None:
            problems.append(f"{where}: ObjetoImp 02 without Impuestos (CFDI40171)")
        bases_by_factor = {}
        for t in traslados:
            base_t = t.get("Base")
            base = Decimal(base_t)
            factor, tasa_t, timp_t = t.get("TipoFactor"), t.get("TasaOCuota"), t.get("Importe")
            if base <= 0:
                problems.append(f"{where}: traslado Base {base_t} must be > 0 (CFDI40174)")
            if factor == "Exento":
                if tasa_t is not None or timp_t is not None:
                    problems.append(f"{where}: Exento traslado with TasaOCuota/Importe (CFDI40177)")
            else:
                if tasa_t is None or timp_t is None:
                    problems.append(f"{where}: Tasa traslado without TasaOCuota/Importe (CFDI40178)")
                    continue
                if t.get("Impuesto") == "002" and tasa_t not in TASAS:
                    problems.append(f"{where}: IVA TasaOCuota {tasa_t} not in c_TasaOCuota (CFDI40179)")
                tasa, timp = Decimal(tasa_t), Decimal(timp_t)
                tl = trunc_to((base - half_ulp(base_t)) * tasa, decimals(timp_t))
                th = ceil_to((base + half_ulp(base_t)) * tasa, decimals(timp_t))
                if not (tl <= timp <= th):
                    problems.append(f"{where}: traslado Importe {timp_t} outside [{tl}, {th}] for {base_t} x {tasa_t} (CFDI40180)")
            key = (t.get("Impuesto"), factor, tasa_t)
            g = groups.setdefault(key, [Decimal(0), Decimal(0)])
            g[0] += base
            g[1] += Decimal(timp_t) if timp_t is not None else Decimal(0)
            bases_by_factor.setdefault(t.get("Impuesto"), Decimal(0))
            bases_by_factor[t.get("Impuesto")] += base
        for r in c.findall("cfdi:Impuestos/cfdi:Retenciones/cfdi:Retencion", NS):
            rb_t, rt_t, ri_t = r.get("Base"), r.get("TasaOCuota"), r.get("Importe")
            rb, rt, ri = Decimal(rb_t), Decimal(rt_t), Decimal(ri_t)
            if rb <= 0:
                problems.append(f"{where}: retencion Base {rb_t} must be > 0")
            if r.get("Impuesto") == "001" and rt_t != "0.012500":
                problems.append(f"{where}: ISR retencion TasaOCuota {rt_t} is not RESICO's 1.25 %")
            rl = trunc_to((rb - half_ulp(rb_t)) * rt, decimals(ri_t))
            rh = ceil_to((rb + half_ulp(rb_t)) * rt, decimals(ri_t))
            if not (rl <= ri <= rh):
                problems.append(f"{where}: retencion Importe {ri_t} outside [{rl}, {rh}] for {rb_t} x {rt_t}")
            retained.setdefault(r.get("Impuesto"), Decimal(0))
            retained[r.get("Impuesto")] += ri
        for impuesto, total_base in bases_by_factor.items():
            if total_base != base_expected:
                problems.append(f"{where}: bases of impuesto {impuesto} add up to {total_base}, not Importe - Descuento = {base_expected}")

    for attr in ("SubTotal", "Total", "Descuento"):
        v = root.get(attr)
        if v is not None and decimals(v) > 2:
            problems.append(f"{attr} {v} has more than 2 decimals (CFDI40107/40112)")
    subtotal = Decimal(root.get("SubTotal"))
    if subtotal != round2(sum_importe):
        problems.append(f"SubTotal {root.get('SubTotal')} != rounded sum of Importe {round2(sum_importe)} (CFDI40108)")
    desc_t = root.get("Descuento")
    if any_descuento:
        if desc_t is None or Decimal(desc_t) != round2(sum_descuento):
            problems.append(f"Descuento {desc_t} != rounded sum of conceptos' Descuento {round2(sum_descuento)} (CFDI40111)")
    elif desc_t is not None and Decimal(desc_t) != 0:
        problems.append(f"Descuento {desc_t} without conceptos with Descuento (CFDI40111)")
    descuento = Decimal(desc_t) if desc_t is not None else Decimal(0)
    if descuento > subtotal:
        problems.append("Descuento > SubTotal (CFDI40110)")

    imp = root.find("cfdi:Impuestos", NS)
    summary = OrderedDict()
    total_tras = Decimal(0)
    if imp is not None:
        for t in imp.findall("cfdi:Traslados/cfdi:Traslado", NS):
            key = (t.get("Impuesto"), t.get("TipoFactor"), t.get("TasaOCuota"))
            if key in summary:
                problems.append(f"summary traslado {key} appears twice (CFDI40218)")
            summary[key] = t
            for a in ("Base", "Importe"):
                if t.get(a) is not None and decimals(t.get(a)) > 2:
                    problems.append(f"summary traslado {key} {a} has more than 2 decimals (CFDI40214/40220)")
            if t.get("Importe") is not None:
                total_tras += Decimal(t.get("Importe"))
        tit = imp.get("TotalImpuestosTrasladados")
        has_tasa = any(k[1] != "Exento" for k in summary)
        if has_tasa and tit is None:
            problems.append("TotalImpuestosTrasladados missing (CFDI40212)")
        if tit is not None and Decimal(tit) != total_tras:
            problems.append(f"TotalImpuestosTrasladados {tit} != sum of summary traslados {total_tras} (CFDI40205)")
        if not has_tasa and tit is not None:
            problems.append("TotalImpuestosTrasladados present though every traslado is Exento")
    if set(summary) != set(groups):
        problems.append(f"summary traslados {sorted(map(str, summary))} != conceptos' {sorted(map(str, groups))}")
    for key, (bsum, isum) in groups.items():
        t = summary.get(key)
        if t is None:
            continue
        if Decimal(t.get("Base")) != round2(bsum):
            problems.append(f"summary traslado {key} Base {t.get('Base')} != rounded sum {round2(bsum)} (CFDI40215)")
        if key[1] != "Exento" and Decimal(t.get("Importe")) != round2(isum):
            problems.append(f"summary traslado {key} Importe {t.get('Importe')} != rounded sum {round2(isum)} (CFDI40221)")
    # Retenciones: one summary per impuesto, the rounded sum of the conceptos', and
    # TotalImpuestosRetenidos their sum.
    summary_ret = OrderedDict()
    total_ret = Decimal(0)
    if imp is not None:
        for r in imp.findall("cfdi:Retenciones/cfdi:Retencion", NS):
            if r.get("Impuesto") in summary_ret:
                problems.append(f"summary retencion {r.get('Impuesto')} appears twice")
            summary_ret[r.get("Impuesto")] = Decimal(r.get("Importe"))
            total_ret += Decimal(r.get("Importe"))
        tir = imp.get("TotalImpuestosRetenidos")
        if summary_ret and (tir is None or Decimal(tir) != total_ret):
            problems.append(f"TotalImpuestosRetenidos {tir} != sum of summary retenciones {total_ret}")
        if not summary_ret and tir is not None:
            problems.append("TotalImpuestosRetenidos without retenciones")
    if set(summary_ret) != set(retained):
        problems.append(f"summary retenciones {sorted(summary_ret)} != conceptos' {sorted(retained)}")
    for impuesto, isum in retained.items():
        if impuesto in summary_ret and summary_ret[impuesto] != round2(isum):
            problems.append(f"summary retencion {impuesto} Importe {summary_ret[impuesto]} != rounded sum {round2(isum)}")
    total = Decimal(root.get("Total"))
    if total != subtotal - descuento + total_tras - total_ret:
        problems.append(f"Total {root.get('Total')} != SubTotal - Descuento + traslados - retenciones = {subtotal - descuento + total_tras - total_ret} (CFDI40119)")

    metodo, forma = root.get("MetodoPago"), root.get("FormaPago")
    if metodo == "PPD" and forma != "99":
        problems.append("MetodoPago PPD requires FormaPago 99 (CFDI40105)")
    if metodo == "PUE" and forma == "99":
        problems.append("MetodoPago PUE with FormaPago 99")

    for who in ("Emisor", "Receptor"):
        node = root.find(f"cfdi:{who}", NS)
        rfc = node.get("Rfc") if node is not None else None
        try:
            if rfc is None or not RFC(rfc).is_valid():
                problems.append(f"{who} RFC {rfc} has a wrong check digit")
        except ValueError:
            problems.append(f"{who} RFC {rfc} is malformed")


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def check(path):
    problems = []
    try:
        tree = etree.parse(path, parser=parser)
    except etree.XMLSyntaxError as e:
        return [f"not well-formed XML: {e}"]
    root = tree.getroot()
    if root.tag != "{http://www.sat.gob.mx/cfd/4}Comprobante":
        return [f"root element is {root.tag}, not cfdi:Comprobante 4.0"]

    schema = schema_for(root)
    if not schema.validate(tree):
        for err in list(schema.error_log)[:10]:
            problems.append(f"XSD line {err.line}: {err.message}")

    sat_cadena = str(xslt_transform(root.tag, root.get("Version"))(tree))
    ours_path = path + ".cadena"
    if os.path.exists(ours_path):
        with open(ours_path, "rb") as f:
            ours = f.read().decode("utf-8")
        if ours != sat_cadena:
            i = first_difference(ours, sat_cadena)
            problems.append(
                "cadena original differs from SAT's XSLT at character %d:\n      ours: ...%r...\n      SAT:  ...%r..."
                % (i, ours[max(0, i - 40): i + 40], sat_cadena[max(0, i - 40): i + 40])
            )

    try:
        cert = Certificate.load_certificate(base64.b64decode(root.get("Certificado", "")))
        if cert.certificate_number != root.get("NoCertificado"):
            problems.append(f"NoCertificado {root.get('NoCertificado')} is not the certificate's ({cert.certificate_number})")
        if not cert.verify_sha256(sat_cadena.encode("utf-8"), base64.b64decode(root.get("Sello", ""))):
            problems.append("Sello does not verify over SAT's cadena original with the embedded certificate")
    except Exception as e:  # noqa: BLE001 - any failure here is a finding to report
        problems.append(f"certificate/sello could not be checked: {e}")

    try:
        arithmetic(root, problems)
    except Exception as e:  # noqa: BLE001
        problems.append(f"amounts could not be checked: {type(e).__name__}: {e}")

    tfd = root.find("cfdi:Complemento/tfd:TimbreFiscalDigital", NS)
    if tfd is not None and tfd.get("SelloCFD") != root.get("Sello"):
        problems.append("TimbreFiscalDigital SelloCFD is not the Comprobante's Sello")
    return problems


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    failed = 0
    for path in paths:
        problems = check(path)
        if problems:
            failed += 1
            print(f"FAIL {path}")
            for p in problems:
                print(f"  - {p}")
    print(f"oracle: {len(paths) - failed}/{len(paths)} CFDI passed (satcfdi XSD, SAT XSLT cadena, sello, arithmetic)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
