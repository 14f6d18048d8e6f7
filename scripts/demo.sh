#!/usr/bin/env bash
# The whole chain in one command, with no AWS account:
#   LocalStack (installed and started) -> Terraform (topics, alarms, dashboard applied to it)
#   -> cw-sidecar against it -> a service's traffic with a burst of 5xx errors
#   -> what CloudWatch now holds, the Http5xx alarm firing, the SNS message on the SQS queue,
#   -> what that traffic's series and calls cost a month (cw-sidecar cost)
#   -> and the dashboard Terraform generated, drawn with that data read back (GetMetricData)
#      into one HTML page and its PNG (scripts/dashboard.sh; kept in target/demo/).
# Stops everything it started (by its own pids) and destroys what it applied, also on failure.
#
# Environment: TF_PLUGIN_DIR (a provider mirror; /opt/tf-plugins is used when it exists),
# DEMO_KEEP=1 keeps the sidecar, stack and LocalStack running at the end for exploring.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

step=0
STEPS=10
say() { step=$((step + 1)); printf '\n\033[1m==> [%d/%d] %s\033[0m\n' "$step" "$STEPS" "$*"; }
fail() { printf '\n\033[31mDEMO FAILED at step %d: %s\033[0m\n' "$step" "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed. $2"; }

need cargo "Install Rust from https://rustup.rs."
need terraform "Install Terraform >= 1.9: https://developer.hashicorp.com/terraform/install"
need python3 "Install Python 3.11 (LocalStack runs in a virtualenv of its own)."
need node "Install Node.js >= 20 with npm (the dashboard page is drawn with Chart.js, its PNG by playwright-core)."
if [[ -z ${TF_PLUGIN_DIR:-} && -d /opt/tf-plugins ]]; then export TF_PLUGIN_DIR=/opt/tf-plugins; fi
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# A CLI config that does not exist only earns a warning on every command.
if [[ -n ${TF_CLI_CONFIG_FILE:-} && ! -e $TF_CLI_CONFIG_FILE ]]; then unset TF_CLI_CONFIG_FILE; fi

ENDPOINT=http://127.0.0.1:4566
RUN=demo-$(date +%s)
NAMESPACE=Demo
SERVICE=checkout
ENVIRONMENT=demo
work=$(mktemp -d "${TMPDIR:-/tmp}/cw-sidecar-demo.XXXXXX")
sidecar_pid="" traffic_pid="" applied=0 started_localstack=0 tf_vars=()

