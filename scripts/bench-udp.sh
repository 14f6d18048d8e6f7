#!/usr/bin/env bash
# StatsD over UDP under a bursty load: cw-sidecar in --dry-run, pinned to core 0, receives
# 100,000 datagrams/s (one line each) in bursts of 500 for 10 s from examples/statsd_blast.rs,
# pinned to core 1. Prints one table: datagrams sent, lines received and accepted, the
# drops by reason from /metrics (`kernel` = the socket's receive buffer overflowed), what was
# lost in total (sent - received) and the sidecar's CPU time per datagram (utime + stime from
# /proc/<pid>/stat, before and after the load), split by thread with its context switches.
#
#   scripts/bench-udp.sh                          # the kernel's default SO_RCVBUF
#   RCVBUF=8MiB scripts/bench-udp.sh              # with --statsd-receive-buffer-bytes
#   RATE=20000 BURST=500 SECONDS_=10 scripts/bench-udp.sh
# Not a test: it prints figures. Needs 2 cores; targets 127.0.0.1 only and stops only the
# processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."

rate="${RATE:-100000}"
burst="${BURST:-500}"
seconds="${SECONDS_:-10}"
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

cpu_ticks() { # utime + stime, in clock ticks
  [ -r "/proc/$1/stat" ] || { echo "the sidecar is gone; its log:" >&2; cat "$work/sidecar.log" >&2; exit 1; }
  awk '{print $14 + $15}' "/proc/$1/stat"
}
thread_ticks() { # pid -> "name ticks" per thread (the UDP reader, the processor, the runtime)
  for t in /proc/"$1"/task/*; do
    [ -r "$t/stat" ] || continue # a thread that ended meanwhile
    printf '%s %s %s\n' "$(tr ' ' '_' <"$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")" \
      "$(awk '/ctxt_switches/ {n += $2} END {print n}' "$t/status")"
  done
}
metric() { # family label -> value (0 when absent)
  awk -v want="cw_sidecar_$1{input=\"statsd\",$2}" '$1 == want {v = $2} END {print v + 0}' "$work/metrics"
}

before=$(cpu_ticks "$sidecar")
thread_ticks "$sidecar" >"$work/threads.before"
sent_line=$(taskset -c 1 "$release/examples/statsd_blast" "127.0.0.1:$udp_port" "$rate" "$burst" "$seconds")
# The reader counts the kernel's drops once a second: let it catch up and drain.
sleep 2
after=$(cpu_ticks "$sidecar")
thread_ticks "$sidecar" >"$work/threads.after"
curl -sf "127.0.0.1:$http_port/metrics" >"$work/metrics"
kill -INT "$sidecar"
wait "$sidecar" || true
pids=()

read -r _ sent _ failed _ elapsed <<<"$sent_line"
received=$(metric input_lines_total 'outcome="received"')
accepted=$(metric input_lines_total 'outcome="accepted"')
kernel=$(metric udp_dropped_total 'reason="kernel"')
buffer_full=$(metric udp_dropped_total 'reason="buffer_full"')
too_large=$(metric udp_dropped_total 'reason="too_large"')
shutting_down=$(metric udp_dropped_total 'reason="shutting_down"')
hz=$(getconf CLK_TCK)

row() { printf '%-50s %18s\n' "$1" "$2"; }
echo
row "StatsD over UDP, SO_RCVBUF" "${rcvbuf:-default (4MiB asked, rmem_max $(cat /proc/sys/net/core/rmem_max) B)}"
row "load (sender on core 1, sidecar on core 0)" "$rate/s, bursts of $burst, ${elapsed}s"
row "datagrams sent (send errors)" "$sent ($failed)"
row "lines received / accepted" "$received / $accepted"
row "dropped: kernel / buffer_full / too_large / shut" "$kernel / $buffer_full / $too_large / $shutting_down"
awk -v s="$sent" -v r="$received" 'BEGIN { printf "%-50s %18s\n", "lost (sent - received)", sprintf("%d (%.2f%%)", s - r, s ? 100 * (s - r) / s : 0) }'
awk -v t="$((after - before))" -v hz="$hz" -v s="$sent" \
  'BEGIN { printf "%-50s %18s\n", "sidecar CPU per datagram", sprintf("%.2f us", s ? t / hz * 1e6 / s : 0) }'
# Per thread: the socket reader (one recvfrom per datagram), the processor (parse, pipeline).
awk -v hz="$hz" -v s="$sent" 'NR == FNR { b[$1] += $2; bc[$1] += $3; next } { a[$1] += $2; ac[$1] += $3 }
  END { for (n in a) { d = a[n] - b[n]; if (d > 0) printf "%-50s %18s\n", "  thread " n " (context switches)",
    sprintf("%.2f us (%.2f)", d / hz * 1e6 / s, (ac[n] - bc[n]) / s) } }' \
  "$work/threads.before" "$work/threads.after" | sort
