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

pub(crate) mod cost;
pub(crate) mod environment;
mod http;
pub use http::OverLimit;
pub(crate) mod lines;
pub(crate) mod memory;
pub(crate) mod remote_write;
pub mod scrape;
pub(crate) mod spool;

use cw_core::reasons::{
    DropReason, LineOutcome, LineReject, LineWarning, OtlpOutcome, OtlpReject, PutOutcome, RefuseReason, RejectReason,
    UdpDrop,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
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
    input_lines: Family<InputOutcome, Counter>,
    input_lines_rejected: Family<InputReason, Counter>,
    input_warnings: Family<InputReason, Counter>,
    udp_dropped: Family<InputReason, Counter>,
    otlp_points: Family<Outcome, Counter>,
    otlp_points_rejected: Family<Reason, Counter>,
    otlp_streams: Gauge,
    /// The HTTP listeners' connections.
    pub http: http::Connections,
    /// Cost control: the series budget, the rules, the calls of the last hour.
    pub cost: cost::Cost,
    /// Per scrape target.
    pub scrape: scrape::Scrapes,
    pub(crate) remote_write: remote_write::RemoteWrite,
    pub(crate) spool: spool::Spool,
    pub(crate) lines: lines::Lines,
    pub(crate) environment: environment::Environment,
    pub(crate) memory: memory::Memory,
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
            input_lines: Family::default(),
            input_lines_rejected: Family::default(),
            input_warnings: Family::default(),
            udp_dropped: Family::default(),
            otlp_points: Family::default(),
            otlp_points_rejected: Family::default(),
            otlp_streams: Gauge::default(),
            http: http::Connections::default(),
            cost: cost::Cost::default(),
            scrape: scrape::Scrapes::default(),
            remote_write: remote_write::RemoteWrite::default(),
            spool: spool::Spool::default(),
            lines: lines::Lines::default(),
            environment: environment::Environment::default(),
            memory: memory::Memory::default(),
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
        t.http.register(&mut registry);
        t.cost.register(&mut registry);
        t.scrape.register(&mut registry);
        t.remote_write.register(&mut registry);
        t.spool.register(&mut registry);
        t.lines.register(&mut registry);
        t.environment.register(&mut registry);
        t.memory.register(&mut registry);
        // Every label value starts at 0, so dashboards and alerts see them before they move.
        for r in RejectReason::ALL {
            drop(t.records_rejected.get_or_create(&Reason { reason: r.label() }));
        }
        for r in RefuseReason::ALL {
            drop(t.requests_refused.get_or_create(&Reason { reason: r.label() }));
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

    fn rollup_skipped(&self, rule: &str) {
        self.cost.rollup_skipped(rule);
    }

    fn series_overflow(&self, bound: cw_core::reasons::SeriesBound, n: usize) {
        self.cost.overflowed(bound, n);
    }

    fn series_refused(&self, bound: cw_core::reasons::SeriesBound, n: usize) {
        self.cost.refused(bound, n);
    }

    fn catalog_undeclared(&self, reason: cw_core::reasons::CatalogReason, refused: bool) {
        self.cost.undeclared(reason, if refused { "strict" } else { "lenient" });
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
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
