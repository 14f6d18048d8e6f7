#!/usr/bin/env bash
# Installs the real clients the integration tests drive into tests/clients (ignored by git):
# hot-shots from npm. Needs node and npm; run by scripts/test.sh before `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/../tests/clients"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is not installed: the real-client tests need node and npm" >&2
  exit 1
fi
if [ -f node_modules/hot-shots/package.json ]; then
  echo "client test dependencies already installed"
  exit 0
fi
npm install --no-audit --no-fund --no-save --loglevel=error
