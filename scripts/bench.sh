#!/usr/bin/env bash
# Throughput of cw-sidecar's HTTP ingest beside two baselines, measured in one run:
#   bare        axum answering 202 without reading the body (examples/bench_bare.rs)
#   parse-only  axum parsing the same bodies with serde_json into a borrowed struct
#               (examples/bench_parse_only.rs): the physical limit for this work
#   cw-sidecar  --dry-run, 60 s flush, no self metrics; then the same with the disk spool on
#               (sync = always), compared with itself without it
# Each server is pinned to core 0 (so its runtime has one worker) and wrk to core 1, with
# 32 connections; figures are ratios within this run, never absolute claims. For each server
# and body, examples/bench_load.rs (core 1, 32 connections) then sends half of the req/s wrk
# measured, at a fixed rate, and reports p50 and p99 latency from each request's scheduled
# time. The same for protobuf bodies of 100 data points (OTLP over HTTP and over gRPC, and
# remote-write), sent by bench_load itself (32 senders as fast as answered, then at half that
# rate), on cw-sidecar beside the decode-only baseline: bench_parse_only decoding the same
# bodies with prost (and snappy) on the same stack. Then, on cw-sidecar alone: its RSS idle and with many active series, its startup time
# to ready, and its PutMetricData calls over their lower bound for 25,000 series-windows.
# valgrind's callgrind counts instructions per record on the 1000-record path, and per data
# point of the protobuf loads (scripts/callgrind.sh): those counts are stable from run to run
# and are what a change to the hot path is judged by. Last, the UDP
# figures of scripts/bench-udp.sh. docs/performance.md says how each figure is measured.
#
#   scripts/bench.sh                 # full run (about 5 minutes after the release build)
#   BENCH_SECONDS=2 scripts/bench.sh # shorter loads
#   BENCH_QUICK=1 scripts/bench.sh   # smoke run: 1 s loads, 10k series instead of 1M, a dev
#                                    # build (BENCH_PROFILE=release to override), short UDP
# Needs 2 cores; installs wrk and valgrind from Debian's packages when missing. Targets only
# 127.0.0.1 and stops every server it started.
set -euo pipefail
cd "$(dirname "$0")/.."

quick="${BENCH_QUICK:-0}"
if [ "$quick" = 1 ]; then
  seconds="${BENCH_SECONDS:-1}"
  profile="${BENCH_PROFILE:-dev}"
  series_sizes=(10000 100000) # RSS at these many active series (ascending)
  callgrind_requests=2
  startup_runs=3
else
  seconds="${BENCH_SECONDS:-8}"
  profile="${BENCH_PROFILE:-release}"
  series_sizes=(100000 1000000)
  callgrind_requests=20
  startup_runs=7
fi
values_per_series=20
pmd_series=25000
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

cargo build --profile "$profile" --locked --bin cw-sidecar --example bench_bare --example bench_parse_only \
  --example bench_load >&2
if [ "$profile" = dev ]; then release="${CARGO_TARGET_DIR:-target}/debug"; else release="${CARGO_TARGET_DIR:-target}/$profile"; fi
sidecar="$release/cw-sidecar"
bench_load="$release/examples/bench_load"

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

