//! The one path every input takes. An input hands [`Pipeline::submit`] its candidate records;
//! the pipeline validates them, adds the default dimensions, admits them against the buffer
//! bound and aggregates them per series and window, and answers with what it accepted, what
//! it rejected by index, or why it refused the whole submission. Each input maps that answer
//! onto its own protocol.

pub(crate) mod gate;
pub mod submission;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::clock::SharedClock;
use crate::pipeline::gate::IngestGate;
use crate::spool::Spool;
use crate::telemetry::Telemetry;
use cw_core::domain::error::ValidationError;
use cw_core::domain::payload::Payload;
use cw_core::pipeline::aggregate;
use cw_core::pipeline::aggregate::plan::Plan;
use cw_core::pipeline::aggregate::{Aggregator, ClosedWindow};
use cw_core::pipeline::budget::Budget;
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::validate::Defaults;
use cw_core::reasons::{RefuseReason, RejectReason};

pub use submission::{Finished, Submission};

/// Who is submitting, and under which rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    pub name: &'static str,
    pub admission: Admission,
    /// Whether its records count in the received/accepted/rejected counters (the self
    /// metrics do not count themselves).
    pub counted: bool,
}

impl Input {
    pub const HTTP: Input = Input { name: "http", admission: Admission::Bounded, counted: true };
    pub const SELF_METRICS: Input = Input { name: "self", admission: Admission::Internal, counted: false };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Refused when the buffer bound would be crossed: the client is told and can retry.
    Bounded,
    /// The sidecar's own handful of series per minute: admitted past the bound, so that they
    /// are not lost to a buffer that clients filled, and while shutting down, because the
    /// flush itself records them just before it drains.
    Internal,
}

/// A record turned away, by its zero-based index in the submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub error: String,
    /// The record's metric name, when it had one (for an input's log lines; not answered).
    #[serde(skip)]
    pub name: Option<String>,
    #[serde(skip)]
    pub reason: RejectReason,
}

/// The answer to a submission that was not refused as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
}

/// Why nothing of a submission was accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("shutting down: not accepting records")]
    ShuttingDown,
    #[error("buffer full: {used} of max_buffered_datums {max} in use; nothing of this request was accepted")]
    BufferFull { used: usize, max: usize, retry_after: Duration },
    /// Even an empty buffer could not take the request's datums. `windows` counts its
    /// distinct series-windows.
    #[error(
        "the request's {windows} series-windows need more datums of the buffer than max_buffered_datums ({max}): split the request"
    )]
    NeverFits { windows: usize, max: usize },
    #[error("spool full: {used} of spool.max_bytes {max} bytes in use; nothing of this request was accepted")]
    SpoolFull { used: u64, max: u64, retry_after: Duration },
    /// Writing the records to the spool failed (logged and counted there).
    #[error("the spool could not write this request's records (see the sidecar's log); nothing of it was accepted")]
    SpoolFailed,
}

impl Refusal {
    pub fn reason(&self) -> RefuseReason {
        match self {
            Refusal::ShuttingDown => RefuseReason::ShuttingDown,
            Refusal::BufferFull { .. } => RefuseReason::BufferFull,
            Refusal::NeverFits { .. } => RefuseReason::TooLarge,
            Refusal::SpoolFull { .. } => RefuseReason::SpoolFull,
            Refusal::SpoolFailed => RefuseReason::SpoolError,
        }
    }

    /// When retrying may succeed; `None` when it never will.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::ShuttingDown => Some(Duration::from_secs(5)),
            Refusal::BufferFull { retry_after, .. } | Refusal::SpoolFull { retry_after, .. } => Some(*retry_after),
            Refusal::SpoolFailed => Some(Duration::from_secs(1)),
            Refusal::NeverFits { .. } => None,
        }
    }
}

/// What the pipeline needs from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub defaults: Defaults,
    pub max_buffered: usize,
    pub window_grace: Duration,
    /// Told to clients refused for a full buffer: the next flush frees room.
    pub retry_after: Duration,
    /// A metric with more active series than this is logged, once.
    pub series_warning: usize,
}

#[cfg(test)]
impl Pipeline {
    /// What unit tests use: no default dimensions, a 2 s grace, no series warning; the
    /// pipeline and its telemetry.
    pub(crate) fn for_tests(
        namespace: Option<&str>,
        max_buffered: usize,
        clock: SharedClock,
    ) -> (Arc<Pipeline>, Arc<Telemetry>) {
        let telemetry = Arc::new(Telemetry::default());
        (Pipeline::for_tests_with(namespace, max_buffered, clock, telemetry.clone(), None), telemetry)
    }

    /// [`Pipeline::for_tests`] with given telemetry and spool.
    pub(crate) fn for_tests_with(
        namespace: Option<&str>,
        max_buffered: usize,
        clock: SharedClock,
        telemetry: Arc<Telemetry>,
        spool: Option<Arc<Spool>>,
    ) -> Arc<Pipeline> {
        let settings = Settings {
            defaults: Defaults { namespace: namespace.map(str::to_string), ..Default::default() },
            max_buffered,
            window_grace: Duration::from_secs(2),
            retry_after: Duration::from_secs(1),
            series_warning: usize::MAX,
        };
        Arc::new(Pipeline::new(settings, telemetry, clock).with_spool(spool))
    }
}

