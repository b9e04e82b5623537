#!/usr/bin/env bash
# Static analysis of the Solidity contracts: slither on a `forge build` that compiles with the
# project's solc-js shim. Writes reports/slither.json and fails on any finding of impact High or
# Medium in contracts/ (the test-only contracts/mocks/ excepted) that tools/slither/triage.json
# does not accept with a reason. Lower impacts are summarised, not gated.
#
# slither lives in its own virtual environment (.venv-slither): its web3 and friends need not
# agree with brownie's exact pins. Nothing is downloaded except from PyPI: forge is the native
# binary of the npm package (.tools/bin/forge), told by foundry.toml to use the shim as its solc,
# never to detect or install one, and to stay offline.
#
# Needs `make setup` first (node_modules, .solcx/ shim, .tools/bin/forge); `make slither` does it.
# Environment: PYTHON (interpreter for the venv), EVM_VERSION (as in brownie-config; default cancun).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# Exact pins: slither-analyzer and the packages it drives our build with.
PINS=(
    "slither-analyzer==0.11.6"
    "crytic-compile==0.4.2"
    "solc-select==1.2.0"
)
VENV="$ROOT/.venv-slither"
STAMP="$VENV/.installed"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
SHIM=".solcx/solc-v0.8.37"
REPORT="reports/slither.json"
TRIAGE="tools/slither/triage.json"

fail() {
    echo "slither: $*" >&2
    exit 2
}

start=$SECONDS

# --- toolchain from `make setup` -------------------------------------------------------------
[[ -x .tools/bin/forge ]] || fail ".tools/bin/forge is missing; run \`make setup\`"
[[ -x "$SHIM" ]] || fail "$SHIM (the solc-js shim) is missing; run \`make setup\`"
[[ -d node_modules/@openzeppelin/contracts ]] || fail "node_modules is not installed; run \`make setup\`"

# --- the slither environment (idempotent) ----------------------------------------------------
wanted="$("$PYTHON" -c 'import sys; print("python %d.%d" % sys.version_info[:2])') ${PINS[*]}"
if [[ ! -x "$VENV/bin/slither" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$wanted" ]]; then
    echo "slither: installing ${PINS[*]} into .venv-slither"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
    "$VENV/bin/python" -m pip check --disable-pip-version-check >/dev/null \
        || { "$VENV/bin/python" -m pip check; fail "the slither environment is inconsistent"; }
    echo "$wanted" >"$STAMP"
fi

# --- build with forge through the shim -------------------------------------------------------
export PATH="$ROOT/.tools/bin:$PATH"
# solc-select (a slither dependency) keeps its state under $VIRTUAL_ENV, not in the home folder.
export VIRTUAL_ENV="$VENV"
export FOUNDRY_EVM_VERSION="${EVM_VERSION:-cancun}"

# Refuse to run if forge would pick a compiler other than the shim, or go online.
forge config --json | "$VENV/bin/python" -c '
import json, sys
config = json.load(sys.stdin)
solc = str(config.get("solc") or "")
problems = []
if not solc.endswith("'"$SHIM"'"):
    problems.append(f"solc is {solc!r}, not the shim '"$SHIM"'")
if not config.get("offline"):
    problems.append("offline is not true")
if config.get("auto_detect_solc"):
    problems.append("auto_detect_solc is true")
if problems:
    sys.exit("slither: foundry.toml would let forge fetch a compiler: " + "; ".join(problems))
'

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$REPORT")"

# --show-ignored-findings: inline `slither-disable` comments and slither's own triage database
# hide nothing; the only way to accept a finding is an entry, with a reason, in triage.json.
# --fail-none: the exit status says whether slither ran; check_findings.py decides the gate.
if ! "$VENV/bin/slither" . \
    --compile-force-framework foundry \
    --show-ignored-findings \
    --fail-none \
    --disable-color \
    --json "$work/slither.json" >"$work/slither.log" 2>&1; then
    # What forge or slither said, without the Python traceback (its last line says the gist).
    sed -n '/^Traceback/q;p' "$work/slither.log" | grep -v 'is ignored: it is neither' | tail -n 80 >&2
    tail -n 2 "$work/slither.log" >&2
    fail "slither did not run to the end (its output is above)"
fi
[[ -s "$work/slither.json" ]] || { tail -n 60 "$work/slither.log" >&2; fail "slither wrote no report"; }
mv "$work/slither.json" "$REPORT"
echo "slither: report written to $REPORT"

status=0
"$VENV/bin/python" tools/slither/check_findings.py "$REPORT" "$TRIAGE" --root "$ROOT" \
    --scope contracts --exclude contracts/mocks || status=$?
echo "slither: done in $((SECONDS - start)) s"
exit "$status"
