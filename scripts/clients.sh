#!/usr/bin/env bash
# Installs the real clients the integration tests drive into tests/clients (ignored by git):
#   hot-shots and the OpenTelemetry SDK with its OTLP/HTTP (JSON) and OTLP/gRPC exporters from npm into
#   tests/clients/node_modules (needs node and npm);
#   statsd, datadog, aws-embedded-metrics, prometheus-client and the OpenTelemetry SDK with its
#   OTLP/HTTP protobuf and OTLP/gRPC exporters from PyPI into the venv tests/clients/.venv
#   (needs python3 with venv; the tests run tests/clients/.venv/bin/python);
#   the Prometheus server from Debian's package, for remote-write (see below).
# Run by scripts/test.sh before `cargo test`; idempotent, and quick when all is installed.
set -euo pipefail
cd "$(dirname "$0")/../tests/clients"

# Python packages and the versions tested with.
py_packages=(statsd==4.0.1 datadog==0.56.0 aws-embedded-metrics==3.5.0 prometheus-client==0.26.0
  opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2
  opentelemetry-exporter-otlp-proto-grpc==1.45.2)

# Every dependency of package.json present means npm has nothing to do.
node_installed() {
  node -e 'const fs = require("fs"); const d = require("./package.json").dependencies;
    for (const n of Object.keys(d)) if (!fs.existsSync(`node_modules/${n}/package.json`)) process.exit(1);' 2>/dev/null
}

if command -v node >/dev/null 2>&1 && node_installed; then
  echo "npm clients already installed"
else
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed: the real-client tests need node and npm" >&2
    exit 1
  fi
  npm install --no-audit --no-fund --no-save --loglevel=error
fi

# The Prometheus server (Debian's package, 2.42), the remote-write sender of
# tests/api/remote_write_prometheus.rs: /usr/bin/prometheus when installed; otherwise its
# binary is taken out of the package into .prometheus/ (apt-get download, no root needed, and
# no system service installed or started).
if [ -x /usr/bin/prometheus ] || [ -x .prometheus/usr/bin/prometheus ]; then
  echo "Prometheus server already installed"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "no /usr/bin/prometheus and no apt-get: install Prometheus 2.42 (Debian's prometheus package) or set PROMETHEUS_BIN" >&2
    exit 1
  fi
  download=$(mktemp -d)
  (cd "$download" && apt-get download prometheus >/dev/null)
  dpkg-deb -x "$download"/prometheus_*.deb .prometheus
  rm -rf "$download"
  echo "Prometheus server taken out of Debian's package into tests/clients/.prometheus"
fi

# The venv's marker records what was installed: a change to the list reinstalls.
marker=.venv/installed.txt
if [ -x .venv/bin/python ] && [ "$(cat "$marker" 2>/dev/null)" = "${py_packages[*]}" ]; then
  echo "Python clients already installed (${py_packages[*]})"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 is not installed: the real-client tests need Python 3 with venv" >&2
  exit 1
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${py_packages[@]}"
echo "${py_packages[*]}" > "$marker"
echo "Python clients installed into tests/clients/.venv"
