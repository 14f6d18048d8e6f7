#!/usr/bin/env bash
# Run LocalStack (the community AWS emulator) on this machine without Docker.
#
#   scripts/localstack.sh start    install if needed, start, wait until healthy
#   scripts/localstack.sh stop     stop the LocalStack this script started
#   scripts/localstack.sh status   exit 0 if our LocalStack is running and healthy, 1 otherwise
#   scripts/localstack.sh install  only install (or verify) the virtualenv
#   scripts/localstack.sh env      print the environment variables clients should use
#   scripts/localstack.sh terraform-copy DEST
#                                  copy terraform/ to DEST with examples/complete's provider
#                                  pointed at LocalStack; prints the example's path
#
# Everything lives in .localstack/ (git-ignored): the virtualenv (venv/), the data
# directories, the log (localstack.log) and the pid file (localstack.pid).
# The script only ever signals the process (group) recorded in its own pid file,
# after checking that the pid still is the LocalStack it started.
#
# Environment:
#   LOCALSTACK_DIR            state folder (default: <repo>/.localstack)
#   LOCALSTACK_PYTHON         Python 3.11 interpreter used to build the venv
#   LOCALSTACK_START_TIMEOUT  seconds to wait for /_localstack/health (default 180)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LS_DIR=${LOCALSTACK_DIR:-$ROOT/.localstack}
VENV=$LS_DIR/venv
PIDFILE=$LS_DIR/localstack.pid
LOG=$LS_DIR/localstack.log
HOST_PORT=127.0.0.1:4566
ENDPOINT=http://$HOST_PORT
START_TIMEOUT=${LOCALSTACK_START_TIMEOUT:-180}

# Known to work here: LocalStack 4.12 with these transitive pins (newer releases of
# these packages break its startup on Python 3.11).
LS_REQUIREMENTS=(
  "localstack-core[runtime]==4.12.0"
  "cbor2==5.6.5"
  "cryptography==43.0.3"
  "pyOpenSSL==24.2.1"
  "service-identity==24.2.0"
  "joserfc==1.0.4"
)
# boto3 is used by the Terraform apply test and the end-to-end tests to read back
# what LocalStack holds; LocalStack depends on it already, listed to be explicit.
EXTRA_REQUIREMENTS=("boto3")
STAMP=$VENV/.cw-sidecar-requirements
# LocalStack 4.12's KMS (CreateKey) calls uuid.uuid5 with a bytes name, which Python
# 3.12 accepts and 3.11 rejects ("encoding without a string argument"). This backport,
# loaded through a .pth file of the venv only, gives 3.11 the 3.12 behaviour.
COMPAT_VERSION="py312-uuid5-bytes-1"
COMPAT_STAMP=$VENV/.cw-sidecar-compat

log() { printf 'localstack: %s\n' "$*" >&2; }
die() { printf 'localstack: ERROR: %s\n' "$*" >&2; exit 1; }

