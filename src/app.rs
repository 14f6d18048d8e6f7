//! Wires the pieces together: `App::build` binds the listener, `run_until_stopped` serves,
//! flushes on a timer, and on shutdown publishes everything it holds before returning.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::clock::system_now_ms as now_ms;
use crate::config::Config;
use crate::domain::units::{Resolution, Unit};
use crate::pipeline::aggregate::{Aggregator, encode_series_key};
use crate::pipeline::budget::Budget;
use crate::pipeline::validate::{Dims, Payload, Sample};
use crate::publish::batch::into_batches;
use crate::publish::datum::{Datum, datums_for};
use crate::publish::outbox::Outbox;
use crate::publish::publisher::Publisher;
use crate::publish::rate::AdaptiveRate;
use crate::publish::sink::Sink;
use crate::publish::tracker::{FlushCounts, FlushTracker};
use crate::telemetry::Telemetry;

/// Lets shutdown stop ingest and then wait for requests already adding records.
#[derive(Default)]
pub struct IngestGate {
    closed: AtomicBool,
    active: AtomicUsize,
}

pub struct Entered<'g>(&'g IngestGate);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl IngestGate {
    pub fn enter(&self) -> Option<Entered<'_>> {
        self.active.fetch_add(1, Ordering::AcqRel);
        let entered = Entered(self);
        (!self.closed.load(Ordering::Acquire)).then_some(entered)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the gate and waits until no request is inside.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        while self.active.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// State shared by the HTTP handlers, the flush timer and shutdown.
pub struct Shared {
    pub config: Config,
    pub aggregator: Aggregator,
    pub budget: Arc<Budget>,
    pub outbox: Arc<Outbox>,
    pub telemetry: Arc<Telemetry>,
    pub rate: Arc<AdaptiveRate>,
    pub gate: IngestGate,
    pub started: AtomicBool,
}

impl Shared {
    /// Moves windows into the outbox: closed ones, or all with `include_open`. Records the
    /// self metrics of this flush first, so they go out with the windows they describe.
    pub fn flush(&self, include_open: bool, tracker: Option<&Arc<FlushTracker>>) {
        self.record_self_metrics();
        let cutoff = (!include_open).then(now_ms);
        let closed = self.aggregator.drain(cutoff, self.config.window_grace.as_millis() as i64);
        let datums: Vec<Datum> = closed.iter().flat_map(datums_for).collect();
        self.budget.windows_to_datums(closed.len(), datums.len());
        self.outbox.push(into_batches(datums), tracker);
        self.update_gauges();
    }

    /// Publishes everything now, open windows included, and waits up to `shutdown_timeout`.
    pub async fn flush_and_wait(&self) -> FlushCounts {
        let clock = self.outbox.clock().clone();
        let deadline = clock.elapsed() + self.config.shutdown_timeout;
        let tracker = Arc::new(FlushTracker::new(clock));
        self.outbox.track_all(&tracker);
        self.flush(true, Some(&tracker));
        tracker.wait(deadline).await
    }

    /// Adds this flush's self metrics as samples of the current minute. They aggregate like
    /// any series, so an outage costs one datum per metric and minute, whatever the interval.
    fn record_self_metrics(&self) {
        let namespace = self.config.self_metrics_namespace.as_str();
        if namespace.is_empty() {
            return;
        }
        let d = self.telemetry.take_deltas();
        let metrics = [
            ("Heartbeat", 1),
            ("RecordsAccepted", d.records_accepted),
            ("RecordsRejected", d.records_rejected),
            ("DatumsPublished", d.datums_published),
            ("DatumsDropped", d.datums_dropped),
            ("PublishFailures", d.publish_failures),
            ("ThrottledRequests", d.throttled_requests),
            ("BufferedDatums", self.budget.used() as u64),
        ];
        let dims: Dims = self.config.default_dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let now = now_ms();
        let mut key = Vec::new();
        for (name, value) in metrics {
            let sample = Sample {
                namespace,
                name,
                dimensions: dims.clone(),
                unit: Unit::Count,
                resolution: Resolution::Standard,
                timestamp_ms: now,
                payload: Payload::Single(value as f64),
            };
            key.clear();
            encode_series_key(&mut key, &sample);
            let mut slot = self.budget.reserve_past_bound(1);
            if self.aggregator.add(&key, sample.window_start_ms(), sample.payload) {
                slot.keep(1);
            }
        }
    }

