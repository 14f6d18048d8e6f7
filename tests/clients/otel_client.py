"""Records a fixed set of metrics with the OpenTelemetry SDK for Python and exports them with
its OTLP/HTTP protobuf exporter, or with its OTLP/gRPC exporter when
OTEL_EXPORTER_OTLP_METRICS_PROTOCOL is `grpc`: .venv/bin/python otel_client.py <rounds>

The exporter is configured by the standard environment variables only
(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION, ...); OTEL_CLIENT_MINUTE_MARGIN_MS
is this script's own (see below).
Each round records into every series, then force_flush() exports: one point per series and
round. Prints one JSON line per round: when its export ran (ms, before and after) and what
each series recorded, keyed by instrument and then by the attribute `route`. It exits without
shutting the SDK down, which would export once more."""
import json
import os
import random
import sys
import time

if os.environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
else:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

rounds = int(sys.argv[1])
rng = random.Random(7)
reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
# No shutdown: it would export once more, a point per series with nothing new recorded.
provider = MeterProvider(
    resource=Resource.create({"service.name": "py-shop", "host.name": "h1"}),
    metric_readers=[reader],
    shutdown_on_exit=False,
)
meter = provider.get_meter("otel_client")
requests = meter.create_counter("requests", unit="{request}")
inflight = meter.create_up_down_counter("inflight", unit="{request}")
latency = meter.create_histogram("latency", unit="ms")
queue = meter.create_gauge("queue_depth", unit="1")

# Keep a round's export inside one minute, so that each lands in a known window: a round
# starts at least this long before the minute ends (more for an export that will retry).
margin_ms = int(os.environ.get("OTEL_CLIENT_MINUTE_MARGIN_MS", "1500"))
for _ in range(rounds):
    while 60_000 - (time.time() * 1000) % 60_000 < margin_ms:
        time.sleep(0.2)
    recorded = {"requests": {}, "inflight": {}, "latency": {}, "queue_depth": {}}
    for route in ("/a", "/b"):
        attrs = {"route": route}
        n = rng.randint(1, 20)
        requests.add(n, attrs)
        recorded["requests"][route] = [n]
        d = rng.randint(-3, 5)
        inflight.add(d, attrs)
        recorded["inflight"][route] = [d]
        values = [round(rng.uniform(0.5, 900.0), 3) for _ in range(rng.randint(1, 30))]
        for v in values:
            latency.record(v, attrs)
        recorded["latency"][route] = values
        g = rng.randint(0, 100)
        queue.set(g, attrs)
        recorded["queue_depth"][route] = [g]
    before = int(time.time() * 1000)
    assert provider.force_flush(10_000), "export failed"
    after = int(time.time() * 1000)
    print(json.dumps({"before_ms": before, "after_ms": after, "recorded": recorded}), flush=True)
