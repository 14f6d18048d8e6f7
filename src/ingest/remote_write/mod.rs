//! Prometheus remote-write 1.0 at `POST /api/v1/write` of the HTTP API ([`http`]): a decoded
//! `WriteRequest` is converted against the series state (`cw_core::ingest::remote_write`)
//! and submitted like any input's records.
//!
//! The state is held across a request's conversion and submission; what the request did to
//! it is taken back when the pipeline refuses the request (503 or 413), so that the sender's
//! retry is converted as new. A request the pipeline took is remembered: its resending
//! publishes nothing more (its samples are at or before their series' last timestamps).

pub mod http;

use std::sync::{Arc, Mutex};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::telemetry::Telemetry;
use cw_core::ingest::prometheus::rules::Rules;
use cw_core::ingest::remote_write::budget::{Bounds, MAX_LABELS};
use cw_core::ingest::remote_write::convert;
use cw_core::ingest::remote_write::state::{self, State};
use cw_core::ingest::remote_write::wire::WriteRequest;
use cw_core::pipeline::candidate::Context;
use cw_core::pipeline::{Accepted, Admission, Input, Pipeline, Refusal};
use cw_core::reasons::RemoteWriteOutcome as Outcome;

pub const INPUT: Input = Input { name: "remote_write", admission: Admission::Bounded, counted: true };

/// How often idle series are looked for.
const EXPIRE_EVERY_MS: i64 = 60_000;
/// How often, at most, rejected samples are logged at WARN (DEBUG otherwise).
const WARN_EVERY_MS: i64 = 60_000;

/// What a request the pipeline did not refuse amounts to.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Nothing of the request was taken, and some of it was rejected: 400 (the sender does not
    /// retry it, which could not help).
    pub refused: bool,
    /// The first problems, readable.
    pub message: String,
}

struct Held {
    state: State,
    expired_at_ms: i64,
    warned_at_ms: Option<i64>,
}

/// The remote-write input: its settings and its series state.
pub struct RemoteWrite {
    pipeline: Arc<Pipeline>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    rules: Rules,
    /// The decoded-size budget of one request.
    pub bounds: Bounds,
    namespace: Option<String>,
    state: Mutex<Held>,
}

impl RemoteWrite {
    /// `None` when `[remote_write]` is off.
    pub fn new(
        config: &Config,
        pipeline: Arc<Pipeline>,
        telemetry: Arc<Telemetry>,
        clock: SharedClock,
    ) -> Option<RemoteWrite> {
        let c = &config.remote_write;
        if !c.enabled {
            return None;
        }
        let rules = c.label_rules();
        let bounds = Bounds {
            max_decoded_bytes: config.max_body_bytes,
            max_series: c.max_series_per_request,
            max_samples: c.max_samples_per_request,
            max_labels: MAX_LABELS,
        };
        let idle_ms = i64::try_from(c.series_idle_timeout.as_millis()).unwrap_or(i64::MAX);
        let state = State::new(state::Bounds { max_series: c.max_series, max_bytes: c.max_state_bytes, idle_ms });
        let now = clock.now_ms();
        let namespace = c.namespace.clone().or_else(|| config.namespace.clone());
        if namespace.is_none() {
            tracing::warn!(
                "remote_write has no namespace (set remote_write.namespace or namespace): every sample will be rejected"
            );
        }
        telemetry.remote_write.state(0, 0);
        Some(RemoteWrite {
            pipeline,
            telemetry,
            clock,
            rules,
            bounds,
            namespace,
            state: Mutex::new(Held { state, expired_at_ms: now, warned_at_ms: None }),
        })
    }

    /// Converts and submits one decoded request.
    pub fn write(&self, request: &WriteRequest) -> Result<Answer, Refusal> {
        let t = &self.telemetry.remote_write;
        let now = self.clock.now_ms();
        let mut held = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now - held.expired_at_ms >= EXPIRE_EVERY_MS {
            held.state.expire(now);
            held.expired_at_ms = now;
        }
        let mut converted = convert::convert(request, &self.rules, &mut held.state, now);
        let context = Context { namespace: self.namespace.as_deref(), dimensions: &[] };
        let candidates = std::mem::take(&mut converted.candidates);
        // Nothing to submit (a resent request, a request of metadata only): nothing to refuse.
        let submitted = match candidates.is_empty() {
            true => Ok(Accepted { accepted: 0, rejected: Vec::new() }),
            false => self.pipeline.submit(INPUT, &context, candidates.into_iter().map(Ok)),
        };
        let accepted = match submitted {
            Ok(accepted) => accepted,
            Err(refusal) => {
                held.state.rollback();
                let received = converted.outcome(Outcome::Received);
                t.samples(Outcome::Received, received);
                t.samples(Outcome::Refused, received);
                return Err(refusal);
            }
        };
        held.state.commit();
        t.state(held.state.len(), held.state.bytes());
        converted.rejected_by_pipeline(&accepted.rejected);
        for (outcome, n) in &converted.outcomes {
            t.samples(*outcome, *n);
        }
        for (reason, n) in &converted.ignored {
            t.ignored(*reason, *n);
        }
        for (reason, n) in &converted.rejected {
            t.rejected(*reason, *n);
        }
        let message = converted.problems.join("; ");
        let rejected = converted.outcome(Outcome::Rejected);
        if rejected > 0 {
            if held.warned_at_ms.is_none_or(|at| now - at >= WARN_EVERY_MS) {
                held.warned_at_ms = Some(now);
                tracing::warn!(rejected, first = %message, "remote-write samples rejected (remote_write_samples_rejected_total says why)");
            } else {
                tracing::debug!(rejected, first = %message, "remote-write samples rejected");
            }
        }
        Ok(Answer { refused: converted.refused(), message })
    }
}