find_python() {
  local candidate
  for candidate in "${LOCALSTACK_PYTHON:-}" python3.11 python3; do
    [[ -n "$candidate" ]] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

packages_stamp() { printf '%s\n' "${LS_REQUIREMENTS[@]}" "${EXTRA_REQUIREMENTS[@]}"; }

install_compat_shim() {
  local site
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cat >"$site/_cw_sidecar_localstack_compat.py" <<'PY'
"""Python 3.12 behaviour LocalStack 4.12 relies on, for the Python 3.11 venv.

Written by scripts/localstack.sh; loaded by _cw_sidecar_localstack_compat.pth.
"""
import sys
import uuid

if sys.version_info < (3, 12):
    _uuid5_str_only = uuid.uuid5

    def _uuid5(namespace, name):
        # 3.12: "name" may be bytes (LocalStack's KMS passes the key material).
        if isinstance(name, (bytes, bytearray)):
            from hashlib import sha1

            digest = sha1(namespace.bytes + bytes(name)).digest()
            return uuid.UUID(bytes=digest[:16], version=5)
        return _uuid5_str_only(namespace, name)

    uuid.uuid5 = _uuid5
PY
  echo "import _cw_sidecar_localstack_compat" >"$site/_cw_sidecar_localstack_compat.pth"
  echo "$COMPAT_VERSION" >"$COMPAT_STAMP"
}

install() {
  # Reuse the venv when it holds exactly these packages; refresh the shim if it changed.
  if [[ -x $VENV/bin/python && -f $STAMP ]] && [[ "$(cat "$STAMP")" == "$(packages_stamp)" ]]; then
    [[ -f $COMPAT_STAMP && "$(cat "$COMPAT_STAMP")" == "$COMPAT_VERSION" ]] || install_compat_shim
    return 0
  fi
  if own_pid >/dev/null; then
    die "$VENV must be rebuilt, but LocalStack is running from it: run '$0 stop' first"
  fi
  local py
  py=$(find_python) || die "LocalStack 4.12 needs Python 3.11 (python3.11 or python3); set LOCALSTACK_PYTHON to one"
  log "installing LocalStack 4.12.0 into $VENV (one-off, takes a minute or two)"
  rm -rf "$VENV"
  mkdir -p "$LS_DIR"
  "$py" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  "$VENV/bin/python" -m pip install --quiet "${LS_REQUIREMENTS[@]}" "${EXTRA_REQUIREMENTS[@]}"
  install_compat_shim
  packages_stamp >"$STAMP"
  log "installed $("$VENV/bin/python" -m pip show localstack-core 2>/dev/null | sed -n 's/^Version: /localstack-core /p')"
}

# The pid in our pid file, if that process is alive and still our LocalStack.
own_pid() {
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be LocalStack from our venv.
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [[ $cmdline == "$VENV/bin/python -m localstack.runtime.main"* ]] || return 1
  echo "$pid"
}

healthy() {
  curl -fsS --max-time 3 "$ENDPOINT/_localstack/health" >/dev/null 2>&1
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/4566") 2>/dev/null
}

start() {
  local pid
  if pid=$(own_pid); then
    if healthy; then
      log "already running (pid $pid) at $ENDPOINT"
      return 0
    fi
    log "pid $pid is starting; waiting for it"
    wait_ready "$pid"
    return 0
  fi
  rm -f "$PIDFILE"
  if port_in_use; then
    die "something this script did not start already listens on $HOST_PORT; stop it first (this script never touches processes it did not start)"
  fi
  install
  mkdir -p "$LS_DIR/volume" "$LS_DIR/filesystem"
  : >"$LOG"
  log "starting LocalStack at $ENDPOINT (log: $LOG)"
  # setsid gives LocalStack its own process group, so `stop` can end it and any
  # helper it spawned, and nothing else.
  (
    cd "$LS_DIR"
    export GATEWAY_SERVER=hypercorn
    export GATEWAY_LISTEN=$HOST_PORT
    export LOCALSTACK_HOST=$HOST_PORT
    export SERVICES=cloudwatch,sns,sqs,sts,iam,kms
    export LOCALSTACK_VOLUME_DIR=$LS_DIR/volume
    export FILESYSTEM_ROOT=$LS_DIR/filesystem
    export PERSISTENCE=0
    # No network here besides package registries: no analytics, no cert download.
    export DISABLE_EVENTS=1
    export SKIP_SSL_CERT_DOWNLOAD=1
    export SKIP_INFRA_DOWNLOADS=1
    # The pid file is written by the process itself after setsid (setsid forks when
    # its caller already leads a group), so it always names LocalStack.
    exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
      "$VENV/bin/python" -m localstack.runtime.main </dev/null >>"$LOG" 2>&1
  ) &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $PIDFILE ]] && break
    sleep 0.1
  done
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || die "LocalStack did not start; see $LOG"
  wait_ready "$pid"
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      log "LocalStack (pid $pid) exited during startup; last lines of $LOG:"
      tail -n 40 "$LOG" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "LocalStack not healthy after ${START_TIMEOUT}s; last lines of $LOG:"
      tail -n 40 "$LOG" >&2 || true
      stop
      exit 1
    fi
    sleep 1
  done
  log "ready (pid $pid) at $ENDPOINT"
}

stop() {
  local pid
  if ! pid=$(own_pid); then
    rm -f "$PIDFILE"
    log "not running (no live pid in $PIDFILE)"
    return 0
  fi
  # Signal the process group only if LocalStack leads its own (setsid); else the pid alone.
  local pgid target
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
  if [[ $pgid == "$pid" ]]; then target=(-- "-$pid"); else target=("$pid"); fi
  log "stopping pid $pid"
  kill -TERM "${target[@]}" 2>/dev/null || true
  local i
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 15s; sending KILL"
    kill -KILL "${target[@]}" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

status() {
  local pid
  if pid=$(own_pid) && healthy; then
    echo "running (pid $pid) at $ENDPOINT"
    return 0
  fi
  echo "not running"
  return 1
}

print_env() {
  cat <<EOF
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=$ENDPOINT
EOF
}

# A copy of terraform/ in DEST whose examples/complete talks to this LocalStack: state,
# .terraform and the provider override never touch the work tree. Prints the example's path.
terraform_copy() {
  local dest=${1:?usage: $0 terraform-copy DEST}
  mkdir -p "$dest"
  (cd "$ROOT" && tar -cf - --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate*' terraform) |
    tar -xf - -C "$dest"
  local example=$dest/terraform/examples/complete
  cat >"$example/localstack_override.tf" <<EOF
# Written by scripts/localstack.sh terraform-copy: point the example's provider at LocalStack.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false

  endpoints {
    cloudwatch = "$ENDPOINT"
    iam        = "$ENDPOINT"
    kms        = "$ENDPOINT"
    sns        = "$ENDPOINT"
    sqs        = "$ENDPOINT"
    sts        = "$ENDPOINT"
  }
}
EOF
  echo "$example"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  install) install ;;
  env) print_env ;;
  python) echo "$VENV/bin/python" ;;
  terraform-copy) terraform_copy "${2:-}" ;;
  *)
    echo "usage: $0 {start|stop|status|install|env|python|terraform-copy DEST}" >&2
    exit 2
    ;;
esac
