#!/usr/bin/env bash
# StatsD over UDP under a bursty load: cw-sidecar in --dry-run, pinned to core 0, receives
# 100,000 datagrams/s (one line each) in bursts of 500 for 10 s from examples/statsd_blast.rs,
# pinned to core 1, in ROUNDS (3) rounds against the same sidecar. Prints per round: datagrams
# sent, lines received and accepted, the drops by reason from /metrics (`kernel` = the socket's
# receive buffer overflowed), what was lost (sent - received) and the sidecar's CPU time per
# datagram (each thread's on-CPU nanoseconds from /proc/<pid>/task/*/schedstat, before and
# after the load), split by thread with its context switches; then over all rounds: what was
# lost, and the median CPU time per datagram with the lowest and highest round.
#
#   scripts/bench-udp.sh                          # the kernel's default SO_RCVBUF
#   RCVBUF=8MiB scripts/bench-udp.sh              # with --statsd-receive-buffer-bytes
#   RATE=20000 BURST=500 SECONDS_=10 ROUNDS=1 scripts/bench-udp.sh
# Not a test: it prints figures. Needs 2 cores; targets 127.0.0.1 only and stops only the
# processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."

rate="${RATE:-100000}"
burst="${BURST:-500}"
seconds="${SECONDS_:-10}"
rounds="${ROUNDS:-3}"
rcvbuf="${RCVBUF:-}"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for tool in taskset curl; do
  command -v "$tool" >/dev/null || { echo "bench-udp.sh needs $tool" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
  echo "bench-udp.sh needs 2 cores (sidecar and sender on separate cores)" >&2
  exit 1
fi

profile="${BENCH_PROFILE:-release}" # scripts/bench.sh's quick mode passes dev
cargo build --profile "$profile" --locked --bin cw-sidecar --example statsd_blast >&2
if [ "$profile" = dev ]; then release="${CARGO_TARGET_DIR:-target}/debug"; else release="${CARGO_TARGET_DIR:-target}/$profile"; fi

http_port=26201
udp_port=26202
args=(--dry-run --listen "127.0.0.1:$http_port" --namespace Bench --self-metrics-namespace ""
  --statsd-udp-address "127.0.0.1:$udp_port")
[ -n "$rcvbuf" ] && args+=(--statsd-receive-buffer-bytes "$rcvbuf")
taskset -c 0 "$release/cw-sidecar" "${args[@]}" >/dev/null 2>"$work/sidecar.log" &
sidecar=$!
pids+=("$sidecar")
for _ in $(seq 100); do curl -sf "127.0.0.1:$http_port/healthz" >/dev/null && break; sleep 0.05; done
curl -sf "127.0.0.1:$http_port/healthz" >/dev/null || { echo "the sidecar did not start:" >&2; cat "$work/sidecar.log" >&2; exit 1; }

# On-CPU time per thread: the scheduler's own nanoseconds (schedstat) where the kernel keeps
# them, else utime + stime in clock ticks. `name ns switches` per thread.
hz=$(getconf CLK_TCK)
thread_cpu() {
  [ -r "/proc/$1/stat" ] || { echo "the sidecar is gone; its log:" >&2; cat "$work/sidecar.log" >&2; exit 1; }
  for t in /proc/"$1"/task/*; do
    [ -r "$t/stat" ] || continue # a thread that ended meanwhile
    local ns
    if [ -r "$t/schedstat" ]; then ns=$(awk '{print $1}' "$t/schedstat")
    else ns=$(awk -v hz="$hz" '{printf "%.0f", ($14 + $15) * 1e9 / hz}' "$t/stat"); fi
    printf '%s %s %s\n' "$(tr ' ' '_' <"$t/comm")" "$ns" \
      "$(awk '/ctxt_switches/ {n += $2} END {print n}' "$t/status")"
  done
}
metric() { # family label -> value (0 when absent)
  awk -v want="cw_sidecar_$1{input=\"statsd\",$2}" '$1 == want {v = $2} END {print v + 0}' "$work/metrics"
}
counters() { # received kernel buffer_full too_large shutting_down accepted
  curl -sf "127.0.0.1:$http_port/metrics" >"$work/metrics"
  echo "$(metric input_lines_total 'outcome="received"') $(metric udp_dropped_total 'reason="kernel"')" \
    "$(metric udp_dropped_total 'reason="buffer_full"') $(metric udp_dropped_total 'reason="too_large"')" \
    "$(metric udp_dropped_total 'reason="shutting_down"') $(metric input_lines_total 'outcome="accepted"')"
}

row() { printf '%-50s %18s\n' "$1" "$2"; }
echo
row "StatsD over UDP, SO_RCVBUF" "${rcvbuf:-default (4MiB asked, rmem_max $(cat /proc/sys/net/core/rmem_max) B)}"
row "load (sender on core 1, sidecar on core 0)" "$rate/s, bursts of $burst, ${seconds}s, $rounds round(s)"
# Each round: the same load against the same sidecar, measured on its own (this machine's
# neighbours move one round's CPU figure by up to a third: the median of the rounds is the figure).
: >"$work/rounds"
for round in $(seq "$rounds"); do
  read -r r0 k0 b0 t0 s0 a0 <<<"$(counters)"
  thread_cpu "$sidecar" >"$work/threads.before"
  sent_line=$(taskset -c 1 "$release/examples/statsd_blast" "127.0.0.1:$udp_port" "$rate" "$burst" "$seconds")
  # The reader counts the kernel's drops once a second: let it catch up and drain.
  sleep 2
  thread_cpu "$sidecar" >"$work/threads.after"
  read -r r1 k1 b1 t1 s1 a1 <<<"$(counters)"
  read -r _ sent _ failed _ elapsed <<<"$sent_line"
  received=$((r1 - r0))
  # Per thread: the socket reader (recvmmsg), the processor (parse, pipeline); first the total.
  awk -v s="$sent" 'NR == FNR { b[$1] += $2; bc[$1] += $3; next } { a[$1] += $2; ac[$1] += $3 }
    END { for (n in a) { d = a[n] - b[n]; t += d
            if (d > 5 * s) o = o sprintf("%s %.2f %.1f\n", n, d / 1e3 / s, (ac[n] - bc[n]) * 1000 / s) }
          printf "total %.3f\n%s", s ? t / 1e3 / s : 0, o }' \
    "$work/threads.before" "$work/threads.after" >"$work/cpu"
  cpu=$(awk '$1 == "total" {print $2}' "$work/cpu")
  echo "$sent $received $((k1 - k0)) $cpu" >>"$work/rounds"
  echo
  row "round $round: datagrams sent (send errors)" "$sent ($failed) in ${elapsed}s"
  row "  lines received / accepted" "$received / $((a1 - a0))"
  row "  dropped: kernel / buffer_full / too_large / shut" "$((k1 - k0)) / $((b1 - b0)) / $((t1 - t0)) / $((s1 - s0))"
  row "  lost (sent - received)" "$((sent - received))"
  row "  sidecar CPU per datagram" "$(awk -v c="$cpu" 'BEGIN {printf "%.2f us", c}')"
  while read -r thread us switches; do
    [ "$thread" = total ] || row "    thread $thread (switches per 1000)" "$us us ($switches)"
  done <"$work/cpu"
done
kill -INT "$sidecar"
wait "$sidecar" || true
pids=()

echo
sort -n -k4 "$work/rounds" | awk '{ sent += $1; lost += $1 - $2; kernel += $3; cpu[NR] = $4 } END {
  med = NR % 2 ? cpu[(NR + 1) / 2] : (cpu[NR / 2] + cpu[NR / 2 + 1]) / 2
  printf "%-50s %18s\n", "all rounds: datagrams sent / lost / kernel drops", sprintf("%d / %d / %d", sent, lost, kernel)
  printf "%-50s %18s\n", "all rounds: lost", sprintf("%.2f%%", sent ? 100 * lost / sent : 0)
  printf "%-50s %18s\n", "sidecar CPU per datagram, median of the rounds", sprintf("%.2f us", med)
  printf "%-50s %18s\n", "sidecar CPU per datagram, lowest / highest round", sprintf("%.2f / %.2f us", cpu[1], cpu[NR]) }'