port="${BENCH_PORT:-26100}" # another base when another session runs it at the same time
start_server() { # name command... -> sets $url
  port=$((port + 2)) # the next one for a gRPC listener
  local name=$1; shift
  case "$name" in
    sidecar) taskset -c 0 "$@" --dry-run --listen "127.0.0.1:$port" --namespace Bench --flush-interval 60s \
               --self-metrics-namespace "" >/dev/null 2>"$work/$name.log" & ;;
    # The same with the disk spool on (sync = always: each answer waits for its fsync, shared by
    # the requests that queued meanwhile), in the work directory (on disk, not tmpfs).
    spool) rm -rf "$work/spool"
           taskset -c 0 "$@" --dry-run --listen "127.0.0.1:$port" --namespace Bench --flush-interval 60s \
             --self-metrics-namespace "" --spool-dir "$work/spool" --spool-max-bytes 8GiB >/dev/null 2>"$work/$name.log" & ;;
    # The protobuf loads' servers, with a gRPC listener on the next port.
    sidecar-proto) taskset -c 0 "$@" --dry-run --listen "127.0.0.1:$port" --otlp-grpc-listen "127.0.0.1:$((port + 1))" \
                     --namespace Bench --flush-interval 60s --self-metrics-namespace "" >/dev/null 2>"$work/$name.log" & ;;
    decode) taskset -c 0 "$@" "127.0.0.1:$port" "127.0.0.1:$((port + 1))" >/dev/null 2>"$work/$name.log" & ;;
    *) taskset -c 0 "$@" "127.0.0.1:$port" >/dev/null 2>"$work/$name.log" & ;;
  esac
  pids+=($!)
  url="http://127.0.0.1:$port/v1/metrics"
  base_url="http://127.0.0.1:$port"
  grpc_url="http://127.0.0.1:$((port + 1))"
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

# p50, p99 and the rate achieved at half of the measured req/s, open loop (bench_load)
half_load() { # url body req/s -> "rate p50_us p99_us"
  local half out
  half=$(awk -v r="$3" 'BEGIN { h = int(r / 2); print (h < 1 ? 1 : h) }')
  out=$(taskset -c 1 "$bench_load" rate "$1" "$work/$2.json" 32 "$half" "$seconds")
  read -r _ _ _ errors _ non2xx _ achieved _ p50 _ p99 _ _ <<<"$out"
  if [ "$errors" != 0 ] || [ "$non2xx" != 0 ]; then
    echo "errors or non-2xx answers at half load: $out" >&2
    exit 1
  fi
  echo "$half $achieved $p50 $p99"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A rps p99 half achieved p50h p99h
for server in bare parse sidecar spool; do
  case "$server" in
    bare) start_server bare "$release/examples/bench_bare" ;;
    parse) start_server parse "$release/examples/bench_parse_only" ;;
    sidecar | spool) start_server "$server" "$sidecar" ;;
  esac
  for body in one batch; do
    [ "$server" = bare ] && [ "$body" = batch ] && continue
    read -r r l < <(load "$url" "$body")
    rps[$server-$body]=$r
    p99[$server-$body]=$l
    read -r h a p50 p99_ < <(half_load "$url" "$body" "$r")
    half[$server-$body]=$h
    achieved[$server-$body]=$a
    p50h[$server-$body]=$p50
    p99h[$server-$body]=$p99_
  done
  stop_server
done

# The protobuf loads: data points per second as fast as answered, then p50 and p99 at half
# that rate; the load generator's own CPU is kept to show it was not the bottleneck.
proto_kinds=(otlp-http otlp-grpc remote-write)
proto_load() { # kind url req/s -> "req/s p50_us p99_us points/s cpu%"
  local out
  out=$(taskset -c 1 "$bench_load" proto "$1" "$2" 32 "$3" "$seconds")
  read -r _ _ _ errors _ non2xx _ r _ p50 _ p99_ _ _ _ points _ cpu <<<"$out"
  if [ "$errors" != 0 ] || [ "$non2xx" != 0 ]; then
    echo "errors or failed answers for $1 (rate $3, 0 = as fast as answered): $out" >&2
    exit 1
  fi
  echo "$r $p50 $p99_ $points $cpu"
}
declare -A load_cpu
for server in decode sidecar-proto; do
  case "$server" in
    decode) start_server decode "$release/examples/bench_parse_only" ;;
    sidecar-proto) start_server sidecar-proto "$sidecar" ;;
  esac
  for kind in "${proto_kinds[@]}"; do
    target=$base_url
    [ "$kind" = otlp-grpc ] && target=$grpc_url
    read -r r _ l points cpu < <(proto_load "$kind" "$target" 0)
    rps[$server-$kind]=$points
    p99[$server-$kind]=$(awk -v us="$l" 'BEGIN { printf "%.2fms", us / 1000 }')
    load_cpu[$server-$kind]=$cpu
    h=$(awk -v r="$r" 'BEGIN { h = int(r / 2); print (h < 1 ? 1 : h) }')
    read -r a p50 p99_ _ _ < <(proto_load "$kind" "$target" "$h")
    half[$server-$kind]=$h
    achieved[$server-$kind]=$a
    p50h[$server-$kind]=$p50
    p99h[$server-$kind]=$p99_
  done
  if [ "$server" = sidecar-proto ]; then
    # Every point was taken: none rejected, no sample ignored as out of order.
    lost=$(curl -sf "$base_url/metrics" | awk '/^cw_sidecar_(otlp_points_total|remote_write_samples_total)\{.*outcome="(rejected|ignored|refused)"/ {v += $2} END {print v + 0}')
    [ "$lost" = 0 ] || { echo "cw-sidecar rejected or ignored $lost points of the protobuf loads" >&2; exit 1; }
  fi
  stop_server