    pub fn update_gauges(&self) {
        self.telemetry.set_gauges(self.budget.used(), self.aggregator.active_series(), self.rate.current());
    }
}

/// What shutdown managed to publish, and what it had to leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    pub counts: FlushCounts,
}

impl ShutdownReport {
    pub fn complete(&self) -> bool {
        self.counts.retrying == 0
    }
}

pub struct App {
    listener: TcpListener,
    shared: Arc<Shared>,
    publisher: Arc<Publisher>,
}

impl App {
    /// Binds `config.listen` (port 0 picks a free port) and prepares the pipeline.
    pub async fn build(config: Config, sink: Sink) -> std::io::Result<App> {
        let listener = TcpListener::bind(config.listen).await?;
        let clock = SystemClock::shared();
        let budget = Arc::new(Budget::new(config.max_buffered_datums));
        let telemetry = Arc::new(Telemetry::default());
        let outbox = Arc::new(Outbox::new(budget.clone(), telemetry.clone(), clock.clone()));
        let rate = Arc::new(AdaptiveRate::new(config.max_put_requests_per_second, clock.clone()));
        let publisher =
            Arc::new(Publisher::new(outbox.clone(), Arc::new(sink), rate.clone(), telemetry.clone(), clock));
        let shared = Arc::new(Shared {
            config,
            aggregator: Aggregator::default(),
            budget,
            outbox,
            telemetry,
            rate,
            gate: IngestGate::default(),
            started: AtomicBool::new(false),
        });
        Ok(App { listener, shared, publisher })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then stops ingest (503), publishes everything it
    /// holds, open windows included, and returns within `shutdown_timeout`.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> std::io::Result<ShutdownReport> {
        let App { listener, shared, publisher } = self;
        let stop_publisher = CancellationToken::new();
        let publishing = tokio::spawn(publisher.run(stop_publisher.clone()));

        let stop_timer = CancellationToken::new();
        let timer = tokio::spawn({
            let shared = shared.clone();
            let stop = stop_timer.clone();
            async move {
                let mut ticks = tokio::time::interval(shared.config.flush_interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await;
                loop {
                    tokio::select! {
                        _ = ticks.tick() => {
                            // Draining many series takes a while: keep it off the threads serving ingest.
                            let shared = shared.clone();
                            let _ = tokio::task::spawn_blocking(move || shared.flush(false, None)).await;
                        }
                        _ = stop.cancelled() => return,
                    }
                }
            }
        });

        let stop_server = CancellationToken::new();
        let server = tokio::spawn(
            axum::serve(listener, crate::ingest::http::router(shared.clone()))
                .with_graceful_shutdown(stop_server.clone().cancelled_owned())
                .into_future(),
        );
        shared.started.store(true, Ordering::Release);
        tracing::info!(listen = %shared.config.listen, "cw-sidecar ready");

        shutdown.await;
        tracing::info!("shutting down: refusing new records, publishing everything buffered");
        shared.gate.close().await;
        stop_timer.cancel();
        let _ = timer.await;
        let counts = shared.flush_and_wait().await;
        let report = ShutdownReport { counts };
        if report.complete() {
            tracing::info!(
                published = counts.published,
                rejected = counts.rejected,
                "shutdown complete: everything published"
            );
        } else {
            for ((namespace, metric), datums) in shared.outbox.unpublished_by_metric() {
                tracing::error!(%namespace, %metric, datums, "left unpublished at shutdown");
            }
            tracing::error!(unpublished = counts.retrying, "shutdown_timeout passed before everything was published");
        }
        stop_publisher.cancel();
        let _ = publishing.await;
        stop_server.cancel();
        match tokio::time::timeout(Duration::from_secs(1), server).await {
            Ok(Ok(result)) => result?,
            _ => tracing::warn!("HTTP server did not stop within 1s"),
        }
        Ok(report)
    }
}
