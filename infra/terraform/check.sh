#!/usr/bin/env bash
# Validates the Terraform deployment offline (no provider download, no AWS account):
#   1. terraform fmt -check (skipped when terraform is not installed),
#   2. checkov's static policies (failures must be fixed or skipped inline with a reason),
#   3. pytest on the module's invariants, evaluated by tfparse (infra/terraform/tests).
# `terraform validate`/`plan` need the AWS provider from the Terraform registry: run them
# where it is reachable (see modules/strata/README.md).
#
# Needs, in the Python that runs it (PYTHON, default python3):
#   python3 -m pip install --quiet checkov==3.3.30 tfparse==0.6.22 pytest
#
#   bash infra/terraform/check.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

PYTHON=${PYTHON:-python3}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0

step_failed() {
  echo "check.sh: $1: FAILED"
  sed 's/^/  /' "$log"
  failed=1
}

# 1. Formatting. TF_CLI_CONFIG_FILE=/dev/null: no CLI configuration (and no warning about a
# missing one).
export TF_CLI_CONFIG_FILE=/dev/null
if command -v terraform >/dev/null; then
  if terraform fmt -check -recursive -diff infra/terraform >"$log" 2>&1; then
    echo "check.sh: terraform fmt: ok ($(terraform version | head -n1))"
  else
    step_failed "terraform fmt (run: terraform fmt -recursive infra/terraform)"
  fi
else
  echo "check.sh: terraform fmt: skipped (terraform not installed)"
fi

# The Python packages of steps 2 and 3.
if ! "$PYTHON" -c 'import checkov, tfparse, pytest' >"$log" 2>&1; then
  echo "check.sh: $PYTHON lacks checkov, tfparse or pytest:" \
    "$PYTHON -m pip install --quiet checkov==3.3.30 tfparse==0.6.22 pytest"
fi

# 2. checkov. `python -m checkov.main` rather than the `checkov` script, so that it is the
# same Python as pytest's whatever PATH holds.
if PYTHONWARNINGS=ignore "$PYTHON" -m checkov.main -d infra/terraform --framework terraform \
  --skip-download --compact --quiet >"$log" 2>&1; then
  echo "check.sh: checkov: ok ($(grep -m1 -o 'Passed checks: .*' "$log" || echo 'no checks ran'))"
  grep -q 'Passed checks: [1-9]' "$log" || step_failed "checkov (ran no check)"
else
  step_failed "checkov"
fi

# 3. The module's invariants.
if "$PYTHON" -m pytest -q -p no:cacheprovider infra/terraform/tests >"$log" 2>&1; then
  echo "check.sh: pytest: ok ($(tail -n1 "$log" | tr -d '=' | sed 's/^ *//;s/ *$//'))"
else
  step_failed "pytest infra/terraform/tests"
fi

exit "$failed"
