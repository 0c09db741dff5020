"""Regenerates clave_prod_serv.txt: every c_ClaveProdServ code of SAT's catCFDI.xsd with SAT's
description, sorted by code, one "CODE<TAB>Descripción" per line.

Codes come from the XSD the test oracle validates against; descriptions from the catalog database
that ships with the same PyPI package, satcfdi (a code the database does not describe keeps an empty
description: it is still valid, and only the console's search cannot find it by name):

    <workspace>/.venv/bin/python shared/cfdi/src/catalogs/generate_clave_prod_serv.py

Run it after upgrading satcfdi when SAT publishes a new c_ClaveProdServ.
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
tree = etree.parse(xsd)
simple = tree.find(f"{XS}simpleType[@name='c_ClaveProdServ']")
codes = sorted({e.get("value") for e in simple.iter(f"{XS}enumeration")})
if not codes or any(len(c) != 8 or not c.isdigit() for c in codes):
    sys.exit("unexpected c_ClaveProdServ values in catCFDI.xsd")
db = sqlite3.connect(os.path.join(root, "catalogs/catalogs.db"))
names = {pickle.loads(k): pickle.loads(v) for k, v in db.execute("select key, value from C756_c_ClaveProdServ")}
described = 0
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clave_prod_serv.txt")
with open(out, "w", newline="\n", encoding="utf-8") as f:
    for c in codes:
        name = " ".join(str(names.get(c, "")).split())
        if "\t" in name:
            sys.exit(f"bad description for {c}: {name!r}")
        described += bool(name)
        f.write(f"{c}\t{name}\n")
print(f"{len(codes)} codes ({described} described) -> {out}")
