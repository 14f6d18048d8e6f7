#!/usr/bin/env bash
# A soak run of the disk spool, not part of scripts/test.sh: the release binary under steady
# load for SOAK_MINUTES minutes (default 30), with the spool on, against the in-process fake
# CloudWatch that throttles in bursts and goes down for 20-90 s every few minutes. Every
# minute it prints the sidecar's RSS, open file descriptors and spool size; at the end, the
# samples lost and duplicated. It fails if any sample answered 202 was not published.
#   SOAK_MINUTES=60 scripts/soak.sh
# The driver is the ignored test spool::soak_with_throttling_and_outages_loses_nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

export SOAK_MINUTES="${SOAK_MINUTES:-30}"
if ! [[ "$SOAK_MINUTES" =~ ^[0-9]+$ ]] || [ "$SOAK_MINUTES" -lt 1 ]; then
  echo "SOAK_MINUTES must be a whole number of minutes, at least 1 (got \"$SOAK_MINUTES\")" >&2
  exit 2
fi

echo "==> building (release)"
cargo test --release --locked --test api --no-run

echo "==> soaking for $SOAK_MINUTES minutes"
cargo test --release --locked --test api spool::soak_with_throttling_and_outages_loses_nothing \
  -- --exact --include-ignored --nocapture
