//! The publisher against a scripted sink, on a manual clock: retries, backoff, bisection,
//! splitting, expiry and flush counts, with no HTTP and no real sleeping.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{MAX_IN_FLIGHT, Publisher};
use crate::clock::{Clock, ManualClock};
use crate::publish::backoff::ceiling;
use crate::publish::outbox::{MAX_DATUM_AGE_MS, Outbox};
use crate::publish::rate::AdaptiveRate;
use crate::publish::sink::{BoxFuture, ErrorClass, PutError, PutMetricData};
use crate::publish::tracker::{FlushCounts, FlushTracker};
use crate::telemetry::Telemetry;
use cw_core::domain::units::{Resolution, Unit};
use cw_core::pipeline::buffer::Buffer;
use cw_core::publish::batch::Batch;
use cw_core::publish::datum::{Datum, DatumValues};

const START_MS: i64 = 1_800_000_000_000;
/// How far the manual clock moves per step while the tests wait for the publisher.
const STEP: Duration = Duration::from_millis(10);

type Rule = Box<dyn Fn(&Batch) -> Option<ErrorClass> + Send + Sync>;

struct Call {
    at: Duration,
    batch: Batch,
    failed: Option<ErrorClass>,
}

/// A sink that fails the next calls as scripted, then as `rule` says; optionally each call
/// first waits for a permit of `gate`.
struct ScriptedSink {
    clock: Arc<ManualClock>,
    script: Mutex<VecDeque<ErrorClass>>,
    rule: Rule,
    gate: Option<Arc<Semaphore>>,
    calls: Mutex<Vec<Call>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl PutMetricData for ScriptedSink {
    fn put<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PutError>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("never closed").forget();
            }
            let scripted = self.script.lock().unwrap().pop_front();
            let failed = scripted.or_else(|| (self.rule)(batch));
            let at = self.clock.elapsed();
            self.calls.lock().unwrap().push(Call { at, batch: batch.clone(), failed });
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            match failed {
                None => Ok(()),
                Some(class) => Err(PutError { class, code: None, message: format!("scripted {class:?}") }),
            }
        })
    }
}

struct Harness {
    clock: Arc<ManualClock>,
    sink: Arc<ScriptedSink>,
    outbox: Arc<Outbox>,
    rate: Arc<AdaptiveRate>,
    telemetry: Arc<Telemetry>,
    budget: Arc<Buffer>,
    stop: CancellationToken,
    running: JoinHandle<()>,
}

fn start(script: Vec<ErrorClass>, rule: impl Fn(&Batch) -> Option<ErrorClass> + Send + Sync + 'static) -> Harness {
    start_gated(script, rule, None)
}

