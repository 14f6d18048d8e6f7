#!/usr/bin/env bash
# Throughput of cw-sidecar's HTTP ingest beside two baselines, measured in one run:
#   bare        axum answering 202 without reading the body (examples/bench_bare.rs)
#   parse-only  axum parsing the same bodies with serde_json into a borrowed struct
#               (examples/bench_parse_only.rs): the physical limit for this work
#   cw-sidecar  --dry-run, 60 s flush, no self metrics
# Each server is pinned to core 0 (so its runtime has one worker) and wrk to core 1, with
# 32 connections; figures are ratios within this run, never absolute claims. Then valgrind's
# callgrind counts instructions per record on the 1000-record path: that count is stable from
# run to run and is what a change to the hot path is judged by.
#
#   scripts/bench.sh                 # full run (about 2 minutes after the release build)
#   BENCH_SECONDS=2 scripts/bench.sh # shorter
# Needs 2 cores; installs wrk and valgrind from Debian's packages when missing. Targets only
# 127.0.0.1 and stops every server it started.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-8}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v valgrind >/dev/null || need+=(valgrind)
command -v taskset >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing ${need[*]} from Debian's packages" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "bench.sh needs 2 cores (server and load generator on separate cores)" >&2
  exit 1
fi

cargo build --release --locked --bin cw-sidecar --example bench_bare --example bench_parse_only >&2
release="${CARGO_TARGET_DIR:-target}/release"
sidecar="$release/cw-sidecar"

# Bodies: one record, and 1000 records over 60 series with long-tailed values.
python3 - "$work" <<'EOF'
import json, math, random, sys
random.seed(7)
work = sys.argv[1]
def record(i):
    v = round(math.exp(random.random() * 3 + 1) * (40 if random.random() < 0.05 else 1), 3)
    return {"name": "Latency", "value": v, "unit": "Milliseconds",
            "dimensions": {"Service": "svc%d" % (i % 10), "Route": "/r%d" % (i % 6)}}
open(f"{work}/one.json", "w").write(json.dumps([record(0)]))
open(f"{work}/batch.json", "w").write(json.dumps([record(i) for i in range(1000)]))
EOF
for body in one batch; do
  cat > "$work/$body.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/$body.json", "r")
wrk.body = f:read("*a")
f:close()
EOF
done

port=26100
start_server() { # name command... -> sets $url
  port=$((port + 1))
  local name=$1; shift
  case "$name" in
    sidecar) taskset -c 0 "$@" --dry-run --listen "127.0.0.1:$port" --namespace Bench --flush-interval 60s \
               --self-metrics-namespace "" >/dev/null 2>"$work/$name.log" & ;;
    *) taskset -c 0 "$@" "127.0.0.1:$port" >/dev/null 2>"$work/$name.log" & ;;
  esac
  pids+=($!)
  url="http://127.0.0.1:$port/v1/metrics"
  for _ in $(seq 100); do
    curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '[]' "$url" && return 0
    sleep 0.05
  done
  echo "$name did not start; its log:" >&2
  cat "$work/$name.log" >&2
  exit 1
}
stop_server() {
  kill "${pids[-1]}" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
}
# requests/s and p99 latency of a saturating load
load() { # url body
  local out
  out=$(taskset -c 1 wrk -t1 -c32 -d"${seconds}s" --latency -s "$work/$2.lua" "$1")
  if echo "$out" | grep -q "Non-2xx"; then
    echo "non-2xx answers under load:" >&2
    echo "$out" >&2
    exit 1
  fi
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "$rps $p99"
}

declare -A rps p99
for server in bare parse sidecar; do
  case "$server" in
    bare) start_server bare "$release/examples/bench_bare" ;;
    parse) start_server parse "$release/examples/bench_parse_only" ;;
    sidecar) start_server sidecar "$sidecar" ;;
  esac
  for body in one batch; do
    [ "$server" = bare ] && [ "$body" = batch ] && continue
    read -r r l < <(load "$url" "$body")
    rps[$server-$body]=$r
    p99[$server-$body]=$l
  done
  stop_server
done

# Instructions per record on the 1000-record path: (total - idle) / records.
callgrind_total() { # requests -> instructions
  local out="$work/cg.$1"
  port=$((port + 1))
  valgrind --tool=callgrind --callgrind-out-file="$out" "$sidecar" --dry-run --listen "127.0.0.1:$port" \
    --namespace Bench --flush-interval 600s --self-metrics-namespace "" >/dev/null 2>"$work/cg.log" &
  local pid=$!
  for _ in $(seq 200); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  for _ in $(seq "$1"); do
    curl -s -o /dev/null -H 'content-type: application/json' --data-binary "@$work/batch.json" \
      "127.0.0.1:$port/v1/metrics"
  done
  kill -INT "$pid"
  wait "$pid" || true
  awk '/^summary:/ {print $2}' "$out"
}
requests=20
idle=$(callgrind_total 0)
busy=$(callgrind_total "$requests")
per_record=$(( (busy - idle) / (requests * 1000) ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
records() { awk -v a="$1" 'BEGIN { printf "%.0f", a * 1000 }'; }
printf '\n%-40s %14s %10s %10s\n' "load (server on core 0, wrk on core 1)" "per second" "p99" "ratio"
printf '%-40s %14s %10s %10s\n' "one record per POST: bare axum" "${rps[bare-one]} req" "${p99[bare-one]}" ""
printf '%-40s %14s %10s %10s\n' "one record per POST: parse-only" "${rps[parse-one]} req" "${p99[parse-one]}" \
  "$(ratio "${rps[parse-one]}" "${rps[bare-one]}")"
printf '%-40s %14s %10s %10s\n' "one record per POST: cw-sidecar" "${rps[sidecar-one]} req" "${p99[sidecar-one]}" \
  "$(ratio "${rps[sidecar-one]}" "${rps[bare-one]}") of bare"
printf '%-40s %14s %10s %10s\n' "1000 records per POST: parse-only" "$(records "${rps[parse-batch]}") rec" \
  "${p99[parse-batch]}" ""
printf '%-40s %14s %10s %10s\n' "1000 records per POST: cw-sidecar" "$(records "${rps[sidecar-batch]}") rec" \
  "${p99[sidecar-batch]}" "$(ratio "${rps[sidecar-batch]}" "${rps[parse-batch]}") of parse-only"
printf '%-40s %14s\n' "instructions per record (callgrind)" "$per_record"