done
declare -A cg_point cg_decode cg_ratio
proto_cg=$(CALLGRIND_ONLY="${proto_kinds[*]}" CALLGRIND_BIN_DIR="$release" CALLGRIND_REQUESTS="$callgrind_requests" \
  scripts/callgrind.sh)
for kind in "${proto_kinds[@]}"; do
  cg_point[$kind]=$(awk -v k="$kind" '$3 == "point," && $4 == k {print $5}' <<<"$proto_cg")
  cg_decode[$kind]=$(awk -v k="$kind" '$4 == "decode-only" && $5 == k {print $6}' <<<"$proto_cg")
  cg_ratio[$kind]=$(awk -v k="$kind" '$4 == "decode-only" && $5 == k {print $(NF - 3)}' <<<"$proto_cg")
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
requests=$callgrind_requests
idle=$(callgrind_total 0)
busy=$(callgrind_total "$requests")
per_record=$(( (busy - idle) / (requests * 1000) ))

metric_sum() { # family -> the sum of its samples on /metrics
  curl -sf "$1/metrics" | awk -v f="cw_sidecar_$2" 'index($1, f) == 1 && substr($1, length(f) + 1, 1) ~ /[{ ]|^$/ {v += $2} END {print v + 0}'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# RSS: idle, then with series_sizes active series of 20 distinct values each, all in one
# window (a 1 h flush; nothing leaves before the measurement). Filled by bench_load on core 1
# in 1000-record bodies over 4 connections. The series budget is raised to cover them (one
# metric, Fill), so its own memory per series is in the figure.
max_series=${series_sizes[-1]}
port=$((port + 1))
taskset -c 0 "$sidecar" --dry-run --listen "127.0.0.1:$port" --namespace Bench --flush-interval 1h \
  --self-metrics-namespace "" --max-buffered-datums $((max_series * 2)) --max-memory none \
  --cardinality-max-series "$max_series" --cardinality-max-series-per-metric "$max_series" >/dev/null 2>"$work/rss.log" &
rss_pid=$!
pids+=("$rss_pid")
base="http://127.0.0.1:$port"
for _ in $(seq 200); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.05; done
sleep 1
declare -A rss
rss[idle]=$(rss_kb "$rss_pid")
filled=0
fills=""
for n in "${series_sizes[@]}"; do
  out=$(taskset -c 1 "$bench_load" fill "$base/v1/metrics" "$filled" $((n - filled)) "$values_per_series" 4)
  read -r _ records _ _ _ errors _ non2xx _ fill_seconds <<<"$out"
  fills+="${fills:+, }$((n - filled)) series in ${fill_seconds} s"
  if [ "$errors" != 0 ] || [ "$non2xx" != 0 ] || [ "$records" != $(((n - filled) * values_per_series)) ]; then
    echo "filling $n series failed: $out" >&2
    cat "$work/rss.log" >&2
    exit 1
  fi
  filled=$n
  active=$(metric_sum "$base" active_series)
  [ "$active" = "$n" ] || { echo "expected $n active series, /metrics says $active" >&2; exit 1; }
  rss[$n]=$(rss_kb "$rss_pid")
done
# SIGKILL: a graceful stop would publish every buffered window to /dev/null first.
kill -KILL "$rss_pid" 2>/dev/null || true
wait "$rss_pid" 2>/dev/null || true
unset 'pids[-1]'

# Startup to ready: from the spawn to the first GET /readyz answered 200, polled in a tight
# loop from core 1; the sidecar pinned to core 0 between fork and exec.
port=$((port + 1))
read -r _ _ _ startup_median _ startup_min _ startup_max < <(taskset -c 1 "$bench_load" startup "$startup_runs" "$port" \
  0 "$sidecar" --dry-run --namespace Bench --self-metrics-namespace "")
port=$((port + startup_runs))

# PutMetricData calls for 25,000 series-windows (20 distinct values each), flushed once by
# POST /v1/flush; the calls are counted on /metrics, and the dry-run output (one request per
# line) gives the datums and their sizes for the lower bound.
port=$((port + 1))
taskset -c 0 "$sidecar" --dry-run --listen "127.0.0.1:$port" --namespace Bench --flush-interval 1h \
  --self-metrics-namespace "" --max-put-requests-per-second 1000 \
  --cardinality-max-series "$pmd_series" --cardinality-max-series-per-metric "$pmd_series" >"$work/pmd.out" 2>"$work/pmd.log" &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 200); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.05; done
