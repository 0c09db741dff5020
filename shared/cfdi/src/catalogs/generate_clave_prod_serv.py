"""Regenerates clave_prod_serv.txt: every c_ClaveProdServ code of SAT's catCFDI.xsd, sorted, one per line.

The catalog ships with the PyPI package satcfdi (the same XSD the test oracle validates against):

    <workspace>/.venv/bin/python shared/cfdi/src/catalogs/generate_clave_prod_serv.py

Run it after upgrading satcfdi when SAT publishes a new c_ClaveProdServ.
"""

import os
import sys

from lxml import etree
import satcfdi

XS = "{http://www.w3.org/2001/XMLSchema}"
xsd = os.path.join(
    os.path.dirname(satcfdi.__file__),
    "transform/schemas/www.sat.gob.mx/sitio_internet/cfd/catalogos/catCFDI.xsd",
)
tree = etree.parse(xsd)
simple = tree.find(f"{XS}simpleType[@name='c_ClaveProdServ']")
codes = sorted({e.get("value") for e in simple.iter(f"{XS}enumeration")})
if not codes or any(len(c) != 8 or not c.isdigit() for c in codes):
    sys.exit("unexpected c_ClaveProdServ values in catCFDI.xsd")
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clave_prod_serv.txt")
with open(out, "w", newline="\n") as f:
    f.write("".join(c + "\n" for c in codes))
print(f"{len(codes)} codes -> {out}")
