#!/usr/bin/env bash
# The container image, built from the repository's Dockerfile and tested here with podman:
#   1. builds the release binary, a runtime base stand-in (FROM scratch: the libraries `ldd`
#      lists, the dynamic loader, the CA bundle, /etc/passwd with uid 65532), since registry
#      images cannot be pulled here, and the Dockerfile on it as cw-sidecar:test;
#   2. checks that the image runs as a non-root user (the image's USER and the process's uid),
#      as PID 1, listening on 127.0.0.1 only; that its HEALTHCHECK passes, and fails against an
#      address nothing listens on; that a POSTed record is published (dry-run stdout); that
#      SIGTERM to PID 1 publishes every sample accepted (counts compared); that the spool
#      volume is writable by the image's user and that after kill -9 and a restart on the same
#      volume every acknowledged sample is published;
#   3. prints the image's size (goal: 25 MB or less). A figure, not a test.
#
# podman runs with vfs storage and runc (crun fails on this host's cgroups), builds with
# --format docker (the OCI format drops HEALTHCHECK), runs containers with --network host
# (their 127.0.0.1 is the host's) and rlimits no higher than the host's. podman, buildah and
# runc are installed with apt-get when missing. The script removes what it made, by name:
# its containers, its volume, the stand-in and cw-sidecar:test (KEEP_IMAGE=1 keeps the last).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

P=(podman_quiet --storage-driver vfs --runtime runc)
RUN=(--network host --ulimit nofile=1024:1024 --ulimit nproc=1000:1000)
IMAGE=cw-sidecar:test
TAG=cw-sidecar-imgtest-$$
BASE=localhost/$TAG-base:latest
SPOOL=/var/lib/cw-sidecar/spool # the Dockerfile's spool directory
NS=ImageTest
containers=() # what fail() shows the logs of and cleanup() removes