out=$(taskset -c 1 "$bench_load" fill "$base/v1/metrics" 0 "$pmd_series" "$values_per_series" 4)
read -r _ records _ _ _ errors _ non2xx _ _ <<<"$out"
[ "$errors" = 0 ] && [ "$non2xx" = 0 ] || { echo "filling $pmd_series series failed: $out" >&2; exit 1; }
curl -sf -X POST "$base/v1/flush" >/dev/null || { echo "POST /v1/flush failed" >&2; cat "$work/pmd.log" >&2; exit 1; }
pmd_calls=$(metric_sum "$base" put_metric_data_calls_total)
stop_server
# The lower bound: each series-window needs a datum; a request holds at most 1000 datums and
# 1,000,000 bytes. The datums' bytes are taken from their JSON (the dry-run's), which is larger
# than the SDK's CBOR: when even that bound is below the count's, the count's is exact.
read -r pmd_bound pmd_detail < <(python3 - "$work/pmd.out" "$pmd_series" <<'EOF'
import json, math, sys
datums, size, lines = 0, 0, 0
for line in open(sys.argv[1]):
    request = json.loads(line)
    lines += 1
    for d in request["MetricData"]:
        datums += 1
        size += len(json.dumps(d, separators=(",", ":")))
windows = int(sys.argv[2])
by_count = math.ceil(max(windows, 1) / 1000)
by_bytes = math.ceil(size / 1_000_000)
print(max(by_count, by_bytes), f"{windows}_windows,{datums}_datums,{size}_JSON_bytes,{lines}_requests_printed")
EOF
)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
records() { awk -v a="$1" 'BEGIN { printf "%.0f", a * 1000 }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2fms", us / 1000 }'; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb * 1.024 / 1000 }'; }
row() { # label per-second p99 ratio key
  printf '%-42s %14s %10s %20s %14s %10s %10s\n' "$1" "$2" "$3" "$4" \
    "${half[$5]} (${achieved[$5]})" "$(ms "${p50h[$5]}")" "$(ms "${p99h[$5]}")"
}
echo
echo "load average (1, 5, 15 min) before the loads: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-42s %14s %10s %20s %14s %10s %10s\n' "load (server on core 0, load on core 1)" "per second" "p99 @max" \
  "ratio" "half (got) req/s" "p50 @half" "p99 @half"
row "one record per POST: bare axum" "${rps[bare-one]} req" "${p99[bare-one]}" "" bare-one
row "one record per POST: parse-only" "${rps[parse-one]} req" "${p99[parse-one]}" \
  "$(ratio "${rps[parse-one]}" "${rps[bare-one]}") of bare" parse-one
row "one record per POST: cw-sidecar" "${rps[sidecar-one]} req" "${p99[sidecar-one]}" \
  "$(ratio "${rps[sidecar-one]}" "${rps[bare-one]}") of bare" sidecar-one
