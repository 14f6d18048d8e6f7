#!/usr/bin/env bash
# Security scan of terraform/ with checkov, in a virtualenv of its own (.venv-checkov,
# separate from LocalStack's). Every failed check must be fixed, or skipped in the
# code with `#checkov:skip=CKV_...:reason` next to the resource.
#
#   scripts/checkov.sh            install if needed, scan, exit non-zero on any failed check
#   scripts/checkov.sh --install  only install
#
# Environment: CHECKOV_PYTHON (interpreter for the venv, default python3).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv-checkov
CHECKOV_VERSION=3.3.30
STAMP=$VENV/.cw-sidecar-checkov

log() { printf 'checkov: %s\n' "$*" >&2; }

install() {
  if [[ -x $VENV/bin/checkov && -f $STAMP && "$(cat "$STAMP")" == "$CHECKOV_VERSION" ]]; then
    return 0
  fi
  local py=${CHECKOV_PYTHON:-python3}
  command -v "$py" >/dev/null 2>&1 || { log "ERROR: $py not found; checkov needs Python 3.9-3.12"; exit 1; }
  log "installing checkov $CHECKOV_VERSION into $VENV (one-off)"
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
  echo "$CHECKOV_VERSION" >"$STAMP"
}

install
[[ ${1:-} == --install ]] && exit 0

# No network for external modules or the Prisma platform; only the local modules.
export BC_SKIP_MAPPING=TRUE
export CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
cd "$ROOT"
report=$(mktemp "${TMPDIR:-/tmp}/checkov-report.XXXXXX.json")
trap 'rm -f "$report"' EXIT
set +e
"$VENV/bin/checkov" \
  --directory terraform \
  --framework terraform \
  --skip-path '\.terraform/' \
  --download-external-modules false \
  --skip-download \
  --output json \
  "$@" >"$report"
rc=$?
set -e
# Summarise: every failed check with where and why, every skip with its reason.
"$VENV/bin/python" - "$report" "$rc" <<'PY'
import json, sys

path, rc = sys.argv[1], int(sys.argv[2])
try:
    data = json.load(open(path))
except ValueError:
    print(open(path).read())
    print(f"checkov: could not read its report (exit {rc})")
    sys.exit(rc or 1)
reports = data if isinstance(data, list) else [data]
passed = failed = skipped = 0
for report in reports:
    results = report.get("results", {})
    summary = report.get("summary", {})
    passed += summary.get("passed", 0)
    failed += summary.get("failed", 0)
    skipped += summary.get("skipped", 0)
    for check in results.get("failed_checks", []):
        print(f"FAILED {check['check_id']} {check['check_name']}\n"
              f"       {check['resource']} ({check['file_path']}:{check['file_line_range'][0]})\n"
              f"       {check.get('guideline') or ''}")
    for check in results.get("skipped_checks", []):
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        print(f"skipped {check['check_id']} on {check['resource']} ({check['file_path']}): {reason}")
print(f"checkov: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
