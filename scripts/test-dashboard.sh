#!/usr/bin/env bash
# The dashboard renderer in a real headless browser, with no AWS: renders
# tests/dashboard/dashboard_body.json (the widget JSON Terraform renders for
# terraform/examples/complete) with tests/dashboard/metric_data.json (a GetMetricData answer
# whose 5xx burst runs from its Burst.from to Burst.to) through scripts/dashboard.sh, then opens
# the page in headless Chromium and checks that every metric widget drew each of its series
# (series count as in the widget JSON, points in each, canvas painted) and that every Http5xx
# series is near zero before the burst and clearly higher during it.
# KEEP_DASHBOARD=1 keeps the page and PNG (their folder is printed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIX=$ROOT/tests/dashboard
out=$(mktemp -d "${TMPDIR:-/tmp}/cw-dashboard-test.XXXXXX")
[[ ${KEEP_DASHBOARD:-0} == 1 ]] || trap 'rm -rf "$out"' EXIT

"$ROOT/scripts/dashboard.sh" render "$FIX/dashboard_body.json" "$FIX/metric_data.json" "$out/dashboard.html" "$out/dashboard.png"
[[ -s $out/dashboard.png ]] || { echo "FAILED: no PNG" >&2; exit 1; }
head -c 8 "$out/dashboard.png" | od -An -c | grep -q 'P   N   G' || { echo "FAILED: $out/dashboard.png is not a PNG" >&2; exit 1; }
grep -q '<script src=' "$out/dashboard.html" && { echo "FAILED: the page loads a script from elsewhere" >&2; exit 1; }
read -r metric from to < <(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["Burst"]; print(b["metric"], b["from"], b["to"])' "$FIX/metric_data.json")
"$ROOT/scripts/dashboard.sh" check "$out/dashboard.html" "$FIX/dashboard_body.json" "$metric" "$from" "$to"
echo "page $(wc -c <"$out/dashboard.html") bytes, PNG $(wc -c <"$out/dashboard.png") bytes${KEEP_DASHBOARD:+ in $out}"
