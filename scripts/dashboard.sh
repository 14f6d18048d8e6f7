#!/usr/bin/env bash
# Renders a CloudWatch dashboard body with GetMetricData results into one self-contained HTML
# page (Chart.js inlined) and its PNG, taken in headless Chromium (scripts/dashboard/dashboard.js).
#
#   scripts/dashboard.sh render BODY.json DATA.json OUT.html OUT.png
#   scripts/dashboard.sh check OUT.html BODY.json BURST_METRIC BURST_FROM BURST_TO
#
# Installs what it needs on first use: chart.js and playwright-core from npm into
# scripts/dashboard/node_modules (git-ignored), and Debian's chromium package when
# /usr/bin/chromium is missing (apt-get; CHROMIUM_BIN names another binary).
set -euo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/dashboard" && pwd)

installed() {
  (cd "$DIR" && node -e 'const fs = require("fs"); const d = require("./package.json").dependencies;
    for (const [n, v] of Object.entries(d)) {
      const f = `node_modules/${n}/package.json`;
      if (!fs.existsSync(f) || JSON.parse(fs.readFileSync(f)).version !== v) process.exit(1);
    }') 2>/dev/null
}
command -v node >/dev/null 2>&1 || { echo "node is not installed: the dashboard renderer needs node >= 20 and npm" >&2; exit 1; }
if ! installed; then
  (cd "$DIR" && npm install --no-audit --no-fund --no-save --loglevel=error >&2)
fi
chromium=${CHROMIUM_BIN:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
  command -v apt-get >/dev/null 2>&1 || { echo "no $chromium and no apt-get: install Debian's chromium package or set CHROMIUM_BIN" >&2; exit 1; }
  echo "installing Debian's chromium package (headless screenshots)" >&2
  apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
fi

case ${1:-} in
  render)
    [[ $# == 5 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
    node "$DIR/dashboard.js" render "$2" "$3" "$4"
    node "$DIR/dashboard.js" png "$4" "$5"
    ;;
  check)
    shift
    node "$DIR/dashboard.js" check "$@"
    ;;
  *)
    sed -n '2,11p' "$0" >&2
    exit 2
    ;;
esac
