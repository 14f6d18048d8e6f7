#!/usr/bin/env bash
# Every test of the repository, in one command (the README's, and what .ci/run runs):
#   Rust formatting, unit and integration tests, end-to-end tests against LocalStack, the
#   container image (built from the Dockerfile and run with podman, which scripts/test-image.sh
#   installs with apt-get when missing), and the Terraform checks (fmt, validate, terraform
#   test, checkov, apply to LocalStack).
# LocalStack is started once for the whole run and stopped at the end if this script
# started it. The end-to-end tests are #[ignore]d (a plain `cargo test` cannot reach
# LocalStack) and run here with --include-ignored: nothing is skipped but the soak runs
# (scripts/soak.sh, half an hour).
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust from https://rustup.rs" >&2
  exit 1
fi

# The provider mirror on machines without registry access; a CLI config that does not exist
# only earns a warning on every terraform command.
if [ -z "${TF_PLUGIN_DIR:-}" ] && [ -d /opt/tf-plugins ]; then export TF_PLUGIN_DIR=/opt/tf-plugins; fi
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then unset TF_CLI_CONFIG_FILE; fi

started_localstack=0
cleanup() {
  if [ "$started_localstack" = 1 ]; then
    section "stopping LocalStack"
    scripts/localstack.sh stop || true
  fi
}
trap cleanup EXIT

section "starting LocalStack (end-to-end and Terraform apply tests)"
if scripts/localstack.sh status >/dev/null 2>&1; then
  echo "LocalStack already running; using it"
else
  started_localstack=1
  scripts/localstack.sh start
fi
export LOCALSTACK_ENDPOINT="${LOCALSTACK_ENDPOINT:-http://127.0.0.1:4566}"

section "cargo fmt --check, cargo clippy, no import cycle between files, the fuzz targets build"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
python3 scripts/import-cycles.py
cargo check --locked --quiet --manifest-path fuzz/Cargo.toml

section "real clients for the integration tests (hot-shots and the OpenTelemetry SDK from npm; statsd, datadog, aws-embedded-metrics, prometheus-client and the OpenTelemetry SDK from PyPI; the Prometheus server from Debian)"
scripts/clients.sh

section "cargo test (unit, integration against the in-process CloudWatch, end to end on LocalStack)"
# --include-ignored runs every #[ignore]d test: only those that need something a plain
# `cargo test` lacks (LocalStack, a client from npm) may be, and they say so. The soak runs
# (reason "soak: ", named soak_*) take half an hour: scripts/soak.sh runs them, not this.
stray_ignores=$(grep -rnE --include='*.rs' '^[[:space:]]*#\[ignore' src tests | grep -v -e '#\[ignore = "needs ' -e '#\[ignore = "soak: ' || true)
if [ -n "$stray_ignores" ]; then
  echo "only tests that need LocalStack or a real client may be #[ignore]d, with a reason starting \"needs \" (or soak runs, \"soak: \"):" >&2
  echo "$stray_ignores" >&2
  exit 1
fi
cargo test --locked --workspace --all-targets -- --include-ignored --skip soak_

section "scripts/bench.sh smoke run (quick mode: every row printed with its numbers; no figure is judged)"
scripts/bench-smoke.sh

section "container image (scripts/test-image.sh: the Dockerfile built with podman on a stand-in base, run and checked; its size printed)"
scripts/test-image.sh

section "dashboard page (scripts/test-dashboard.sh: the widget JSON Terraform renders, drawn with Chart.js and checked in headless Chromium)"
scripts/test-dashboard.sh

section "Terraform (fmt, validate, terraform test, checkov, apply to LocalStack)"
scripts/test-terraform.sh
