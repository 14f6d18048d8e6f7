#!/usr/bin/env bash
# Instructions on the hot paths, counted by valgrind's callgrind (stable from run to run, unlike
# time on these shared machines): judge a change to the hot path by these.
#   per record     1000-record JSON bodies: (20 bodies - idle) / 20,000 records
#   per POST       single-record JSON bodies on one kept-alive connection: (2,000 - idle) / 2,000
#   per datagram   StatsD over UDP, one line per datagram, 30,000 at 5,000/s (examples/statsd_blast):
#                  the whole process's total / 30,000, as docs/performance.md counts it
#   per point      protobuf bodies of 100 data points (examples/bench_load proto-count) on one
#                  connection, CALLGRIND_REQUESTS of them (50): (total - idle) / points, for
#                  otlp-http (OTLP protobuf over HTTP), otlp-grpc and remote-write; the sidecar
#                  has its gRPC listener on for all three (and their one idle run); then the same
#                  for the decode-only baseline (examples/bench_parse_only: prost and snappy on
#                  the same stack), with its instructions over the sidecar's
# Each is the sidecar in --dry-run with no self metrics and a 600 s flush. Extra flags for the
# sidecar (a config with rules, say) go in CALLGRIND_FLAGS.
#
#   scripts/callgrind.sh             # all six
#   CALLGRIND_ONLY=record scripts/callgrind.sh
#   CALLGRIND_ONLY="otlp-http otlp-grpc remote-write" scripts/callgrind.sh
#   CALLGRIND_BIN_DIR=/tmp/base scripts/callgrind.sh    # binaries of another commit
# Installs valgrind from Debian's packages when missing; targets 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq valgrind >/dev/null; }
profile="${CALLGRIND_PROFILE:-release}"
only="${CALLGRIND_ONLY:-record post datagram otlp-http otlp-grpc remote-write}"
requests="${CALLGRIND_REQUESTS:-50}"
read -r -a extra <<<"${CALLGRIND_FLAGS:-}"
if [ -n "${CALLGRIND_BIN_DIR:-}" ]; then
  # Binaries built elsewhere (another commit, to compare in one run): cw-sidecar,
  # examples/statsd_blast, bench_load and bench_parse_only under this directory.
  dir="$CALLGRIND_BIN_DIR"
else
  cargo build --profile "$profile" --locked --bin cw-sidecar --example statsd_blast --example bench_load \
    --example bench_parse_only >&2
  dir="${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")"
fi
sidecar="$dir/cw-sidecar"
work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

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

port="${CALLGRIND_PORT:-26900}" # another base when another session runs it at the same time
# Runs the sidecar under callgrind, lets `load` drive it, stops it; prints its instructions.
run() { # load-function [sidecar flags...]
  local load=$1; shift
  port=$((port + 2))
  local out="$work/cg.$port"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$sidecar" --dry-run --listen "127.0.0.1:$port" \
    --namespace Bench --flush-interval 600s --self-metrics-namespace "" "${extra[@]}" "$@" >/dev/null 2>"$work/cg.log" &
  pid=$!
  for _ in $(seq 300); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "127.0.0.1:$port/healthz" >/dev/null || { cat "$work/cg.log" >&2; exit 1; }
  "$load"
  kill -INT "$pid"
  wait "$pid" || true
  pid=""
  awk '/^summary:/ {print $2}' "$out"
}
# The same for the decode-only baseline (its gRPC listener on the next port); SIGTERM ends it
# (a background job's SIGINT is ignored, and it has no handler of its own).
run_decode() { # load-function
  local load=$1
  port=$((port + 2))
  local out="$work/cg.$port"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$dir/examples/bench_parse_only" "127.0.0.1:$port" \
    "127.0.0.1:$((port + 1))" >/dev/null 2>"$work/cg.log" &
  pid=$!
  for _ in $(seq 300); do
    curl -sf -o /dev/null -H 'content-type: application/json' -d '[]' "127.0.0.1:$port/v1/metrics" && break
    sleep 0.1
  done
  "$load"
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  awk '/^summary:/ {print $2}' "$out"
}
idle() { :; }
bodies() {
  for _ in $(seq 20); do
    curl -s -o /dev/null -H 'content-type: application/json' --data-binary "@$work/batch.json" "127.0.0.1:$port/v1/metrics"
  done
}
posts() {
  python3 - "$port" "$work/one.json" <<'EOF'
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
body = open(sys.argv[2], "rb").read()
for _ in range(2000):
    conn.request("POST", "/v1/metrics", body, {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    assert r.status == 202, r.status
EOF
}
blast() { "$dir/examples/statsd_blast" "127.0.0.1:$((port + 1))" 5000 50 6 >/dev/null; sleep 1; }
sleep7() { sleep 7; }
# The protobuf requests of $kind, on the sidecar's API port or its gRPC listener (the next).
protobufs() {
  local target=$port out
  [ "$kind" = otlp-grpc ] && target=$((port + 1))
  out=$("$dir/examples/bench_load" proto-count "$kind" "http://127.0.0.1:$target" "$requests")
  case "$out" in
    "count $requests errors 0 non2xx 0 "*) ;;
    *) echo "$kind under callgrind: $out" >&2; kill -TERM "$pid"; exit 1 ;;
  esac
}
proto_idle=""
decode_idle=""

for what in $only; do
  case "$what" in
    record)
      base=$(run idle); busy=$(run bodies)
      printf '%-36s %10d   (%d - %d idle) / 20,000\n' "instructions per record (1000-record body)" $(((busy - base) / 20000)) "$busy" "$base" ;;
    post)
      base=$(run idle); busy=$(run posts)
      printf '%-36s %10d   (%d - %d idle) / 2,000\n' "instructions per single-record POST" $(((busy - base) / 2000)) "$busy" "$base" ;;
    datagram)
      base=$(run sleep7 --statsd-udp-address "127.0.0.1:$((port + 3))")
      busy=$(run blast --statsd-udp-address "127.0.0.1:$((port + 3))")
      printf '%-36s %10d   %d total / 30,000 (idle alike: %d)\n' "instructions per StatsD datagram" $((busy / 30000)) "$busy" "$base" ;;
    otlp-http | otlp-grpc | remote-write)
      grpc=(--otlp-grpc-listen "127.0.0.1:$((port + 3))")
      [ -n "$proto_idle" ] || proto_idle=$(run idle "${grpc[@]}")
      kind=$what
      busy=$(run protobufs "${grpc[@]}")
      points=$((requests * 100))
      printf 'instructions per point, %-12s %10d   (%d - %d idle) / %d points\n' "$kind" \
        $(((busy - proto_idle) / points)) "$busy" "$proto_idle" "$points"
      [ -n "$decode_idle" ] || decode_idle=$(run_decode idle)
      decode=$(run_decode protobufs)
      printf 'instructions per point, decode-only %-12s %10d   (%d - %d idle) / %d points: %s of the sidecar'"'"'s\n' \
        "$kind" $(((decode - decode_idle) / points)) "$decode" "$decode_idle" "$points" \
        "$(awk -v d=$((decode - decode_idle)) -v s=$((busy - proto_idle)) 'BEGIN { printf "%.0f%%", 100 * d / s }')" ;;
  esac
done
