//! The sidecar's own counters: Prometheus text on `/metrics`, and per-flush deltas that
//! are published to CloudWatch as self metrics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub(crate) mod lines;
pub mod scrape;
pub(crate) mod spool;

use cw_core::reasons::{
    DropReason, LineOutcome, LineReject, LineWarning, OtlpOutcome, OtlpReject, PutOutcome, RefuseReason, RejectReason,
    TimeoutPhase, UdpDrop,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Phase {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputOutcome {
    input: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputReason {
    input: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// Totals behind the self metrics, kept apart from the labelled families so deltas are cheap.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Totals {
    pub records_accepted: u64,
    pub records_rejected: u64,
    pub datums_published: u64,
    pub datums_dropped: u64,
    pub publish_failures: u64,
    pub throttled_requests: u64,
    /// Datagrams and lines the UDP inputs lost, for every reason (the kernel's drops included).
    pub udp_dropped: u64,
}

pub(crate) struct Telemetry {
    registry: Registry,
    records_received: Counter,
    records_accepted: Counter,
    records_rejected: Family<Reason, Counter>,
    requests_refused: Family<Reason, Counter>,
    datums_published: Counter,
    put_calls: Family<Outcome, Counter>,
    retries: Counter,
    throttles: Counter,
    datums_dropped: Family<Reason, Counter>,
    buffered_datums: Gauge,
    active_series: Gauge,
    put_rate_limit: Gauge,
    publish_latency: Histogram,
    connections_active: Gauge,
    connection_limit: Gauge,
    connections_refused: Counter,
    connections_timed_out: Family<Phase, Counter>,
    accept_errors: Counter,
    body_bytes_in_flight: Gauge,
    input_lines: Family<InputOutcome, Counter>,
    input_lines_rejected: Family<InputReason, Counter>,
    input_warnings: Family<InputReason, Counter>,
    udp_dropped: Family<InputReason, Counter>,
    otlp_points: Family<Outcome, Counter>,
    otlp_points_rejected: Family<Reason, Counter>,
    otlp_streams: Gauge,
    /// Per scrape target.
    pub scrape: scrape::Scrapes,
    pub(crate) spool: spool::Spool,
    pub(crate) lines: lines::Lines,
    rejected_total: AtomicU64,
    dropped_total: AtomicU64,
    failures_total: AtomicU64,
    udp_dropped_total: AtomicU64,
    last_reported: Mutex<Totals>,
}

impl Default for Telemetry {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("cw_sidecar");
        let t = Telemetry {
            records_received: Counter::default(),
            records_accepted: Counter::default(),
            records_rejected: Family::default(),
            requests_refused: Family::default(),
            datums_published: Counter::default(),
            put_calls: Family::default(),
            retries: Counter::default(),
            throttles: Counter::default(),
            datums_dropped: Family::default(),
            buffered_datums: Gauge::default(),
            active_series: Gauge::default(),
            put_rate_limit: Gauge::default(),
            publish_latency: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            connections_active: Gauge::default(),
            connection_limit: Gauge::default(),
            connections_refused: Counter::default(),
            connections_timed_out: Family::default(),
            accept_errors: Counter::default(),
            body_bytes_in_flight: Gauge::default(),
            input_lines: Family::default(),
            input_lines_rejected: Family::default(),
            input_warnings: Family::default(),
            udp_dropped: Family::default(),
            otlp_points: Family::default(),
            otlp_points_rejected: Family::default(),
            otlp_streams: Gauge::default(),
            scrape: scrape::Scrapes::default(),
            spool: spool::Spool::default(),
            lines: lines::Lines::default(),
            rejected_total: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            failures_total: AtomicU64::new(0),
            udp_dropped_total: AtomicU64::new(0),
            last_reported: Mutex::new(Totals::default()),
            registry: Registry::default(),
        };
        registry.register("records_received", "Records received on /v1/metrics", t.records_received.clone());
        registry.register("records_accepted", "Records accepted into aggregation", t.records_accepted.clone());
        registry.register("records_rejected", "Records rejected, by the rule they broke", t.records_rejected.clone());
        registry.register(
            "requests_refused",
            "Ingest requests refused as a whole, by reason",
            t.requests_refused.clone(),
        );
        registry.register("datums_published", "Datums CloudWatch accepted", t.datums_published.clone());
        registry.register("put_metric_data_calls", "PutMetricData calls, by outcome", t.put_calls.clone());
        registry.register(
            "publish_retries",
            "PutMetricData attempts scheduled again after a failure",
            t.retries.clone(),
        );
        registry.register("throttled_requests", "PutMetricData calls CloudWatch throttled", t.throttles.clone());
        registry.register("datums_dropped", "Datums given up on, by reason", t.datums_dropped.clone());
        registry.register(
            "buffered_datums",
            "Datums in memory: unpublished ones and those open windows will make",
            t.buffered_datums.clone(),
        );
        registry.register("active_series", "Series with an open window", t.active_series.clone());
        registry.register("put_rate_limit", "PutMetricData calls per second now allowed", t.put_rate_limit.clone());
        registry.register("publish_latency_seconds", "Duration of PutMetricData calls", t.publish_latency.clone());
        registry.register("connections_active", "HTTP connections open now", t.connections_active.clone());
        registry.register(
            "connection_limit",
            "Effective bound on HTTP connections (max_connections, capped by the open-files limit)",
            t.connection_limit.clone(),
        );
        registry.register(
            "connections_refused",
            "HTTP connections closed at once because connection_limit were open",
            t.connections_refused.clone(),
        );
        registry.register(
            "connections_timed_out",
            "HTTP connections closed for time, by the phase they were in",
            t.connections_timed_out.clone(),
        );
        registry.register("accept_errors", "Failed accepts (such as too many open files)", t.accept_errors.clone());
        registry.register(
            "body_bytes_in_flight",
            "Bytes of request bodies held in memory (bounded by max_body_bytes_in_flight)",
            t.body_bytes_in_flight.clone(),
        );
        registry.register("input_lines", "Lines of line-based inputs, by input and outcome", t.input_lines.clone());
        registry.register(
            "input_lines_rejected",
            "Lines of line-based inputs rejected, by input and reason",
            t.input_lines_rejected.clone(),
        );
        registry.register(
            "input_warnings",
            "Lines taken with a correction, by input and reason",
            t.input_warnings.clone(),
        );
        registry.register(
            "udp_dropped",
            "UDP data lost: datagrams the kernel dropped, lines the pipeline refused",
            t.udp_dropped.clone(),
        );
        registry.register("otlp_points", "OTLP data points, by outcome", t.otlp_points.clone());
        registry.register(
            "otlp_points_rejected",
            "OTLP data points rejected (reported in partial_success), by reason",
            t.otlp_points_rejected.clone(),
        );
        registry.register(
            "otlp_streams",
            "Cumulative OTLP streams remembered (bounded by otlp.max_streams)",
            t.otlp_streams.clone(),
        );
        for o in OtlpOutcome::ALL {
            drop(t.otlp_points.get_or_create(&Outcome { outcome: o.label() }));
        }
        for r in OtlpReject::ALL {
            drop(t.otlp_points_rejected.get_or_create(&Reason { reason: r.label() }));
        }
        t.scrape.register(&mut registry);
        t.spool.register(&mut registry);
        t.lines.register(&mut registry);
        // Every label value starts at 0, so dashboards and alerts see them before they move.
        for r in RejectReason::ALL {
            drop(t.records_rejected.get_or_create(&Reason { reason: r.label() }));
        }
        for r in RefuseReason::ALL {
            drop(t.requests_refused.get_or_create(&Reason { reason: r.label() }));
        }
        for p in TimeoutPhase::ALL {
            drop(t.connections_timed_out.get_or_create(&Phase { phase: p.label() }));
        }
        for o in PutOutcome::ALL {
            drop(t.put_calls.get_or_create(&Outcome { outcome: o.label() }));
        }
        for r in DropReason::ALL {
            drop(t.datums_dropped.get_or_create(&Reason { reason: r.label() }));
        }
        Telemetry { registry, ..t }
    }
}

/// The pipeline's counts, in the families above.
impl cw_core::pipeline::Counters for Telemetry {
    fn received(&self, n: usize) {
        self.records_received(n);
    }

    fn rejected(&self, reason: RejectReason) {
        self.record_rejected(reason);
    }

    fn accepted(&self, n: usize) {
        self.records_accepted(n);
    }

    fn refused(&self, reason: RefuseReason) {
        self.request_refused(reason);
    }
}

impl Telemetry {
    /// A line-based input's counters, all at zero, so that `/metrics` shows every outcome and
    /// reason of an input that runs before it first happens.
    pub fn line_input(&self, input: &'static str) {
        for o in LineOutcome::ALL {
            drop(self.input_lines.get_or_create(&InputOutcome { input, outcome: o.label() }));
        }
        for r in LineReject::ALL {
            drop(self.input_lines_rejected.get_or_create(&InputReason { input, reason: r.label() }));
        }
        for r in LineWarning::ALL {
            drop(self.input_warnings.get_or_create(&InputReason { input, reason: r.label() }));
        }
        for r in UdpDrop::ALL {
            drop(self.udp_dropped.get_or_create(&InputReason { input, reason: r.label() }));
        }
    }

    pub fn records_received(&self, n: usize) {
        self.records_received.inc_by(n as u64);
    }

    pub fn records_accepted(&self, n: usize) {
        self.records_accepted.inc_by(n as u64);
    }

    pub fn record_rejected(&self, reason: RejectReason) {
        self.records_rejected.get_or_create(&Reason { reason: reason.label() }).inc();
        self.rejected_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_refused(&self, reason: RefuseReason) {
        self.requests_refused.get_or_create(&Reason { reason: reason.label() }).inc();
    }

    pub fn input_lines(&self, input: &'static str, outcome: LineOutcome, n: usize) {
        self.input_lines.get_or_create(&InputOutcome { input, outcome: outcome.label() }).inc_by(n as u64);
    }

    pub fn input_line_rejected(&self, input: &'static str, reason: LineReject) {
        self.input_lines_rejected.get_or_create(&InputReason { input, reason: reason.label() }).inc();
    }

    pub fn input_warning(&self, input: &'static str, reason: LineWarning) {
        self.input_warnings.get_or_create(&InputReason { input, reason: reason.label() }).inc();
    }

    pub fn udp_dropped(&self, input: &'static str, reason: UdpDrop, n: u64) {
        self.udp_dropped.get_or_create(&InputReason { input, reason: reason.label() }).inc_by(n);
        self.udp_dropped_total.fetch_add(n, Ordering::Relaxed);
    }

    pub fn otlp_points(&self, outcome: OtlpOutcome, n: usize) {
        if n > 0 {
            self.otlp_points.get_or_create(&Outcome { outcome: outcome.label() }).inc_by(n as u64);
        }
    }

    pub fn set_otlp_streams(&self, n: usize) {
        self.otlp_streams.set(n as i64);
    }

    pub fn otlp_point_rejected(&self, reason: OtlpReject) {
        self.otlp_points_rejected.get_or_create(&Reason { reason: reason.label() }).inc();
    }

    /// One PutMetricData call finished.
    pub fn put_call(&self, outcome: PutOutcome, seconds: f64) {
        self.put_calls.get_or_create(&Outcome { outcome: outcome.label() }).inc();
        self.publish_latency.observe(seconds);
        if outcome != PutOutcome::Success {
            self.failures_total.fetch_add(1, Ordering::Relaxed);
        }
        if outcome == PutOutcome::Throttled {
            self.throttles.inc();
        }
    }

    pub fn datums_published(&self, n: usize) {
        self.datums_published.inc_by(n as u64);
    }

    pub fn retry(&self) {
        self.retries.inc();
    }

    pub fn datums_dropped(&self, reason: DropReason, n: usize) {
        self.datums_dropped.get_or_create(&Reason { reason: reason.label() }).inc_by(n as u64);
        self.dropped_total.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn set_gauges(&self, buffered: usize, active_series: usize, rate: u32) {
        self.buffered_datums.set(buffered as i64);
        self.active_series.set(active_series as i64);
        self.put_rate_limit.set(rate as i64);
    }

    pub fn connection_opened(&self) {
        self.connections_active.inc();
    }

    pub fn connection_closed(&self) {
        self.connections_active.dec();
    }

    pub fn set_connection_limit(&self, limit: usize) {
        self.connection_limit.set(i64::try_from(limit).unwrap_or(i64::MAX));
    }

    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    pub fn connection_timed_out(&self, phase: TimeoutPhase) {
        self.connections_timed_out.get_or_create(&Phase { phase: phase.label() }).inc();
    }

    pub fn accept_error(&self) {
        self.accept_errors.inc();
    }

    pub fn set_body_bytes_in_flight(&self, bytes: usize) {
        self.body_bytes_in_flight.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn totals(&self) -> Totals {
        Totals {
            records_accepted: self.records_accepted.get(),
            records_rejected: self.rejected_total.load(Ordering::Relaxed),
            datums_published: self.datums_published.get(),
            datums_dropped: self.dropped_total.load(Ordering::Relaxed),
            publish_failures: self.failures_total.load(Ordering::Relaxed),
            throttled_requests: self.throttles.get(),
            udp_dropped: self.udp_dropped_total.load(Ordering::Relaxed),
        }
    }

    /// What happened since the last call: the values of the per-flush self metrics.
    pub fn take_deltas(&self) -> Totals {
        let now = self.totals();
        let mut last = self.last_reported.lock().unwrap_or_else(|e| e.into_inner());
        let delta = Totals {
            records_accepted: now.records_accepted - last.records_accepted,
            records_rejected: now.records_rejected - last.records_rejected,
            datums_published: now.datums_published - last.datums_published,
            datums_dropped: now.datums_dropped - last.datums_dropped,
            publish_failures: now.publish_failures - last.publish_failures,
            throttled_requests: now.throttled_requests - last.throttled_requests,
            udp_dropped: now.udp_dropped - last.udp_dropped,
        };
        *last = now;
        delta
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_cover_what_happened_since_the_last_flush() {
        let t = Telemetry::default();
        t.records_accepted(5);
        t.record_rejected(RejectReason::Unit);
        t.put_call(PutOutcome::Throttled, 0.01);
        t.put_call(PutOutcome::Success, 0.01);
        t.datums_published(3);
        let d = t.take_deltas();
        assert_eq!(
            d,
            Totals {
                records_accepted: 5,
                records_rejected: 1,
                datums_published: 3,
                datums_dropped: 0,
                publish_failures: 1,
                throttled_requests: 1,
                udp_dropped: 0,
            }
        );
        t.datums_dropped(DropReason::Invalid, 2);
        let d = t.take_deltas();
        assert_eq!((d.records_accepted, d.datums_dropped), (0, 2));
    }

    #[test]
    fn exposition_names_the_counters_with_their_labels() {
        let t = Telemetry::default();
        t.record_rejected(RejectReason::Timestamp);
        t.put_call(PutOutcome::Success, 0.2);
        let text = t.encode();
        assert!(text.contains("cw_sidecar_records_rejected_total{reason=\"timestamp\"} 1"), "{text}");
        assert!(text.contains("cw_sidecar_put_metric_data_calls_total{outcome=\"success\"} 1"), "{text}");
        assert!(text.contains("cw_sidecar_publish_latency_seconds_count 1"), "{text}");
        for phase in ["idle", "header", "body"] {
            let line = format!("cw_sidecar_connections_timed_out_total{{phase=\"{phase}\"}} 0");
            assert!(text.contains(&line), "{line} is there before any timeout: {text}");
        }
        assert!(text.contains("cw_sidecar_requests_refused_total{reason=\"body_budget\"} 0"), "{text}");
    }
}
