"""Sends a fixed set of DogStatsD metrics with the `datadog` package from PyPI to the sidecar
over UDP (the client speaks UDP and Unix sockets, not TCP):
.venv/bin/python datadog_client.py <port> <prefix>.

Buffering is on, so lines travel several to a datagram, as in production. Sampling is made
deterministic: the client keeps a line at rate r when random() <= r, and its random() answers
0 here, so every sampled line reaches the sidecar with its `|@rate`."""
import sys

import datadog.dogstatsd.base
from datadog.dogstatsd import DogStatsd

datadog.dogstatsd.base.random = lambda: 0.0

port, prefix = int(sys.argv[1]), sys.argv[2]
c = DogStatsd(
    host="127.0.0.1",
    port=port,
    namespace=prefix,
    constant_tags=["env:prod"],
    disable_buffering=False,
    disable_telemetry=True,
    origin_detection_enabled=False,
)

# Counters with tags: 1 + 2 at rate 0.25 (counts 8) - 1 = 8 for route:/a; 4 for route:/b.
c.increment("requests", tags=["route:/a"])
c.increment("requests", 2, sample_rate=0.25, tags=["route:/a"])
c.decrement("requests", tags=["route:/a"])
c.increment("requests", 4, tags=["route:/b", "canary"])
# Timers, histograms, distributions: 20 and 30 at rate 0.5 (weight 2) -> count 3, sum 80.
c.timing("latency", 20, tags=["route:/a"])
c.timing("latency", 30, sample_rate=0.5, tags=["route:/a"])
c.histogram("size", 3)
c.histogram("size", 5)
c.distribution("dist", 9, cardinality="low")
# Gauges: the last value per flush; a DogStatsD gauge has no deltas.
c.gauge("queue", 7)
c.gauge("queue", 10)
# Sets: two distinct members.
c.set("users", "alice")
c.set("users", "bob")
c.set("users", "alice")
c.flush()
c.close_socket()
