"""A media service instrumented with `prometheus-client` from PyPI, for the scrape tests:
.venv/bin/python prometheus_service.py <seed> [database_errors]

It exposes the metric set of a typical media service on 127.0.0.1 (a free port, printed first
as {"port": N}): http_requests_total{method,path,status}, a request-duration histogram by
method and path with the library's default buckets, in-flight requests and active WebSocket
gauges, memory and CPU gauges, and a session-duration histogram labelled by device_id (high
cardinality), beside the library's own process_* and python_* families. Every series exists
(at zero) before the first scrape.

Then it reads commands on stdin, one per line:
  step    records the next part of a seeded workload and prints, as one JSON line, what it
          counted in that part: counter increases and raw observations per series, and the
          gauges' values after it;
  errors  (with database_errors) counts 3 database errors (db_errors_total) and prints
          {"db_errors": 3};
  quit    exits.
"""
import json
import random
import sys

from prometheus_client import Counter, Gauge, Histogram, start_http_server

seed = int(sys.argv[1])
with_db = len(sys.argv) > 2 and sys.argv[2] == "database_errors"
rng = random.Random(seed)

METHODS = ["GET", "POST"]
PATHS = ["/videos", "/upload", "/live"]
STATUSES = ["200", "404", "500"]
DEVICES = [f"device-{i:02d}" for i in range(40)]

requests = Counter("http_requests", "HTTP requests.", ["method", "path", "status"])
durations = Histogram("http_request_duration_seconds", "HTTP request duration.", ["method", "path"])
in_flight = Gauge("http_requests_in_flight", "Requests being served.")
websockets = Gauge("websocket_connections_active", "Open WebSocket connections.")
memory = Gauge("app_memory_usage_bytes", "Resident memory.")
cpu = Gauge("app_cpu_usage_percent", "CPU use.")
sessions = Histogram("session_duration_seconds", "Playback session duration.", ["device_id"])
db_errors = Counter("db_errors", "Database errors.") if with_db else None

# Every series exists before the first scrape, so that the first scrape is its baseline.
for m in METHODS:
    for p in PATHS:
        durations.labels(m, p)
        for s in STATUSES:
            requests.labels(m, p, s)
for d in DEVICES:
    sessions.labels(d)

server, _thread = start_http_server(0, addr="127.0.0.1")
print(json.dumps({"port": server.server_port}), flush=True)


def step():
    counted = {"requests": {}, "durations": {}, "sessions": {}, "gauges": {}}
    for _ in range(60):
        m, p = rng.choice(METHODS), rng.choice(PATHS)
        s = rng.choices(STATUSES, weights=[8, 1, 1])[0]
        # Durations spread over the default buckets (5 ms to 10 s), some beyond.
        seconds = round(rng.lognormvariate(-2.5, 1.5), 6)
        requests.labels(m, p, s).inc()
        durations.labels(m, p).observe(seconds)
        key = f"{m}|{p}|{s}"
        counted["requests"][key] = counted["requests"].get(key, 0) + 1
        counted["durations"].setdefault(f"{m}|{p}", []).append(seconds)
    for _ in range(12):
        d = rng.choice(DEVICES)
        seconds = round(rng.expovariate(1 / 300), 3)
        sessions.labels(d).observe(seconds)
        counted["sessions"].setdefault(d, []).append(seconds)
    values = {
        "http_requests_in_flight": rng.randint(0, 20),
        "websocket_connections_active": rng.randint(0, 500),
        "app_memory_usage_bytes": rng.randint(100, 200) * 1024 * 1024,
        "app_cpu_usage_percent": round(rng.uniform(0, 100), 2),
    }
    for gauge, name in [(in_flight, "http_requests_in_flight"), (websockets, "websocket_connections_active"),
                        (memory, "app_memory_usage_bytes"), (cpu, "app_cpu_usage_percent")]:
        gauge.set(values[name])
    counted["gauges"] = values
    return counted


for line in sys.stdin:
    command = line.strip()
    if command == "step":
        print(json.dumps(step()), flush=True)
    elif command == "errors" and db_errors is not None:
        db_errors.inc(3)
        print(json.dumps({"db_errors": 3}), flush=True)
    elif command == "quit":
        break
server.shutdown()