row "1000 records per POST: parse-only" "$(records "${rps[parse-batch]}") rec" "${p99[parse-batch]}" "" parse-batch
row "1000 records per POST: cw-sidecar" "$(records "${rps[sidecar-batch]}") rec" "${p99[sidecar-batch]}" \
  "$(ratio "${rps[sidecar-batch]}" "${rps[parse-batch]}") of parse-only" sidecar-batch
row "one record per POST: spool, sync always" "${rps[spool-one]} req" "${p99[spool-one]}" \
  "$(ratio "${rps[spool-one]}" "${rps[sidecar-one]}") of spool off" spool-one
row "1000 records per POST: spool, sync always" "$(records "${rps[spool-batch]}") rec" "${p99[spool-batch]}" \
  "$(ratio "${rps[spool-batch]}" "${rps[sidecar-batch]}") of spool off" spool-batch
proto_rows() { # kind label
  row "$2: decode-only" "${rps[decode-$1]} pts" "${p99[decode-$1]}" "" "decode-$1"
  row "$2: cw-sidecar" "${rps[sidecar-proto-$1]} pts" "${p99[sidecar-proto-$1]}" \
    "$(ratio "${rps[sidecar-proto-$1]}" "${rps[decode-$1]}") of decode-only" "sidecar-proto-$1"
}
proto_rows otlp-http "OTLP/HTTP protobuf"
proto_rows otlp-grpc "OTLP/gRPC"
proto_rows remote-write "remote-write 1.0"
echo "  (protobuf: 100 data points per request, goal >= 70% of decode-only; load generator CPU at max, decode-only / cw-sidecar:" \
  "OTLP/HTTP ${load_cpu[decode-otlp-http]}% / ${load_cpu[sidecar-proto-otlp-http]}%," \
  "gRPC ${load_cpu[decode-otlp-grpc]}% / ${load_cpu[sidecar-proto-otlp-grpc]}%," \
  "remote-write ${load_cpu[decode-remote-write]}% / ${load_cpu[sidecar-proto-remote-write]}%)"
printf '%-42s %14s\n' "instructions per record (callgrind)" "$per_record"
cg_row() { # kind label
  printf '%-42s %14s %10s %20s\n' "instructions per point: $2" "${cg_point[$1]}" "" \
    "decode-only ${cg_decode[$1]} (${cg_ratio[$1]})"
}
cg_row otlp-http "OTLP/HTTP protobuf"
cg_row otlp-grpc "OTLP/gRPC"
cg_row remote-write "remote-write"
printf '%-42s %14s %10s %20s\n' "RSS idle (VmRSS after start)" "$(mb "${rss[idle]}")" "" "goal <= 15 MB"
for n in "${series_sizes[@]}"; do
  goal=""
  [ "$n" = 100000 ] && goal="goal <= 100 MB"
  printf '%-42s %14s %10s %20s\n' "RSS at $n active series x $values_per_series values" "$(mb "${rss[$n]}")" "" "$goal"
done
echo "  (RSS fills, $values_per_series values per series in 1000-record bodies: $fills)"
per_series=$(( (rss[$max_series] - rss[idle]) * 1024 / max_series ))
printf '%-42s %14s %10s %20s\n' "memory per active series (at $max_series)" "$per_series B" "" "goal <= 400 B"
printf '%-42s %14s %10s %20s\n' "startup to ready (median of $startup_runs)" "${startup_median} ms" "" \
  "min $startup_min, max $startup_max"
printf '%-42s %14s %10s %20s\n' "PutMetricData calls / lower bound" "$pmd_calls / $pmd_bound" "" \
  "$(awk -v a="$pmd_calls" -v b="$pmd_bound" 'BEGIN { printf "%.2f", a / b }') (goal <= 1.05)"
echo "  (PutMetricData: ${pmd_detail//_/ })"

# The UDP figures (StatsD): scripts/bench-udp.sh, its own table.
if [ "$quick" = 1 ]; then
  BENCH_PROFILE="$profile" RATE=20000 SECONDS_=1 ROUNDS=1 scripts/bench-udp.sh
else
  BENCH_PROFILE="$profile" scripts/bench-udp.sh
fi
