//! The one path every input takes. An input hands [`Pipeline::submit`] its candidate records;
//! the pipeline validates them, adds the default dimensions, admits them against the buffer
//! bound and aggregates them per series and window, and answers with what it accepted, what
//! it rejected by index, or why it refused the whole submission. Each input maps that answer
//! onto its own protocol.

pub(crate) mod aggregate;
pub(crate) mod budget;
pub mod candidate;
pub(crate) mod gate;
pub(crate) mod validate;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::clock::SharedClock;
use crate::domain::error::ValidationError;
use crate::domain::payload::Payload;
use crate::pipeline::aggregate::{Aggregator, ClosedWindow};
use crate::pipeline::budget::{Budget, Full};
use crate::pipeline::candidate::{Candidate, Context};
use crate::pipeline::gate::IngestGate;
use crate::pipeline::validate::{Defaults, validate};
use crate::telemetry::Telemetry;
use crate::telemetry::reasons::RefuseReason;

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
    #[error("the request's {windows} series-windows exceed max_buffered_datums ({max}): split the request")]
    NeverFits { windows: usize, max: usize },
}

impl Refusal {
    pub fn reason(&self) -> RefuseReason {
        match self {
            Refusal::ShuttingDown => RefuseReason::ShuttingDown,
            Refusal::BufferFull { .. } => RefuseReason::BufferFull,
            Refusal::NeverFits { .. } => RefuseReason::TooLarge,
        }
    }

    /// When retrying may succeed; `None` when it never will.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::ShuttingDown => Some(Duration::from_secs(5)),
            Refusal::BufferFull { retry_after, .. } => Some(*retry_after),
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
}

pub struct Pipeline {
    defaults: Defaults,
    window_grace_ms: i64,
    retry_after: Duration,
    aggregator: Aggregator,
    budget: Arc<Budget>,
    gate: IngestGate,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
}

impl Pipeline {
    pub(crate) fn new(settings: Settings, telemetry: Arc<Telemetry>, clock: SharedClock) -> Pipeline {
        Pipeline {
            defaults: settings.defaults,
            window_grace_ms: i64::try_from(settings.window_grace.as_millis()).unwrap_or(i64::MAX),
            retry_after: settings.retry_after.max(Duration::from_secs(1)),
            aggregator: Aggregator::default(),
            budget: Arc::new(Budget::new(settings.max_buffered)),
            gate: IngestGate::default(),
            telemetry,
            clock,
        }
    }

    /// Validates, enriches, admits and aggregates one submission. Items an input could not
    /// even turn into a candidate come as errors and are rejected by their index.
    pub fn submit<'a>(
        &self,
        input: Input,
        context: &Context<'_>,
        items: impl IntoIterator<Item = Result<Candidate<'a>, ValidationError>>,
    ) -> Result<Accepted, Refusal> {
        let t = &self.telemetry;
        let now = self.clock.now_ms();
        // Keys of all valid records back to back, and where each one's key ends.
        let mut keys = Vec::new();
        let mut valid = Vec::new();
        let mut rejected = Vec::new();
        let mut received = 0;
        for (index, item) in items.into_iter().enumerate() {
            received += 1;
            let checked = item.and_then(|mut candidate| {
                let sample = validate(&mut candidate, context, &self.defaults, now)?;
                sample.encode_key(&mut keys);
                Ok((keys.len(), sample.window_start_ms(), sample.payload))
            });
            match checked {
                Ok(v) => valid.push(v),
                Err(e) => {
                    if input.counted {
                        t.record_rejected(e.reason);
                    }
                    rejected.push(Rejection { index, error: e.message });
                }
            }
        }
        if input.counted {
            t.records_received(received);
        }
        if valid.is_empty() {
            return Ok(Accepted { accepted: 0, rejected });
        }
        let refuse = |r: Refusal| {
            t.request_refused(r.reason());
            r
        };
        let entered = self.gate.enter();
        if entered.is_none() && input.admission != Admission::Internal {
            return Err(refuse(Refusal::ShuttingDown));
        }
        // Each record may open a series-window: reserve for all, give back what merged into
        // windows already open. Only when that does not fit is it worth counting the distinct
        // series-windows (records of one series-window cost one slot), so that a request is
        // refused only for what it would really occupy.
        let mut reservation = match input.admission {
            Admission::Internal => self.budget.reserve_past_bound(valid.len()),
            Admission::Bounded => match self.budget.try_reserve(valid.len()) {
                Ok(r) => r,
                Err(_) => {
                    let windows = distinct_windows(&keys, &valid);
                    if windows > self.budget.max() {
                        return Err(refuse(Refusal::NeverFits { windows, max: self.budget.max() }));
                    }
                    self.budget.try_reserve(windows).map_err(|Full { used, max }| {
                        refuse(Refusal::BufferFull { used, max, retry_after: self.retry_after })
                    })?
                }
            },
        };
        let accepted = valid.len();
        let mut start = 0;
        let mut opened = 0;
        for (end, window, payload) in valid {
            opened += self.aggregator.add(&keys[start..end], window, payload) as usize;
            start = end;
        }
        reservation.keep(opened);
        if input.counted {
            t.records_accepted(accepted);
        }
        Ok(Accepted { accepted, rejected })
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
        let cutoff = (!include_open).then(|| self.clock.now_ms());
        self.aggregator.drain(cutoff, self.window_grace_ms)
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

/// How many distinct (series, window) pairs the valid records fall in.
fn distinct_windows(keys: &[u8], valid: &[(usize, i64, Payload)]) -> usize {
    if valid.len() < 2 {
        return valid.len();
    }
    let mut seen = HashSet::with_capacity(valid.len());
    let mut start = 0;
    for (end, window, _) in valid {
        seen.insert((&keys[start..*end], *window));
        start = *end;
    }
    seen.len()
}
