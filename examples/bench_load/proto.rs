//! The bodies of the protobuf loads, shared with the decode-only baseline
//! (`examples/bench_parse_only.rs`): OTLP `ExportMetricsServiceRequest`s (over HTTP, or framed
//! for gRPC) and remote-write 1.0 `WriteRequest`s (snappy block format).
//!
//! Each sender has a shard of its own, as Prometheus' shards or separate SDKs would: 100 data
//! points per request over a stable set of 100 series (10 metrics, 5 cumulative counters and 5
//! gauges, x 10 routes), the shard's id a resource attribute (OTLP) or the `instance` label
//! (remote-write). Every request advances the timestamps (at least 1 ms per request, so that
//! no sample is ever at or before its series' last) and the values: counters grow, gauges
//! change.

use std::time::{SystemTime, UNIX_EPOCH};

use cw_core::ingest::remote_write::wire::{Label, Sample, TimeSeries, WriteRequest};
use hyper::body::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

/// Data points per request.
pub const POINTS: u64 = 100;
const METRICS: usize = 10;
const ROUTES: usize = 10;
/// The gRPC method every OTLP/gRPC request calls.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// What a load sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST /v1/metrics`, `application/x-protobuf`.
    OtlpHttp,
    /// `MetricsService/Export` over HTTP/2.
    OtlpGrpc,
    /// `POST /api/v1/write`, snappy.
    RemoteWrite,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "otlp-http" => Some(Kind::OtlpHttp),
            "otlp-grpc" => Some(Kind::OtlpGrpc),
            "remote-write" => Some(Kind::RemoteWrite),
            _ => None,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Kind::OtlpHttp => "/v1/metrics",
            Kind::OtlpGrpc => EXPORT_PATH,
            Kind::RemoteWrite => "/api/v1/write",
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value)) }),
        ..Default::default()
    }
}

fn is_counter(metric: usize) -> bool {
    metric.is_multiple_of(2)
}

/// A changing gauge reading, from the round and the series.
fn gauge(round: u64, series: usize) -> f64 {
    ((round * 7919 + series as u64 * 104_729) % 10_000) as f64 / 10.0
}

/// A counter's reading at `round`: it grows by 1 to 10 each round.
fn counter(round: u64, series: usize) -> u64 {
    round * (1 + series as u64 % 10)
}

/// One sender's bodies, its values advancing with each.
pub struct Bodies {
    kind: Kind,
    otlp: ExportMetricsServiceRequest,
    write: WriteRequest,
    round: u64,
    last_ms: i64,
    snappy: snap::raw::Encoder,
}

impl Bodies {
    pub fn new(kind: Kind, shard: usize) -> Bodies {
        let start_ns = now_ms() as u64 * 1_000_000;
        let instance = format!("shard-{shard}");
        let metrics = (0..METRICS)
            .map(|m| {
                let points = (0..ROUTES)
                    .map(|r| NumberDataPoint {
                        attributes: vec![kv("route", format!("/api/r{r}")), kv("status", "200".into())],
                        start_time_unix_nano: start_ns,
                        ..Default::default()
                    })
                    .collect();
                let data = if is_counter(m) {
                    Data::Sum(Sum { data_points: points, aggregation_temporality: 2, is_monotonic: true })
                } else {
                    Data::Gauge(Gauge { data_points: points })
                };
                Metric { name: format!("bench.metric{m}"), unit: "1".into(), data: Some(data), ..Default::default() }
            })
            .collect();
        let otlp = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "bench".into()), kv("service.instance.id", instance.clone())],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
                ..Default::default()
            }],
        };
        let label = |name: &str, value: String| Label { name: name.into(), value };
        let timeseries = (0..METRICS * ROUTES)
            .map(|i| {
                let (m, r) = (i / ROUTES, i % ROUTES);
                let name = if is_counter(m) { format!("bench_metric{m}_total") } else { format!("bench_metric{m}") };
                TimeSeries {
                    labels: vec![
                        label("__name__", name),
                        label("instance", instance.clone()),
                        label("job", "bench".into()),
                        label("route", format!("/api/r{r}")),
                    ],
                    samples: vec![Sample::default()],
                }
            })
            .collect();
        Bodies {
            kind,
            otlp,
            write: WriteRequest { timeseries },
            round: 0,
            last_ms: 0,
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// The next request's body, as its kind sends it (framed for gRPC, snappy for
    /// remote-write).
    pub fn next_body(&mut self) -> Bytes {
        self.round += 1;
        let ms = now_ms().max(self.last_ms + 1);
        self.last_ms = ms;
        let round = self.round;
        match self.kind {
            Kind::OtlpHttp | Kind::OtlpGrpc => {
                let metrics = &mut self.otlp.resource_metrics[0].scope_metrics[0].metrics;
                for (m, metric) in metrics.iter_mut().enumerate() {
                    let (points, counts) = match &mut metric.data {
                        Some(Data::Sum(s)) => (&mut s.data_points, true),
                        Some(Data::Gauge(g)) => (&mut g.data_points, false),
                        _ => continue,
                    };
                    for (r, p) in points.iter_mut().enumerate() {
                        let series = m * ROUTES + r;
                        p.time_unix_nano = ms as u64 * 1_000_000;
                        p.value = Some(if counts {
                            Value::AsInt(counter(round, series) as i64)
                        } else {
                            Value::AsDouble(gauge(round, series))
                        });
                    }
                }
                let message = self.otlp.encode_to_vec();
                if self.kind == Kind::OtlpHttp { Bytes::from(message) } else { Bytes::from(framed(&message)) }
            }
            Kind::RemoteWrite => {
                for (i, series) in self.write.timeseries.iter_mut().enumerate() {
                    let value = if is_counter(i / ROUTES) { counter(round, i) as f64 } else { gauge(round, i) };
                    series.samples[0] = Sample { value, timestamp: ms };
                }
                let raw = self.write.encode_to_vec();
                // Infallible for bodies under snappy's 4 GiB bound.
                Bytes::from(self.snappy.compress_vec(&raw).unwrap_or_default())
            }
        }
    }
}

/// A gRPC message with its 5-byte prefix (uncompressed).
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}