fn start_gated(
    script: Vec<ErrorClass>,
    rule: impl Fn(&Batch) -> Option<ErrorClass> + Send + Sync + 'static,
    gate: Option<Arc<Semaphore>>,
) -> Harness {
    let clock = ManualClock::new(START_MS);
    let sink = Arc::new(ScriptedSink {
        clock: clock.clone(),
        script: Mutex::new(script.into()),
        rule: Box::new(rule),
        gate,
        calls: Mutex::default(),
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let budget = Arc::new(Buffer::new(1_000_000));
    let telemetry = Arc::new(Telemetry::default());
    let outbox = Arc::new(Outbox::new(budget.clone(), telemetry.clone(), clock.clone()));
    let rate = Arc::new(AdaptiveRate::new(1000, clock.clone()));
    let publisher =
        Arc::new(Publisher::new(outbox.clone(), sink.clone(), rate.clone(), telemetry.clone(), clock.clone()));
    let stop = CancellationToken::new();
    let running = tokio::spawn(publisher.run(stop.clone()));
    Harness { clock, sink, outbox, rate, telemetry, budget, stop, running }
}

fn datum(name: &str, timestamp: i64) -> Datum {
    Datum {
        namespace: Arc::from("Test"),
        metric_name: name.to_string(),
        dimensions: Vec::new(),
        timestamp,
        unit: Unit::Count,
        storage_resolution: Resolution::Standard,
        values: DatumValues::Distribution { values: vec![1.0], counts: vec![1.0] },
    }
}

fn batch(datums: Vec<Datum>) -> Batch {
    Batch { namespace: Arc::from("Test"), metric_data: datums }
}

/// `n` fresh datums named `Good0`, `Good1`, ...
fn good(n: usize) -> Vec<Datum> {
    (0..n).map(|i| datum(&format!("Good{i}"), START_MS)).collect()
}

fn named(name: &'static str) -> impl Fn(&Batch) -> Option<ErrorClass> + Send + Sync {
    move |b| b.metric_data.iter().any(|d| d.metric_name == name).then_some(ErrorClass::Invalid)
}

async fn let_tasks_run() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

impl Harness {
    /// Queues `batches` followed by a new tracker; their datums hold budget slots, as
    /// after a flush.
    fn push(&self, batches: Vec<Batch>) -> Arc<FlushTracker> {
        let tracker = Arc::new(FlushTracker::new(self.clock.clone()));
        self.hold_budget(&batches);
        self.outbox.push(batches, Some(&tracker));
        tracker
    }

    fn hold_budget(&self, batches: &[Batch]) {
        let n = batches.iter().map(Batch::len).sum();
        self.budget.reserve_past_bound(n).keep(n);
    }

    /// Lets the publisher work, moving the manual clock a step at a time, until nothing
    /// `tracker` follows is left.
    async fn settle(&self, tracker: &FlushTracker) -> FlushCounts {
        for _ in 0..100_000 {
            let_tasks_run().await;
            if tracker.counts().retrying == 0 {
                return tracker.counts();
            }
            self.clock.advance(STEP);
        }
        panic!("not settled after {:?}: {:?}", self.clock.elapsed(), tracker.counts());
    }

    fn calls(&self) -> Vec<(Duration, usize, Option<ErrorClass>)> {
        self.sink.calls.lock().unwrap().iter().map(|c| (c.at, c.batch.len(), c.failed)).collect()
    }

    /// Metric names of every datum CloudWatch accepted, in order.
    fn published_names(&self) -> Vec<String> {
        let calls = self.sink.calls.lock().unwrap();
        let ok = calls.iter().filter(|c| c.failed.is_none());
        ok.flat_map(|c| c.batch.metric_data.iter().map(|d| d.metric_name.clone())).collect()
    }

    fn metric(&self, line_start: &str) -> f64 {
        let text = self.telemetry.encode();
        let line = text.lines().find(|l| l.starts_with(line_start)).unwrap_or_else(|| panic!("{line_start}"));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    }

    /// Stops the publisher and checks the outbox and the budget are empty.
    async fn finish(self) {
        self.stop.cancel();
        self.running.await.unwrap();
        assert_eq!(self.outbox.batch_count(), 0, "the outbox is empty");
        assert_eq!(self.budget.used(), 0, "every datum's slot was released");
    }
}

#[tokio::test]
async fn throttling_server_errors_and_access_denied_are_retried_with_backoff_until_published_once() {
    use ErrorClass::*;
    let h = start(vec![Throttled, Transient, Auth, Throttled], |_| None);
    let tracker = h.push(vec![batch(good(50))]);
    let counts = h.settle(&tracker).await;
    assert_eq!(counts, FlushCounts { published: 50, ..FlushCounts::default() });
    let calls = h.calls();
    let outcomes: Vec<_> = calls.iter().map(|c| c.2).collect();
    assert_eq!(outcomes, vec![Some(Throttled), Some(Transient), Some(Auth), Some(Throttled), None]);
    for (i, pair) in calls.windows(2).enumerate() {
        let gap = pair[1].0 - pair[0].0;
        let most = ceiling(i as u32 + 1);
        assert!(gap >= most / 2 && gap <= most + 2 * STEP, "wait {i}: {gap:?} for at most {most:?}");
    }
    let names: BTreeSet<String> = h.published_names().into_iter().collect();
    assert_eq!((h.published_names().len(), names.len()), (50, 50), "each datum exactly once");
    let totals = h.telemetry.totals();
    assert_eq!((totals.datums_published, totals.publish_failures, totals.throttled_requests), (50, 4, 2));
    assert_eq!(h.metric("cw_sidecar_publish_retries_total"), 4.0);
    assert_eq!(h.metric("cw_sidecar_put_metric_data_calls_total{outcome=\"auth\"}"), 1.0);
    assert!(h.rate.current() <= 500, "throttling lowered the rate: {}", h.rate.current());
    h.finish().await;
}

#[tokio::test]
async fn a_throttle_halves_the_rate_and_quiet_success_raises_it_again() {
    let h = start(vec![ErrorClass::Throttled], |_| None);
    let tracker = h.push(vec![batch(good(3))]);
    h.settle(&tracker).await;
    assert_eq!(h.rate.current(), 500);
    h.clock.advance(Duration::from_secs(5));
    let tracker = h.push(vec![batch(good(3))]);
    h.settle(&tracker).await;
    assert_eq!(h.rate.current(), 600, "a tenth of the maximum back after a quiet 5 s");
    h.finish().await;
}

#[tokio::test]
async fn one_invalid_datum_among_41_is_bisected_out_and_dropped_alone() {
    let h = start(vec![], named("InvalidOne"));
    let mut datums = good(40);
    datums.insert(17, datum("InvalidOne", START_MS));
    let tracker = h.push(vec![batch(datums)]);
    let counts = h.settle(&tracker).await;
    assert_eq!(counts, FlushCounts { published: 40, rejected: 1, ..FlushCounts::default() });
    let names = h.published_names();
    assert_eq!(names.len(), 40);
    assert!(!names.iter().any(|n| n == "InvalidOne"));
    // One call, then two per level down to the lone datum: 1 + 2 * ceil(log2(41)) at most.
    assert!(h.calls().len() <= 13, "{} calls", h.calls().len());
    assert_eq!(h.metric("cw_sidecar_datums_dropped_total{reason=\"invalid\"}"), 1.0);
    assert_eq!(h.telemetry.totals().datums_published, 40);
    h.finish().await;
}

#[tokio::test]
async fn a_request_too_large_is_split_until_it_fits_and_a_datum_too_large_alone_is_dropped() {
    let too_large = |b: &Batch| {
        let huge = b.metric_data.iter().any(|d| d.metric_name == "Huge");
        (b.len() > 8 || huge).then_some(ErrorClass::TooLarge)
    };
    let h = start(vec![], too_large);
    let mut datums = good(40);
    datums.push(datum("Huge", START_MS));
    let tracker = h.push(vec![batch(datums)]);
    let counts = h.settle(&tracker).await;
    assert_eq!(counts, FlushCounts { published: 40, rejected: 1, ..FlushCounts::default() });
    let calls = h.calls();
    assert!(calls.iter().filter(|c| c.2.is_none()).all(|c| c.1 <= 8));
    assert_eq!(h.published_names().len(), 40);
    assert_eq!(h.metric("cw_sidecar_datums_dropped_total{reason=\"too_large\"}"), 1.0);
    assert_eq!(h.metric("cw_sidecar_publish_retries_total"), 0.0, "splitting is not retrying");
    h.finish().await;
}

#[tokio::test]
async fn datums_past_cloudwatchs_window_are_expired_before_an_attempt() {
    let h = start(vec![], |_| None);
    let too_old = START_MS - MAX_DATUM_AGE_MS - 1;
    let mut mixed = vec![datum("Old0", too_old), datum("Old1", too_old)];
    mixed.extend(good(2));
    mixed.push(datum("Oldest", too_old - 3_600_000));
    let all_old = batch(vec![datum("Old2", too_old), datum("Old3", too_old)]);
    let tracker = h.push(vec![batch(mixed), all_old]);
    let counts = h.settle(&tracker).await;
    assert_eq!(counts, FlushCounts { published: 2, expired: 5, ..FlushCounts::default() });
    assert_eq!(h.calls().len(), 1, "a batch with nothing left is never sent");
    assert_eq!(h.published_names(), vec!["Good0", "Good1"]);
    assert_eq!(h.metric("cw_sidecar_datums_dropped_total{reason=\"expired\"}"), 5.0);
    h.finish().await;
}

#[tokio::test]
async fn a_datum_that_ages_out_while_retried_is_expired_not_sent_again() {
    let h = start(vec![ErrorClass::Transient], |_| None);
    // Inside the window for 50 ms more; the first backoff is at least 125 ms.
    let tracker = h.push(vec![batch(vec![datum("Aging", START_MS - MAX_DATUM_AGE_MS + 50)])]);
    let counts = h.settle(&tracker).await;
    assert_eq!(counts, FlushCounts { expired: 1, ..FlushCounts::default() });
    assert_eq!(h.calls().len(), 1);
    h.finish().await;
}

#[tokio::test]
async fn flush_counts_follow_every_fate_including_batches_queued_before_the_flush() {
    let h = start(vec![], named("Bad"));
    let earlier = vec![batch(vec![datum("Early", START_MS), datum("Bad", START_MS)])];
    h.hold_budget(&earlier);
    h.outbox.push(earlier, None);
    // Nothing ran yet: the tracker follows the earlier batch from the start.
    let tracker = Arc::new(FlushTracker::new(h.clock.clone()));
    h.outbox.track_all(&tracker);
    let now = vec![batch(vec![datum("Late", START_MS), datum("Old", START_MS - MAX_DATUM_AGE_MS - 1)])];
    h.hold_budget(&now);
    h.outbox.push(now, Some(&tracker));
    assert_eq!(tracker.counts(), FlushCounts { retrying: 4, ..FlushCounts::default() });
    let counts = h.settle(&tracker).await;
    assert_eq!(counts, FlushCounts { published: 2, rejected: 1, expired: 1, retrying: 0 });
    h.finish().await;
}

#[tokio::test]
async fn at_most_four_calls_are_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let h = start_gated(vec![], |_| None, Some(gate.clone()));
    let batches: Vec<Batch> = (0..10).map(|i| batch(vec![datum(&format!("M{i}"), START_MS)])).collect();
    let tracker = h.push(batches);
    let_tasks_run().await;
    assert_eq!(h.sink.in_flight.load(Ordering::SeqCst), MAX_IN_FLIGHT);
    gate.add_permits(10);
    let counts = h.settle(&tracker).await;
    assert_eq!(counts.published, 10);
    assert_eq!(h.sink.peak.load(Ordering::SeqCst), MAX_IN_FLIGHT);
    h.finish().await;
}

#[tokio::test]
async fn stopping_waits_for_the_attempts_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let h = start_gated(vec![], |_| None, Some(gate.clone()));
    let tracker = h.push(vec![batch(good(2))]);
    let_tasks_run().await;
    assert_eq!(h.sink.in_flight.load(Ordering::SeqCst), 1);
    h.stop.cancel();
    let_tasks_run().await;
    assert!(!h.running.is_finished(), "an attempt is still in flight");
    gate.add_permits(1);
    let_tasks_run().await;
    assert!(h.running.is_finished(), "the publisher returned once the attempt was done");
    assert_eq!(tracker.counts(), FlushCounts { published: 2, ..FlushCounts::default() });
    h.finish().await;
}