pub struct Pipeline {
    defaults: Defaults,
    window_grace_ms: i64,
    retry_after: Duration,
    aggregator: Arc<Aggregator>,
    budget: Arc<Budget>,
    /// With a spool, accepted records are logged there before they are aggregated.
    spool: Option<Arc<Spool>>,
    gate: IngestGate,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    /// Called as each submission starts; see [`Pipeline::on_submit`].
    submit_hook: OnceLock<SubmitHook>,
}

type SubmitHook = Box<dyn Fn() + Send + Sync>;

impl Pipeline {
    pub(crate) fn new(settings: Settings, telemetry: Arc<Telemetry>, clock: SharedClock) -> Pipeline {
        Pipeline {
            defaults: settings.defaults,
            window_grace_ms: i64::try_from(settings.window_grace.as_millis()).unwrap_or(i64::MAX),
            retry_after: settings.retry_after.max(Duration::from_secs(1)),
            aggregator: Arc::new(Aggregator::new(settings.series_warning)),
            budget: Arc::new(Budget::new(settings.max_buffered)),
            spool: None,
            gate: IngestGate::default(),
            telemetry,
            clock,
            submit_hook: OnceLock::new(),
        }
    }

    /// Logs accepted records in `spool` before aggregating them.
    pub(crate) fn with_spool(mut self, spool: Option<Arc<Spool>>) -> Pipeline {
        self.spool = spool;
        self
    }

    pub(crate) fn spool(&self) -> Option<&Arc<Spool>> {
        self.spool.as_ref()
    }

    /// Resolves once everything submitted before is durable in the spool (at once without
    /// one): for inputs that acknowledge by reading on (TCP) or answer after submitting.
    pub async fn durable(&self) {
        if let Some(spool) = &self.spool {
            spool.barrier().await;
        }
    }

    /// Aggregates a record the spool replays (admitted past the bound: it was accepted
    /// before); returns the end of its window.
    pub(crate) fn restore(&self, key: &[u8], window_start_ms: i64, payload: Payload) -> i64 {
        let plan = Plan::of(payload);
        let mut reservation = self.budget.reserve_past_bound(plan.slots_bound());
        reservation.keep(self.aggregator.add(key, window_start_ms, plan));
        aggregate::window_end(key, window_start_ms)
    }

    /// For tests: `hook` runs on the submitting thread as each submission starts (at most one
    /// hook, set once). A test holds a submission there to see what else still runs.
    #[doc(hidden)]
    pub fn on_submit(&self, hook: impl Fn() + Send + Sync + 'static) {
        assert!(self.submit_hook.set(Box::new(hook)).is_ok(), "a submit hook is already set");
    }

    /// Validates, enriches, admits and aggregates one submission. Items an input could not
    /// even turn into a candidate come as errors and are rejected by their index.
    pub fn submit<'a>(
        &self,
        input: Input,
        context: &Context<'_>,
        items: impl IntoIterator<Item = Result<Candidate<'a>, ValidationError>>,
    ) -> Result<Accepted, Refusal> {
        let items = items.into_iter();
        let mut submission = self.submission(input, *context, items.size_hint().0);
        items.for_each(|item| submission.push(item));
        submission.finish()
    }

    /// A submission fed one item at a time, for an input that parses and submits in one pass
    /// ([`Pipeline::submit`] is this with an iterator). `expected` items are room made ahead.
    /// Nothing is counted or admitted before [`Submission::finish`]: a submission dropped
    /// before it leaves no trace.
    pub fn submission<'c>(&self, input: Input, context: Context<'c>, expected: usize) -> Submission<'_, 'c> {
        Submission::new(self, input, context, expected)
    }

    /// Refuses early, before an input reads a body it could not submit.
    pub(crate) fn check_open(&self) -> Result<(), Refusal> {
        if self.gate.is_closed() {
            self.telemetry.request_refused(RefuseReason::ShuttingDown);
            return Err(Refusal::ShuttingDown);
        }
        Ok(())
    }

    /// Takes out the windows that closed (end plus grace), or all of them with `include_open`.
    pub(crate) fn drain(&self, include_open: bool) -> Vec<ClosedWindow> {
        self.drain_ended(include_open).0
    }

    /// [`Pipeline::drain`], with the time by which every window it took out had ended: every
    /// window that ended by then was taken out.
    pub(crate) fn drain_ended(&self, include_open: bool) -> (Vec<ClosedWindow>, i64) {
        let cutoff = (!include_open).then(|| self.clock.now_ms());
        let ended = cutoff.map_or(i64::MAX, |now| now.saturating_sub(self.window_grace_ms));
        (self.aggregator.drain(cutoff, self.window_grace_ms), ended)
    }

    /// Stops admitting records and waits for submissions in progress.
    pub(crate) async fn close(&self) {
        self.gate.close().await;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.gate.is_closed()
    }

    pub(crate) fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    pub(crate) fn active_series(&self) -> usize {
        self.aggregator.active_series()
    }
}

/// The plans of one submission joined per series-window, in order of first appearance, with
/// their bounds tightened.
fn per_window(keys: &[u8], valid: Vec<(Range<usize>, i64, Payload)>) -> Vec<(Range<usize>, i64, Plan)> {
    let mut index: HashMap<(&[u8], i64), usize> = HashMap::with_capacity(valid.len());
    let mut out: Vec<(Range<usize>, i64, Plan)> = Vec::new();
    for (key, window, payload) in valid {
        let plan = Plan::of(payload);
        match index.entry((&keys[key.clone()], window)) {
            Entry::Occupied(e) => out[*e.get()].2.absorb(plan),
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push((key, window, plan));
            }
        }
    }
    out.iter_mut().for_each(|(_, _, plan)| plan.refine());
    out
}
