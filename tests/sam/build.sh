#!/usr/bin/env bash
# tests/sam/build.sh - `sam build` from the repository root, as README's deploy section says, with
# the real SAM CLI reading samconfig.toml and infra/template.yaml. Only the compiler call is
# replaced (tests/sam/cargo: a host debug build of the same binary, resolved the same way from the
# function's CodeUri), so the check takes seconds once the workspace is built instead of a
# 20-minute arm64 release build. It fails when a function's binary does not resolve from its
# CodeUri or when SAM cannot find the built binary to copy, and checks that every function of
# the template got an executable bootstrap.
#
#   bash tests/sam/build.sh [--keep DIR]   (tests/run runs it in its "lambda" step, keeping the
#                                          build for tests/lambda/harness.py)
#
# Environment: MOSTRADOR_SAM_VENV (default <repo>/.venv-sam), MOSTRADOR_PYTHON (default python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${MOSTRADOR_SAM_VENV:-$ROOT/.venv-sam}"
REQ="infra/requirements-sam.txt"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/sam" || "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  echo "sam: installing $(grep -v '^#' "$REQ" | tr '\n' ' ')into $VENV"
  "${MOSTRADOR_PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  echo "$want" >"$VENV/.requirements.sha256"
fi

if [[ "${1:-}" == --keep ]]; then
  BUILD_DIR="${2:?--keep needs a directory}"
  rm -rf "$BUILD_DIR"
else
  BUILD_DIR="$(mktemp -d)"
  trap 'rm -rf "$BUILD_DIR"' EXIT
fi
# The real cargo: the first on PATH that is not the shim.
MOSTRADOR_REAL_CARGO=""
IFS=: read -ra path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  if [[ -x "$d/cargo" && "$(cd "$d" 2>/dev/null && pwd -P)" != "$ROOT/tests/sam" ]]; then
    MOSTRADOR_REAL_CARGO="$d/cargo"
    break
  fi
done
[[ -n "$MOSTRADOR_REAL_CARGO" ]] || { echo "sam: no cargo on PATH" >&2; exit 2; }
export MOSTRADOR_REAL_CARGO
export SAM_CLI_TELEMETRY=0
# The shim directory first: SAM resolves `cargo` and `cargo-lambda` on PATH.
PATH="$ROOT/tests/sam:$PATH" "$VENV/bin/sam" build --build-dir "$BUILD_DIR"

# Every function of the template has its bootstrap, and the built template points at it.
"$VENV/bin/python" - "$ROOT/infra/template.yaml" "$BUILD_DIR" <<'PY'
import os, sys
from samcli.yamlhelper import yaml_parse

template, build = sys.argv[1], sys.argv[2]
source = yaml_parse(open(template).read())
built = yaml_parse(open(os.path.join(build, "template.yaml")).read())
functions = [k for k, v in source["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]
assert functions, "no functions in the template"
for name in functions:
    binary = source["Resources"][name]["Metadata"]["BuildProperties"]["Binary"]
    boot = os.path.join(build, name, "bootstrap")
    assert os.access(boot, os.X_OK), f"{name}: no executable bootstrap at {boot}"
    code = built["Resources"][name]["Properties"]["CodeUri"]
    assert code == name, f"{name}: the built template's CodeUri is {code!r}, not the build output"
    print(f"sam: {name} ({binary}) -> {boot} ({os.path.getsize(boot) // 1024} KiB)")
print(f"sam: {len(functions)} functions built and packaged as SAM deploys them")
PY
