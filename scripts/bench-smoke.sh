#!/usr/bin/env bash
# Smoke run of scripts/bench.sh (BENCH_QUICK=1: a dev build, 1 s loads, 10k and 100k series,
# a 1 s UDP load): checks that the script works end to end and that every row of its tables
# was printed with its numbers. It never judges a figure's value: timings are not tests on
# shared machines. Run by scripts/test.sh; about 2 minutes once the dev build exists.
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
BENCH_QUICK=1 scripts/bench.sh >"$out"

failed=0
expect() { # label, how many numbers the row must hold after its label
  local line rest numbers
  line=$(grep -F -- "$1" "$out" | head -1 || true)
  rest=${line#*"$1"}
  numbers=$(grep -oE '[0-9]+(\.[0-9]+)?' <<<"$rest" | wc -l)
  if [ -z "$line" ] || [ "$numbers" -lt "$2" ]; then
    echo "bench.sh smoke: row \"$1\" missing or without its $2 numbers: ${line:-<none>}" >&2
    failed=1
  fi
}
# per second, p99, half load, achieved, p50 and p99 at half load
for load in "one record per POST: bare axum" "one record per POST: parse-only" "one record per POST: cw-sidecar" \
  "1000 records per POST: parse-only" "1000 records per POST: cw-sidecar" \
  "OTLP/HTTP protobuf: decode-only" "OTLP/HTTP protobuf: cw-sidecar" "OTLP/gRPC: decode-only" \
  "OTLP/gRPC: cw-sidecar" "remote-write 1.0: decode-only" "remote-write 1.0: cw-sidecar"; do
  expect "$load" 6
done
expect "instructions per record (callgrind)" 1
# the ratio to decode-only besides the six
for load in "OTLP/HTTP protobuf: cw-sidecar" "OTLP/gRPC: cw-sidecar" "remote-write 1.0: cw-sidecar"; do
  expect "$load" 7
done
expect "load generator CPU at max" 6
for kind in "OTLP/HTTP protobuf" "OTLP/gRPC" "remote-write"; do
  # the sidecar's, decode-only's, and the share
  expect "instructions per point: $kind" 3
done
expect "RSS idle (VmRSS after start)" 1
expect "RSS at 10000 active series x 20 values" 1
expect "RSS at 100000 active series x 20 values" 1
expect "memory per active series" 2
expect "startup to ready (median of" 3
expect "PutMetricData calls / lower bound" 3
expect "datagrams sent (send errors)" 2
expect "lines received / accepted" 2
expect "lost (sent - received)" 1
expect "sidecar CPU per datagram" 1
expect "all rounds: datagrams sent / lost / kernel drops" 3
expect "sidecar CPU per datagram, median of the rounds" 1
if [ "$failed" = 1 ]; then
  cat "$out" >&2
  exit 1
fi
echo "bench.sh smoke run: every row printed"
