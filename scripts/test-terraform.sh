#!/usr/bin/env bash
# Every test of terraform/, in order, stopping at the first failure:
#   1. terraform fmt -check -recursive terraform
#   2. terraform init + validate: the root module, each submodule, each example
#      (examples/complete and examples/ecs-sidecar; terraform/tests holds a plan-time test of each)
#   3. terraform test in the root (mocked provider: plan/apply assertions, validations)
#   4. checkov over terraform/ (scripts/checkov.sh)
#   5. apply examples/complete to LocalStack, check it through the AWS API, destroy
#
# Options / environment:
#   SKIP_LOCALSTACK=1 (or --skip-localstack)  skip step 5, loudly; for quick local runs
#   SKIP_CHECKOV=1 (or --skip-checkov)        skip step 4, loudly
#   TF_PLUGIN_DIR=/opt/tf-plugins             `terraform init -plugin-dir` (no registry)
#   KEEP_APPLY_DIR=1                          keep the apply test's temporary folder
#
# Step 5 starts LocalStack with scripts/localstack.sh when nothing answers on
# 127.0.0.1:4566, and stops it afterwards only if it started it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TF_DIR=$ROOT/terraform
LOCALSTACK=$ROOT/scripts/localstack.sh
ENDPOINT=http://127.0.0.1:4566

for arg in "$@"; do
  case $arg in
    --skip-localstack) SKIP_LOCALSTACK=1 ;;
    --skip-checkov) SKIP_CHECKOV=1 ;;
    -h | --help)
      sed -n '2,17p' "$0"
      exit 0
      ;;
    *)
      echo "unknown option: $arg" >&2
      exit 2
      ;;
  esac
done

section() { printf '\n==== %s ====\n' "$*"; }
fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  exit 1
}

if ! command -v terraform >/dev/null 2>&1; then
  fail "terraform is not installed. Install Terraform 1.9 or newer (HashiCorp's package repository or release zip; see terraform/README.md, \"Running the tests\") and run again."
fi
# A CLI config variable naming a missing file only adds a warning to every command.
if [[ -n ${TF_CLI_CONFIG_FILE:-} && ! -e $TF_CLI_CONFIG_FILE ]]; then unset TF_CLI_CONFIG_FILE; fi
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

tf_init() {
  local dir=$1
  shift
  local args=(-chdir="$dir" init -input=false -no-color "$@")
  if [[ -n ${TF_PLUGIN_DIR:-} ]]; then args+=(-plugin-dir="$TF_PLUGIN_DIR"); fi
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/terraform-init.XXXXXX")
  if ! terraform "${args[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    if [[ -z ${TF_PLUGIN_DIR:-} ]]; then
      echo "hint: without registry access, set TF_PLUGIN_DIR to a provider mirror (e.g. /opt/tf-plugins)" >&2
    fi
    fail "terraform init in ${dir#"$ROOT"/}"
  fi
  rm -f "$log"
}

started=$SECONDS
echo "terraform: $(terraform version | head -n 1); TF_PLUGIN_DIR=${TF_PLUGIN_DIR:-<unset: registry>}"

section "1/5 terraform fmt -check -recursive terraform"
terraform fmt -check -recursive -diff "$TF_DIR" || fail "terraform fmt: run 'terraform fmt -recursive terraform'"
echo "formatted"

section "2/5 terraform init + validate (root, modules, examples)"
dirs=("$TF_DIR")
for d in "$TF_DIR"/modules/*/ "$TF_DIR"/examples/*/; do dirs+=("${d%/}"); done
for dir in "${dirs[@]}"; do
  tf_init "$dir" -backend=false
  terraform -chdir="$dir" validate -no-color >/dev/null || {
    terraform -chdir="$dir" validate -no-color || true
    fail "terraform validate in ${dir#"$ROOT"/}"
  }
  echo "valid: ${dir#"$ROOT"/}"
done

section "3/5 terraform test (mock provider)"
terraform -chdir="$TF_DIR" test -no-color || fail "terraform test"