# podman, less its complaint on every run of an image with a HEALTHCHECK that there is no
# systemd to time the checks (podman healthcheck run runs them here).
podman_quiet() { podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

section() { printf '\n==== %s ====\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  for c in "${containers[@]}"; do
    echo "--- last log lines of container $c" >&2
    "${P[@]}" logs --tail 20 "$c" 2>&1 | cut -c1-300 >&2 || true
  done
  exit 1
}

missing=()
for tool in podman buildah runc; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    section "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends podman buildah runc >/dev/null ||
      { apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends podman buildah runc >/dev/null; } ||
      fail "apt-get install podman buildah runc"
  else
    fail "missing ${missing[*]}: install podman, buildah and runc (Debian: apt-get install podman buildah runc)"
  fi
fi
for tool in curl python3 ss; do command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed"; done

volume=""
work=$(mktemp -d "${TMPDIR:-/tmp}/cw-sidecar-image.XXXXXX")
cleanup() {
  local rc=$?
  set +e
  for c in "${containers[@]}"; do "${P[@]}" rm -f -t 0 "$c" >/dev/null 2>&1; done
  [[ -n $volume ]] && "${P[@]}" volume rm -f "$volume" >/dev/null 2>&1
  [[ ${KEEP_IMAGE:-0} == 1 ]] || "${P[@]}" rmi -f "$IMAGE" >/dev/null 2>&1
  "${P[@]}" rmi -f "$BASE" >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Samples published to namespace $2 in container $1's dry-run stdout: the sum of Counts
# (one per value when absent), or SampleCount for statistic sets.
published() {
  "${P[@]}" logs "$1" 2>/dev/null | python3 -c '
import json, sys
total = 0
for line in sys.stdin:
    if not line.startswith("{\"Namespace\""):
        continue
    request = json.loads(line)
    if request["Namespace"] != sys.argv[1]:
        continue
    for datum in request["MetricData"]:
        if "StatisticValues" in datum:
            total += datum["StatisticValues"]["SampleCount"]
        else:
            total += sum(datum.get("Counts") or [1] * len(datum["Values"]))
print(int(total))' "$2"
}

# POSTs $3 bodies of $4 valid records each (and one invalid, rejected) to port $1, metric
# $2, over 50 series; prints the number of records the sidecar answered accepted.
post_load() {
  python3 - "$@" <<'EOF'
import json, random, sys, urllib.request
port, metric, bodies, per_body = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
accepted = 0
for b in range(bodies):
    records = [{"name": metric, "value": random.uniform(0, 1000), "unit": "Milliseconds",
                "dimensions": {"Shard": str((b * per_body + i) % 50)}} for i in range(per_body)]
    records.append({"name": "", "value": 1})  # rejected: the count compared is the answer's
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/metrics", json.dumps(records).encode(),
                                 {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as answer:
        body = json.load(answer)
    if len(body["rejected"]) != 1:
        sys.exit(f"expected the one invalid record rejected, got {body}")
    accepted += body["accepted"]
print(accepted)
EOF
}

wait_ready() { # container, port
  for _ in $(seq 1 100); do
    curl -fsS --max-time 1 "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    [[ $("${P[@]}" inspect --format '{{.State.Running}}' "$1") == true ]] || fail "container $1 exited before answering /healthz"
    sleep 0.2
  done
  fail "container $1 did not answer /healthz on 127.0.0.1:$2 within 20 s"
}

exit_code() { # container: waits (60 s at most) for it to stop, prints its exit code
  timeout 60 podman --storage-driver vfs --runtime runc wait "$1" || fail "container $1 did not stop within 60 s"
}

# Starts a detached container $1 on port $2; the rest are podman run options, then `--`, then
# the sidecar's arguments.
start() {
  local name=$1 port=$2
  shift 2
  containers+=("$name")
  "${P[@]}" run -d --name "$name" "${RUN[@]}" -e "CW_SIDECAR_LISTEN=127.0.0.1:$port" "$@" >/dev/null ||
    fail "podman run $name"
  wait_ready "$name" "$port"
}

section "1/3 build: the release binary, the base stand-in, the Dockerfile"
target=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --locked --quiet --bin cw-sidecar
bin=$target/release/cw-sidecar

mkdir -p "$work/base/rootfs/etc/ssl/certs" "$work/base/rootfs/tmp"
chmod 1777 "$work/base/rootfs/tmp"
for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do cp --parents -L "$lib" "$work/base/rootfs/"; done
cp -L /etc/ssl/certs/ca-certificates.crt "$work/base/rootfs/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/base/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/base/rootfs/etc/group"
printf 'FROM scratch\nCOPY rootfs/ /\n' >"$work/base/Containerfile"
"${P[@]}" build --quiet --format docker -t "$BASE" "$work/base" >/dev/null || fail "building the base stand-in"
echo "base stand-in $BASE: $(ldd "$bin" | grep -oE '/[^ ]+' | xargs -n1 basename | tr '\n' ' ')+ CA bundle, passwd"

# The repository is the context (its .dockerignore sends the binary and docker/empty only);
# with a target folder elsewhere, a copy of the same layout.
context=$ROOT
if [[ $(realpath "$bin") != "$ROOT/target/release/cw-sidecar" ]]; then
  context=$work/context
  mkdir -p "$context/target/release" "$context/docker/empty"
  cp "$bin" "$context/target/release/"
  cp "$ROOT/.dockerignore" "$context/"
fi
"${P[@]}" build --format docker --build-arg "RUNTIME_IMAGE=$BASE" -t "$IMAGE" -f "$ROOT/Dockerfile" "$context" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; fail "podman build of Dockerfile"; }
ok "built $IMAGE from Dockerfile"

section "2/3 run and check"
user=$("${P[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
[[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] || fail "the image's USER is '$user', not a non-root user"
health=$("${P[@]}" image inspect --format '{{json .HealthCheck}}' "$IMAGE")
[[ $health == *'"Test":["CMD","/usr/local/bin/cw-sidecar","healthcheck"]'* ]] ||
  fail "the image has no HEALTHCHECK running cw-sidecar healthcheck (inspect: $health)"
ok "image USER $user; HEALTHCHECK $health"
listen=$("${P[@]}" run --rm "${RUN[@]}" "$IMAGE" --print-config | grep -E '^listen = ' || true)
[[ $listen == 'listen = "127.0.0.1:25889"' ]] || fail "the image's effective listen is '$listen', not 127.0.0.1:25889"
ok "the image's configuration listens on 127.0.0.1:25889 unless told otherwise"

port=$(free_port)
run=$TAG-run
start "$run" "$port" "$IMAGE" --dry-run --namespace "$NS" --flush-interval 1h
pid=$("${P[@]}" inspect --format '{{.State.Pid}}' "$run")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$pid/status")
[[ $uid == "${user%%:*}" && $uid != 0 ]] || fail "the sidecar runs as uid $uid, not the image's user $user"
[[ $nspid == 1 ]] || fail "the sidecar is PID $nspid in its container, not PID 1"
ok "the sidecar runs as uid $uid, PID 1 in its container"
sockets=$(ss -H -ltn "sport = :$port" | awk '{print $4}' | sort -u | paste -sd ' ')
[[ $sockets == "127.0.0.1:$port" ]] || fail "listening on '$sockets', not only 127.0.0.1:$port"
ok "listening on $sockets"

"${P[@]}" healthcheck run "$run" >"$work/health.out" 2>&1 || { cat "$work/health.out" >&2; fail "podman healthcheck run $run"; }
status=$("${P[@]}" inspect --format '{{.State.Health.Status}}' "$run")
[[ $status == healthy ]] || fail "health status '$status' after podman healthcheck run, not healthy"
ok "HEALTHCHECK passes (podman healthcheck run: exit 0, status $status)"
dead=$(free_port)
if "${P[@]}" run --rm "${RUN[@]}" -e "CW_SIDECAR_LISTEN=127.0.0.1:$dead" "$IMAGE" healthcheck >/dev/null 2>&1; then
  fail "the health check passed with nothing listening on 127.0.0.1:$dead"
fi
ok "the health check fails where nothing listens (127.0.0.1:$dead)"

probe=$(curl -fsS "http://127.0.0.1:$port/v1/metrics" -H 'content-type: application/json' \
  -d '[{"name":"ImageProbe","value":7,"unit":"Count","dimensions":{"Check":"post"}}]')
[[ $probe == *'"accepted":1'* ]] || fail "the probe record was not accepted: $probe"
curl -fsS -X POST "http://127.0.0.1:$port/v1/flush" >/dev/null || fail "POST /v1/flush"
for _ in $(seq 1 50); do
  "${P[@]}" logs "$run" 2>/dev/null | grep -q '"MetricName":"ImageProbe"' && break
  sleep 0.2
done
"${P[@]}" logs "$run" 2>/dev/null | grep -q '"MetricName":"ImageProbe"' || fail "the POSTed record was not published"
ok "a POSTed record is published (dry-run stdout): $("${P[@]}" logs "$run" 2>/dev/null | grep -o '"MetricName":"ImageProbe"[^}]*}' | head -1)"

accepted=$(post_load "$port" Shutdown 20 100) || fail "posting the load"
before=$(published "$run" "$NS")
"${P[@]}" kill --signal TERM "$run" >/dev/null
code=$(exit_code "$run")
total=$(published "$run" "$NS")
[[ $code == 0 ]] || fail "exit code $code after SIGTERM, not 0"
[[ $before == 1 ]] || fail "$before samples published before SIGTERM (flush interval 1h), expected the probe's 1"
[[ $total == $((accepted + 1)) ]] || fail "after SIGTERM $total samples published, but $((accepted + 1)) were accepted"
ok "SIGTERM: exit 0; accepted $accepted + 1 samples, published $total"

volume=$TAG-spool
"${P[@]}" volume create "$volume" >/dev/null
port=$(free_port)
spooled=$TAG-spool
start "$spooled" "$port" -v "$volume:$SPOOL" -e "CW_SIDECAR_SPOOL__DIR=$SPOOL" "$IMAGE" \
  --dry-run --namespace "$NS" --flush-interval 1h
acked=$(post_load "$port" Spooled 10 100) || fail "posting the load"
mount=$("${P[@]}" volume inspect --format '{{.Mountpoint}}' "$volume")
owner=$(stat -c %u "$mount")
files=$(find "$mount" -name 'wal-*.log' -size +0 -user "${user%%:*}" | wc -l)
[[ $owner == "${user%%:*}" ]] || fail "the spool volume is owned by uid $owner, not the image's user"
stray=$(find "$mount" -mindepth 1 ! -name lock ! -name checkpoint ! -name 'wal-*.log' ! -name 'batch-*.bin' -printf '%P ')
[[ -z $stray ]] || fail "the image's spool directory brought files that are not the spool's: $stray"
((files > 0)) || fail "no non-empty wal-*.log owned by uid ${user%%:*} in the spool volume: $(ls -ln "$mount")"
ok "the spool volume is the image user's (uid $owner): $(ls "$mount" | tr '\n' ' ')"
"${P[@]}" kill --signal KILL "$spooled" >/dev/null
code=$(exit_code "$spooled")
[[ $code == 137 ]] || fail "exit code $code after kill -9, not 137"
[[ $(published "$spooled" "$NS") == 0 ]] || fail "samples were published before the kill (flush interval 1h)"
"${P[@]}" start "$spooled" >/dev/null || fail "podman start $spooled"
wait_ready "$spooled" "$port"
replayed=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^cw_sidecar_spool_replayed_total\{kind="records"\}/ {print $2}')
"${P[@]}" kill --signal TERM "$spooled" >/dev/null
code=$(exit_code "$spooled")
total=$(published "$spooled" "$NS")
[[ $code == 0 ]] || fail "exit code $code after SIGTERM of the restarted container, not 0"
[[ $replayed == "$acked" ]] || fail "the restarted sidecar replayed ${replayed:-no} records from the spool, but $acked were acknowledged"
[[ $total == "$acked" ]] || fail "after kill -9 and restart $total samples published, but $acked were acknowledged"
ok "kill -9, restart on the same volume: acknowledged $acked, replayed $replayed records, published $total"

section "3/3 size"
size=$("${P[@]}" image inspect --format '{{.Size}}' "$IMAGE")
base_size=$("${P[@]}" image inspect --format '{{.Size}}' "$BASE")
bin_size=$(stat -c %s "$bin")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
echo "image $IMAGE: $(mb "$size") MB (the base stand-in $(mb "$base_size") MB, the binary $(mb "$bin_size") MB); goal: 25 MB or less"