cleanup() {
  local rc=$?
  set +e
  if [[ ${DEMO_KEEP:-0} == 1 && $rc == 0 ]]; then
    echo "DEMO_KEEP=1: leaving the sidecar (pid $sidecar_pid), the stack ($work) and LocalStack running"
    exit 0
  fi
  [[ -n $traffic_pid ]] && kill "$traffic_pid" 2>/dev/null && wait "$traffic_pid" 2>/dev/null
  if [[ -n $sidecar_pid ]] && kill -0 "$sidecar_pid" 2>/dev/null; then
    kill -TERM "$sidecar_pid" && wait "$sidecar_pid" 2>/dev/null
  fi
  if [[ $applied == 1 ]]; then
    echo "-- destroying the demo stack"
    terraform -chdir="$work/terraform/examples/complete" destroy -auto-approve -no-color "${tf_vars[@]}" >"$work/destroy.log" 2>&1 ||
      { tail -n 20 "$work/destroy.log" >&2; rc=1; }
  fi
  if [[ $started_localstack == 1 ]]; then scripts/localstack.sh stop; fi
  if [[ $rc != 0 && -f $work/sidecar.log ]]; then
    echo "-- last lines of the sidecar's log:" >&2
    tail -n 15 "$work/sidecar.log" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building cw-sidecar (the first build takes a few minutes)"
cargo build --locked --bin cw-sidecar 2>&1 | tail -n 1 || fail "cargo build"
BIN=$ROOT/target/debug/cw-sidecar

say "starting LocalStack, the AWS emulator (installed into .localstack/ on first use)"
if scripts/localstack.sh status >/dev/null 2>&1; then
  echo "already running; leaving it running afterwards"
else
  scripts/localstack.sh start || fail "LocalStack did not start (see .localstack/localstack.log)"
  started_localstack=1
fi
PY=$(scripts/localstack.sh python)

say "applying terraform/examples/complete to LocalStack (SNS topics + SQS subscriber, alarms, dashboard)"
example=$(scripts/localstack.sh terraform-copy "$work")
init=(-chdir="$example" init -input=false -no-color)
[[ -n ${TF_PLUGIN_DIR:-} ]] && init+=(-plugin-dir="$TF_PLUGIN_DIR")
terraform "${init[@]}" >"$work/init.log" 2>&1 || { cat "$work/init.log" >&2; fail "terraform init"; }
# The contract's Http5xx alarm (Average > 1%), at a 10 s period on high-resolution data so
# the demo takes a minute, not five.
tf_vars=(
  -var "name=$RUN"
  -var "services=[{name=\"$SERVICE\",namespace=\"$NAMESPACE\"}]"
  -var 'contract_alarm_overrides={http_5xx_rate={period=10,evaluation_periods=3,datapoints_to_alarm=1,high_resolution=true}}'
  -var "sidecar_dimensions={Environment=\"$ENVIRONMENT\"}"
  -var 'sidecar_flush_interval_seconds=1'
)
applied=1
terraform -chdir="$example" apply -auto-approve -no-color "${tf_vars[@]}" >"$work/apply.log" 2>&1 ||
  { tail -n 30 "$work/apply.log" >&2; fail "terraform apply"; }
grep -E '^Apply complete' "$work/apply.log"
outputs=$(terraform -chdir="$example" output -json)
# The alarm of the metric catalog (terraform/examples/complete/metrics.yaml) that the sidecar
# enforces too: Http5xx Average > 1% over 10 s periods.
ALARM=$(printf '%s' "$outputs" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['catalog_alarm_names']['value']['checkout-5xx-rate'])")
QUEUE=$(printf '%s' "$outputs" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['alert_queue_url']['value'])")
DASHBOARD=$(printf '%s' "$outputs" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['dashboard_name']['value'])")
echo "alarm: $ALARM"
echo "alert queue: $QUEUE"
echo "dashboard: $DASHBOARD"

say "starting cw-sidecar against LocalStack (flush every 1s), enforcing the metric catalog (strict)"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AWS_ENDPOINT_URL=$ENDPOINT AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  "$BIN" --listen "127.0.0.1:$port" --flush-interval 1s --window-grace 1s \
  --default-dimensions "Environment=$ENVIRONMENT" --catalog "$example/metrics.yaml" --catalog-mode strict \
  >"$work/sidecar.log" 2>&1 &
sidecar_pid=$!
for _ in $(seq 100); do
  "$BIN" --listen "127.0.0.1:$port" healthcheck >/dev/null 2>&1 && break
  kill -0 "$sidecar_pid" 2>/dev/null || fail "cw-sidecar exited"
  sleep 0.1
done
"$BIN" --listen "127.0.0.1:$port" healthcheck || fail "cw-sidecar did not come up"
echo "listening on 127.0.0.1:$port (pid $sidecar_pid)"

say "sending a web service's traffic: 10 s healthy, then a burst of 30% 5xx errors"
"$BIN" traffic --target "http://127.0.0.1:$port" --metrics-namespace "$NAMESPACE" --service "$SERVICE" \
  --rps 40 --duration 120s --burst-at 10s --burst-for 120s --burst-error-rate 0.3 --storage-resolution 1 \
  >"$work/traffic.json" &
traffic_pid=$!

say "waiting for CloudWatch to evaluate the Http5xx alarm (Average > 0.01 over 10 s periods)"
"$PY" scripts/demo_report.py wait-alarm "$ALARM" "$QUEUE" 120 || fail "the alarm chain"
kill "$traffic_pid" 2>/dev/null || true
wait "$traffic_pid" 2>/dev/null || true # killed on purpose: its status is the signal's
traffic_pid=""
echo

say "what CloudWatch holds for $NAMESPACE {Environment=$ENVIRONMENT, Service=$SERVICE}, as CloudWatch reports it"
curl -fsS -X POST "http://127.0.0.1:$port/v1/flush" >/dev/null || fail "flush"
"$PY" scripts/demo_report.py report "$NAMESPACE" "{\"Environment\":\"$ENVIRONMENT\",\"Service\":\"$SERVICE\"}" \
  RequestCount Http5xx Latency JobFailed QueueDepth || fail "reading CloudWatch back"
echo "    sidecar: $(curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^cw_sidecar_(records_accepted|datums_published)_total|^cw_sidecar_put_metric_data_calls_total\{outcome="success"' | tr '\n' ' ')"

say "what this traffic costs a month at CloudWatch's prices (cw-sidecar cost, from GET /v1/cost)"
"$BIN" cost --url "http://127.0.0.1:$port" || fail "cw-sidecar cost"

say "the dashboard Terraform generated, drawn with what CloudWatch holds (GetMetricData), as a page and a PNG"
mkdir -p "$ROOT/target/demo"
printf '%s' "$outputs" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['dashboard_body']['value'])" >"$work/dashboard_body.json"
"$PY" scripts/demo_report.py dashboard-data "$work/dashboard_body.json" 15 "$work/metric_data.json" || fail "GetMetricData"
scripts/dashboard.sh render "$work/dashboard_body.json" "$work/metric_data.json" \
  "$ROOT/target/demo/dashboard.html" "$ROOT/target/demo/dashboard.png" >"$work/dashboard.log" 2>&1 ||
  { cat "$work/dashboard.log" >&2; fail "rendering the dashboard"; }
echo "dashboard page: $ROOT/target/demo/dashboard.html"
echo "dashboard PNG:  $ROOT/target/demo/dashboard.png"

say "done: stopping the sidecar, destroying the stack, stopping what the demo started"
