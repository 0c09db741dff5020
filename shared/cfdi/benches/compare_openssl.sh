#!/usr/bin/env bash
# shared/cfdi/benches/compare_openssl.sh - how fast we seal CFDI compared with OpenSSL's RSA-2048.
#
#   bash shared/cfdi/benches/compare_openssl.sh
#
# 1. `openssl speed -seconds 3 rsa2048` (one process, one core): OpenSSL's RSA-2048 signs/s.
# 2. `cargo bench -p mostrador-cfdi --bench seal` (profile "bench", single-threaded): build + seal +
#    serialize of a typical 5-line invoice, the bare RSA-2048 sello, and a 10,000-ticket factura
#    global; read back from criterion's estimates.json.
# 3. `examples/global_10k.rs` built with the same profile and run under `/usr/bin/time -v` for the
#    10,000-ticket global's wall time and peak RSS.
# Prints invoices/s vs OpenSSL signs/s and the ratio (target >= 90 %), and the 10k global's time
# (target < 1 s) and peak memory. Exits non-zero when a target is missed.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target), BENCH_CPU (pin everything to this CPU
# with taskset when available; default 0).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_TARGET_DIR="$TARGET"
export CRITERION_HOME="$TARGET/criterion-cfdi"
PIN=()
if command -v taskset >/dev/null 2>&1; then
  PIN=(taskset -c "${BENCH_CPU:-0}")
fi

for tool in openssl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || { echo "compare_openssl: $tool is required" >&2; exit 2; }
done

echo "==> openssl speed -seconds 3 rsa2048 ($(openssl version))"
OPENSSL_OUT="$("${PIN[@]}" openssl speed -seconds 3 rsa2048 2>/dev/null)"
# Table: a header naming the columns ("sign verify sign/s verify/s"; OpenSSL >= 3.2 adds encrypt
# and decrypt columns) and a row "rsa 2048 bits <values in header order>".
OPENSSL_SIGNS="$(printf '%s\n' "$OPENSSL_OUT" | awk '
  /sign\/s/ && !col { for (i = 1; i <= NF; i++) if ($i == "sign/s") col = i; next }
  col && /^rsa +2048 bits/ { print $(3 + col); exit }')"
[[ -n "$OPENSSL_SIGNS" ]] || { printf '%s\n' "$OPENSSL_OUT"; echo "compare_openssl: cannot read sign/s" >&2; exit 1; }
echo "openssl rsa2048: $OPENSSL_SIGNS sign/s"

echo "==> cargo bench -p mostrador-cfdi --bench seal"
"${PIN[@]}" cargo bench -p mostrador-cfdi --bench seal -- --noplot

estimate() { # estimate GROUP BENCH -> mean time in ns
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean"]["point_estimate"])' \
    "$CRITERION_HOME/$1/$2/new/estimates.json"
}
INVOICE_NS="$(estimate seal typical_5_lines)"
SIGN_NS="$(estimate seal rsa2048_sign_only)"
GLOBAL_NS="$(estimate global 10k_tickets)"

echo "==> examples/global_10k under /usr/bin/time -v"
cargo build -q --profile bench -p mostrador-cfdi --example global_10k
EXAMPLE="$TARGET/release/examples/global_10k"
TIME_OUT="$(mktemp)"
"${PIN[@]}" /usr/bin/time -v "$EXAMPLE" 2>"$TIME_OUT"
PEAK_KB="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TIME_OUT")"
rm -f "$TIME_OUT"

python3 - "$OPENSSL_SIGNS" "$INVOICE_NS" "$SIGN_NS" "$GLOBAL_NS" "$PEAK_KB" <<'PY'
import sys
openssl, invoice_ns, sign_ns, global_ns, peak_kb = (float(x) for x in sys.argv[1:])
invoices = 1e9 / invoice_ns
signs = 1e9 / sign_ns
ratio = invoices / openssl
global_s = global_ns / 1e9
print()
print("==> summary")
print(f"  openssl rsa2048 sign            {openssl:10.1f} /s")
print(f"  our bare sello (aws-lc-rs)      {signs:10.1f} /s  ({signs / openssl:6.1%} of openssl)")
print(f"  typical 5-line invoice          {invoices:10.1f} /s  ({ratio:6.1%} of openssl; target >= 90 %)")
print(f"  10,000-ticket factura global    {global_s * 1e3:10.1f} ms (target < 1000 ms)")
print(f"  peak RSS, global_10k example    {peak_kb / 1024:10.1f} MiB")
sys.exit(0 if ratio >= 0.90 and global_s < 1.0 else 1)
PY
