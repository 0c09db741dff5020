"""Regenerates pais.txt: every c_Pais code of SAT's catCFDI.xsd with SAT's Spanish name, sorted by
code, one "CODE<TAB>Nombre" per line.

Codes come from the XSD the test oracle validates against; names from the catalog database that
ships with the same PyPI package, satcfdi:

    <workspace>/.venv/bin/python shared/cfdi/src/catalogs/generate_pais.py

Run it after upgrading satcfdi when SAT publishes a new c_Pais.
"""

import os
import pickle
import sqlite3
import sys

from lxml import etree
import satcfdi

XS = "{http://www.w3.org/2001/XMLSchema}"
root = os.path.dirname(satcfdi.__file__)
xsd = os.path.join(root, "transform/schemas/www.sat.gob.mx/sitio_internet/cfd/catalogos/catCFDI.xsd")
codes = set()
for simple in etree.parse(xsd).iter(f"{XS}simpleType"):
    if simple.get("name") == "c_Pais":
        codes = {e.get("value") for e in simple.iter(f"{XS}enumeration")}
db = sqlite3.connect(os.path.join(root, "catalogs/catalogs.db"))
names = {pickle.loads(k): pickle.loads(v) for k, v in db.execute("select key, value from C756_c_Pais")}
if len(codes) < 200 or any(len(c) != 3 or not c.isalpha() or not c.isupper() for c in codes):
    sys.exit("unexpected c_Pais values in catCFDI.xsd")
missing = sorted(c for c in codes if c not in names)
if missing:
    sys.exit(f"c_Pais codes without a name: {missing}")
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pais.txt")
with open(out, "w", newline="\n", encoding="utf-8") as f:
    for c in sorted(codes):
        name = " ".join(str(names[c]).split())
        if "\t" in name or not name:
            sys.exit(f"bad name for {c}: {name!r}")
        f.write(f"{c}\t{name}\n")
print(f"{len(codes)} codes -> {out}")