section "4/5 checkov"
if [[ ${SKIP_CHECKOV:-0} == 1 ]]; then
  echo "!!!! checkov SKIPPED (SKIP_CHECKOV=1) !!!!"
else
  "$ROOT/scripts/checkov.sh" || fail "checkov found failed checks (fix them, or skip in code with a reason)"
fi

section "5/5 apply examples/complete to LocalStack, verify through the AWS API, destroy"
if [[ ${SKIP_LOCALSTACK:-0} == 1 ]]; then
  echo "!!!! LocalStack apply test SKIPPED (SKIP_LOCALSTACK=1)${CI:+ under CI=$CI} !!!!"
  echo "terraform tests done in $((SECONDS - started))s (LocalStack apply test skipped)"
  exit 0
fi

work=""
we_started_localstack=0
applied=0
cleanup() {
  local rc=$?
  set +e
  if [[ $applied == 1 ]]; then
    echo "-- destroy"
    if ! timeout 300 terraform -chdir="$work/terraform/examples/complete" destroy -auto-approve -no-color -input=false "${tf_vars[@]}" >"$work/destroy.log" 2>&1; then
      tail -n 30 "$work/destroy.log" >&2
      echo "destroy failed; retrying once" >&2
      timeout 300 terraform -chdir="$work/terraform/examples/complete" destroy -auto-approve -no-color -input=false "${tf_vars[@]}" >"$work/destroy.log" 2>&1 ||
        { tail -n 30 "$work/destroy.log" >&2; echo "destroy failed twice" >&2; rc=1; }
    fi
    grep -E '^Destroy complete' "$work/destroy.log"
  fi
  if [[ -n $work && ${KEEP_APPLY_DIR:-0} != 1 ]]; then rm -rf "$work"; fi
  if [[ $we_started_localstack == 1 ]]; then "$LOCALSTACK" stop; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if curl -fsS --max-time 3 "$ENDPOINT/_localstack/health" >/dev/null 2>&1; then
  echo "LocalStack already answers at $ENDPOINT; using it (and leaving it running)"
else
  "$LOCALSTACK" start || fail "could not start LocalStack (see .localstack/localstack.log)"
  we_started_localstack=1
fi
PY=$("$LOCALSTACK" python)
"$LOCALSTACK" install # boto3 for the checks lives in LocalStack's venv

# A copy of terraform/ so that state, .terraform and the LocalStack provider override
# never touch the work tree; a unique name so runs sharing a LocalStack do not collide.
work=$(mktemp -d "${TMPDIR:-/tmp}/cw-sidecar-tf-apply.XXXXXX")
example=$("$LOCALSTACK" terraform-copy "$work")

run_id=tftest-$(date +%s)-$$
# The same kind of -var overrides the end-to-end test uses: a high-resolution 10 s
# Http5xx alarm, the sidecar's dimensions, and the replica heartbeat alarm.
tf_vars=(
  -var "name=$run_id"
  -var 'contract_alarm_overrides={http_5xx_rate={period=10,evaluation_periods=3,datapoints_to_alarm=2,high_resolution=true}}'
  -var 'sidecar_dimensions={Environment="tftest",Cluster="local"}'
  -var 'sidecar_expected_replicas=2'
  -var 'sidecar_flush_interval_seconds=10'
)

tf_init "$example"
echo "-- apply ($run_id)"
applied=1 # from here on, always destroy (a partial apply leaves resources too)
if ! timeout 480 terraform -chdir="$example" apply -auto-approve -no-color -input=false "${tf_vars[@]}" >"$work/apply.log" 2>&1; then
  tail -n 40 "$work/apply.log" >&2
  fail "terraform apply of examples/complete to LocalStack"
fi
grep -E '^Apply complete' "$work/apply.log"
terraform -chdir="$example" output -json >"$work/outputs.json"

echo "-- verify through the AWS API"
AWS_ENDPOINT_URL=$ENDPOINT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
  "$PY" "$TF_DIR/tests/localstack/verify_complete.py" "$work/outputs.json" ||
  fail "examples/complete in LocalStack does not match its declaration"

echo "terraform tests done in $((SECONDS - started))s"
