"""Sends a fixed set of metrics with the `statsd` package from PyPI to the sidecar:
.venv/bin/python statsd_client.py <udp|tcp> <port> <prefix>.

Sampling is made deterministic: the client keeps a line sent at a rate below 1 when
random.random() <= rate, so its random source always answers 0 here. Every sampled line then
reaches the sidecar carrying its `|@rate`, and what the sidecar counts is exact."""
import sys
import types

import statsd
import statsd.client.base

statsd.client.base.random = types.SimpleNamespace(random=lambda: 0.0)

protocol, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if protocol == "udp":
    c = statsd.StatsClient("127.0.0.1", port, prefix=prefix)
elif protocol == "tcp":
    c = statsd.TCPStatsClient("127.0.0.1", port, prefix=prefix, timeout=5)
else:
    sys.exit(f"unknown protocol {protocol}")

# Counters: 3 x 1, 5 at rate 0.5 (counts 10), -2: 11.
c.incr("requests")
c.incr("requests")
c.incr("requests")
c.incr("requests", 5, rate=0.5)
c.decr("requests", 2)
# Timers: 42 ms, and 58 ms at rate 0.5 (weight 2): count 3, sum 158.
c.timing("latency", 42)
c.timing("latency", 58, rate=0.5)
# Gauges: 7, +3 -> 10, -4 -> 6, then a plain negative value, which the client sends as `0`
# then `-2`: samples 7, 10, 6, 0, -2.
c.gauge("queue", 7)
c.gauge("queue", 3, delta=True)
c.gauge("queue", -4, delta=True)
c.gauge("queue", -2)
# Sets: two distinct members.
c.set("users", "alice")
c.set("users", "bob")
c.set("users", "alice")
# A pipeline sends its lines together (one datagram over UDP).
with c.pipeline() as p:
    p.incr("piped", 4)
    p.timing("piped_latency", 7)
    p.gauge("piped_gauge", 1.5)
c.close()
