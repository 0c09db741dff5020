"""Regenerates border_postal_codes.txt: the postal codes SAT's c_CodigoPostal marks with the
"Estímulo Franja Fronteriza" (1 = región fronteriza norte, 2 = región fronteriza sur), as ranges.

The catalog ships with the PyPI package satcfdi (the same catalogs the test oracle uses):

    <workspace>/.venv/bin/python shared/core/src/tax/generate_border_postal_codes.py

Run it after upgrading satcfdi when SAT publishes a new c_CodigoPostal.
"""

import os
import pickle
import sqlite3
import sys

import satcfdi

db = os.path.join(os.path.dirname(satcfdi.__file__), "catalogs", "catalogs.db")
rows = sqlite3.connect(db).execute("select key, value from C756_c_CodigoPostal")
codes = {}
for key, value in rows:
    code, fields = pickle.loads(key), pickle.loads(value)
    # fields: estado, municipio, localidad, estímulo franja fronteriza, huso horario...
    if fields[3] in ("1", "2"):
        codes[int(code)] = fields[3]
if len(codes) < 5000:
    sys.exit(f"unexpectedly few border postal codes in c_CodigoPostal: {len(codes)}")
ranges = []
for code in sorted(codes):
    region = codes[code]
    if ranges and ranges[-1][1] == code - 1 and ranges[-1][2] == region:
        ranges[-1][1] = code
    else:
        ranges.append([code, code, region])
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "border_postal_codes.txt")
with open(out, "w", newline="\n") as f:
    f.write("# first last region (1 norte, 2 sur) - generated from SAT's c_CodigoPostal\n")
    f.write("".join(f"{a:05d} {b:05d} {r}\n" for a, b, r in ranges))
print(f"{len(codes)} postal codes in {len(ranges)} ranges -> {out}")
