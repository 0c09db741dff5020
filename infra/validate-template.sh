#!/usr/bin/env bash
# Offline validation of infra/template.yaml: no network, no AWS credentials.
#
#   bash infra/validate-template.sh [VENV]     (VENV defaults to ${MOSTRADOR_VENV:-.venv})
#
# The venv must hold infra/requirements-test.txt (tests/run installs it).
# 1. cfn-lint on the raw SAM template (cfn-lint validates SAM resources against SAM's schema).
# 2. infra/validate_template.py: SAM transform with aws-sam-translator (offline managed-policy
#    map) + project invariants (timeouts vs. visibility, redrive, DLQ alarms, binaries, schedules).
# 3. cfn-lint on the transformed CloudFormation (catches what only shows after the transform).
# Any cfn-lint finding (error, warning or informational) fails the run: the template is kept clean.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${1:-${MOSTRADOR_VENV:-$ROOT/.venv}}"
PYTHON="$VENV/bin/python"
if [[ ! -x "$PYTHON" ]]; then
  echo "validate-template: no python at $PYTHON; create the venv first (bash tests/run does)" >&2
  exit 2
fi

# Nothing may look for real credentials or call AWS.
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

TEMPLATE="${MOSTRADOR_TEMPLATE:-infra/template.yaml}"
# Regions whose resource specs the template is checked against (mx-central-1: Mexico).
REGIONS=(us-east-1 mx-central-1)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TRANSFORMED="$WORK/template.transformed.json"

echo "validate-template: cfn-lint $TEMPLATE (SAM)"
"$VENV/bin/cfn-lint" --regions "${REGIONS[@]}" --non-zero-exit-code informational -- "$TEMPLATE"

echo "validate-template: SAM transform + project checks"
"$PYTHON" infra/validate_template.py --template "$TEMPLATE" --output "$TRANSFORMED"

echo "validate-template: cfn-lint transformed template"
"$VENV/bin/cfn-lint" --regions "${REGIONS[@]}" --non-zero-exit-code informational -- "$TRANSFORMED"

echo "validate-template: OK"
