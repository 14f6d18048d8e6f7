// Records a fixed set of metrics with the OpenTelemetry SDK for Node and exports them with its
// OTLP/HTTP exporter, which sends OTLP JSON, or with its OTLP/gRPC exporter when
// OTEL_EXPORTER_OTLP_METRICS_PROTOCOL is `grpc`: node otel_client.js <rounds>
//
// The exporter is configured by the standard environment variables only
// (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, ...).
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram
// (which the Python SDK reads, and the Node exporters do not) is applied here as the exporter's
// aggregation preference: histograms are then exponential.
// Each round records into every series, then forceFlush() exports: one point per series and
// round. Prints one JSON line per round: when its export ran (ms, before and after) and what
// each series recorded, keyed by instrument and then by the attribute `route`.
const { AggregationType, InstrumentType, MeterProvider, PeriodicExportingMetricReader } = require("@opentelemetry/sdk-metrics");
const grpc = process.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL === "grpc";
const { OTLPMetricExporter } = require(
  grpc ? "@opentelemetry/exporter-metrics-otlp-grpc" : "@opentelemetry/exporter-metrics-otlp-http",
);
const exponential =
  process.env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION === "base2_exponential_bucket_histogram";
const { resourceFromAttributes } = require("@opentelemetry/resources");

const rounds = Number(process.argv[2]);
// A small deterministic generator (mulberry32), so runs are repeatable.
let seed = 11;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  // forceFlush() resolves even when the export failed: the exporter's own result says.
  const exporter = new OTLPMetricExporter(
    exponential
      ? {
          aggregationPreference: (kind) =>
            kind === InstrumentType.HISTOGRAM
              ? { type: AggregationType.EXPONENTIAL_HISTOGRAM }
              : { type: AggregationType.DEFAULT },
        }
      : {},
  );
  let failed = null;
  const exportBatch = exporter.export.bind(exporter);
  exporter.export = (metrics, done) =>
    exportBatch(metrics, (result) => {
      if (result.code !== 0) failed = result.error || new Error(`export failed: ${result.code}`);
      done(result);
    });
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": "node-shop", "host.name": "h1" }),
    readers: [reader],
  });
  const meter = provider.getMeter("otel_client");
  const requests = meter.createCounter("requests", { unit: "{request}" });
  const inflight = meter.createUpDownCounter("inflight", { unit: "{request}" });
  const latency = meter.createHistogram("latency", { unit: "ms" });
  const queue = meter.createGauge("queue_depth", { unit: "1" });
  for (let r = 0; r < rounds; r++) {
    // Keep a round's export inside one minute, so that each lands in a known window.
    while (60_000 - (Date.now() % 60_000) < 1500) await sleep(200);
    const recorded = { requests: {}, inflight: {}, latency: {}, queue_depth: {} };
    for (const route of ["/a", "/b"]) {
      const attrs = { route };
      const n = int(1, 20);
      requests.add(n, attrs);
      recorded.requests[route] = [n];
      const d = int(-3, 5);
      inflight.add(d, attrs);
      recorded.inflight[route] = [d];
      const values = Array.from({ length: int(1, 30) }, () => Math.round(rand() * 900_000) / 1000 + 0.5);
      values.forEach((v) => latency.record(v, attrs));
      recorded.latency[route] = values;
      const g = int(0, 100);
      queue.record(g, attrs);
      recorded.queue_depth[route] = [g];
    }
    const before = Date.now();
    await provider.forceFlush();
    const after = Date.now();
    if (failed) throw failed;
    console.log(JSON.stringify({ before_ms: before, after_ms: after, recorded }));
  }
  // No shutdown: it would export once more, a point per series with nothing new recorded.
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
