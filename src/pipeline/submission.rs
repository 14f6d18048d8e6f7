//! One submission, fed record by record: each is validated as it comes and kept as its series
//! key and payload only, so an input can parse and submit in one pass without holding its
//! records. [`Submission::finish`] counts, admits against the buffer bound and aggregates.

use std::borrow::Cow;
use std::ops::Range;

use crate::domain::error::ValidationError;
use crate::domain::payload::Payload;
use crate::pipeline::aggregate::plan::Plan;
use crate::pipeline::budget::Full;
use crate::pipeline::candidate::{Candidate, Context};
use crate::pipeline::validate::{Memo, validate_with};
use crate::pipeline::{Accepted, Admission, Input, Pipeline, Refusal, Rejection, per_window};

/// Room for a typical series key per expected record.
const KEY_BYTES: usize = 64;

pub struct Submission<'p, 'c> {
    pipeline: &'p Pipeline,
    input: Input,
    context: Context<'c>,
    now: i64,
    /// Keys of all valid records back to back; each record knows where its key is.
    keys: Vec<u8>,
    valid: Vec<(Range<usize>, i64, Payload)>,
    rejected: Vec<Rejection>,
    received: usize,
    memo: Memo,
}

impl<'p, 'c> Submission<'p, 'c> {
    pub(super) fn new(pipeline: &'p Pipeline, input: Input, context: Context<'c>, expected: usize) -> Self {
        Submission {
            pipeline,
            input,
            context,
            now: pipeline.clock.now_ms(),
            keys: Vec::with_capacity(expected * KEY_BYTES),
            valid: Vec::with_capacity(expected),
            rejected: Vec::new(),
            received: 0,
            memo: Memo::default(),
        }
    }

    /// Takes the next item: validated now, rejected by its index if it breaks a rule. An item
    /// the input could not even turn into a candidate comes as its error.
    pub fn push(&mut self, item: Result<Candidate<'_>, ValidationError>) {
        let index = self.received;
        self.received += 1;
        let checked = match item {
            Ok(mut candidate) => {
                let (keys, defaults) = (&mut self.keys, &self.pipeline.defaults);
                let memo = &mut self.memo;
                let checked = validate_with(&mut candidate, &self.context, defaults, self.now, memo).map(|sample| {
                    let start = keys.len();
                    sample.encode_key(keys);
                    (start..keys.len(), sample.window_start_ms(), sample.payload)
                });
                checked.map_err(|e| (e, candidate.name.map(Cow::into_owned)))
            }
            Err(e) => Err((e, None)),
        };
        match checked {
            Ok(v) => self.valid.push(v),
            Err((e, name)) => self.rejected.push(Rejection { index, error: e.message, name, reason: e.reason }),
        }
    }

    /// Counts what was received and rejected, then admits the valid records against the buffer
    /// bound and aggregates them, or refuses them all.
    pub fn finish(self) -> Result<Accepted, Refusal> {
        let Submission { pipeline: p, input, keys, mut valid, rejected, received, .. } = self;
        if let Some(hook) = p.submit_hook.get() {
            hook();
        }
        let t = &p.telemetry;
        if input.counted {
            for r in &rejected {
                t.record_rejected(r.reason);
            }
            t.records_received(received);
        }
        if valid.is_empty() {
            return Ok(Accepted { accepted: 0, rejected });
        }
        let accepted = valid.len();
        let refuse = |r: Refusal| {
            t.request_refused(r.reason());
            r
        };
        let entered = p.gate.enter();
        if entered.is_none() && input.admission != Admission::Internal {
            return Err(refuse(Refusal::ShuttingDown));
        }
        // A slot is a datum the buffer may come to hold: each record is bounded by what it can
        // add to any window (its plan's bound; one slot for a plain value). Only when that
        // does not fit is it worth joining the records of each series-window into one plan,
        // whose bound is what the request can really occupy (records of one series-window
        // take one slot together while their values fit one datum).
        let estimate = valid.iter().map(|(_, _, payload)| Plan::bound_of(payload)).sum();
        let (mut reservation, joined) = match input.admission {
            Admission::Internal => (p.budget.reserve_past_bound(estimate), None),
            Admission::Bounded => match p.budget.try_reserve(estimate) {
                Ok(r) => (r, None),
                Err(_) => {
                    let joined = per_window(&keys, std::mem::take(&mut valid));
                    let slots = joined.iter().map(|(_, _, plan)| plan.slots_bound()).sum();
                    if slots > p.budget.max() {
                        return Err(refuse(Refusal::NeverFits { windows: joined.len(), max: p.budget.max() }));
                    }
                    let r = p.budget.try_reserve(slots).map_err(|Full { used, max }| {
                        refuse(Refusal::BufferFull { used, max, retry_after: p.retry_after })
                    })?;
                    (r, Some(joined))
                }
            },
        };
        // Each add grows its window by at most its plan's bound: keep exactly what was used.
        let mut grown = 0;
        match joined {
            Some(joined) => joined.into_iter().for_each(|(key, window, plan)| {
                grown += p.aggregator.add(&keys[key], window, plan);
            }),
            None => valid.into_iter().for_each(|(key, window, payload)| {
                grown += p.aggregator.add(&keys[key], window, Plan::of(payload));
            }),
        }
        reservation.keep(grown);
        if input.counted {
            t.records_accepted(accepted);
        }
        Ok(Accepted { accepted, rejected })
    }
}
