//! One submission, fed record by record: each is validated as it comes and kept as its series
//! key and payload only, so an input can parse and submit in one pass without holding its
//! records. [`Submission::finish`] counts, admits against the buffer bound and aggregates.

use std::borrow::Cow;
use std::ops::Range;

use crate::pipeline::{Accepted, Admission, Input, Pipeline, Refusal, Rejection, per_window};
use crate::spool::SpoolFull;
use cw_core::domain::error::ValidationError;
use cw_core::domain::payload::Payload;
use cw_core::pipeline::aggregate::plan::Plan;
use cw_core::pipeline::aggregate::{Aggregator, window_end};
use cw_core::pipeline::budget::Full;
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::known::{Known, KnownSeries};
use cw_core::pipeline::validate::{Memo, validate_values, validate_with};
use cw_core::reasons::RefuseReason;
use cw_core::spool::{codec, frame};

/// Room for a typical series key per expected record.
const KEY_BYTES: usize = 64;

pub struct Submission<'p, 'c> {
    pipeline: &'p Pipeline,
    input: Input,
    context: Context<'c>,
    now: i64,
    /// The valid records' series keys back to back; each record knows where its key is
    /// (records of a series already checked share the earlier record's).
    keys: Vec<u8>,
    valid: Vec<(Range<usize>, i64, Payload)>,
    /// Per valid record, the number of its series among the submission's (records whose
    /// series was checked again count as a series of their own); empty for a lone record.
    groups: Vec<u32>,
    /// How many such series.
    series: u32,
    rejected: Vec<Rejection>,
    received: usize,
    memo: Memo,
    known: KnownSeries,
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
            // A lone record needs none: made with the second.
            groups: Vec::with_capacity(if expected > 1 { expected } else { 0 }),
            series: 0,
            rejected: Vec::new(),
            received: 0,
            memo: Memo::default(),
            known: KnownSeries::default(),
        }
    }

    /// Takes the next item: validated now, rejected by its index if it breaks a rule. An item
    /// the input could not even turn into a candidate comes as its error.
    pub fn push(&mut self, item: Result<Candidate<'_>, ValidationError>) {
        match item {
            Ok(mut candidate) => self.push_candidate(&mut candidate),
            Err(e) => {
                let index = self.next_index();
                self.rejected.push(Rejection { index, error: e.message, name: None, reason: e.reason });
            }
        }
    }

    /// [`Submission::push`] of a candidate the input keeps (it may read the next record into
    /// it): what is validated is taken out of it.
    pub fn push_candidate(&mut self, candidate: &mut Candidate<'_>) {
        let index = self.next_index();
        let keys = &mut self.keys;
        // A lone record has no earlier one to match: the memo starts with the second.
        let memo = index > 0;
        let found = if memo { self.known.find(candidate) } else { None };
        let new_group = self.series;
        let checked = match found {
            // The earlier record's key serves (and tells [`Plans::aggregate`] they share it).
            Some(Known { key, resolution, group }) => validate_values(candidate, *resolution, self.now)
                .map(|(window, payload)| ((key.clone(), window, payload), *group)),
            None => {
                let defaults = &self.pipeline.defaults;
                let texts = memo.then_some(&mut self.memo);
                validate_with(candidate, &self.context, defaults, self.now, texts).map(|sample| {
                    let start = keys.len();
                    sample.encode_key(keys);
                    if memo {
                        let known = Known { key: start..keys.len(), resolution: sample.resolution, group: new_group };
                        self.known.remember(known);
                    }
                    ((start..keys.len(), sample.window_start_ms(), sample.payload), new_group)
                })
            }
        };
        match checked {
            Ok((v, group)) => {
                self.valid.push(v);
                if self.valid.len() > 1 {
                    if self.groups.is_empty() {
                        // The first valid record's, which is always the first series.
                        self.groups.push(0);
                    }
                    self.groups.push(group);
                }
                if group == new_group {
                    self.series += 1;
                }
            }
            Err(e) => {
                let name = candidate.name.take().map(Cow::into_owned);
                self.rejected.push(Rejection { index, error: e.message, name, reason: e.reason });
            }
        }
    }

    fn next_index(&mut self) -> usize {
        self.received += 1;
        self.received - 1
    }

    /// Counts what was received and rejected, then admits the valid records against the buffer
    /// bound and aggregates them, or refuses them all. With a spool, the records are handed to
    /// it and aggregated once durable: this answer does not wait for that
    /// ([`Submission::finished`] does).
    pub fn finish(self) -> Result<Accepted, Refusal> {
        self.finished().now()
    }

    /// Like [`Submission::finish`], with a way to wait until the records are durable.
    pub fn finished(self) -> Finished {
        let Submission { pipeline: p, input, keys, mut valid, groups, series, rejected, received, .. } = self;
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
            return Finished::now_with(Ok(Accepted { accepted: 0, rejected }));
        }
        let accepted = valid.len();
        let refuse = |r: Refusal| {
            t.request_refused(r.reason());
            Finished::now_with(Err(r))
        };
        let entered = p.gate.enter();
        if entered.is_none() && input.admission != Admission::Internal {
            return refuse(Refusal::ShuttingDown);
        }
        // A slot is a datum the buffer may come to hold: each record is bounded by what it can
        // add to any window (its plan's bound; one slot for a plain value). Only when that
        // does not fit is it worth joining the records of each series-window into one plan,
        // whose bound is what the request can really occupy (records of one series-window
        // take one slot together while their values fit one datum).
        let estimate = valid.iter().map(|(_, _, payload)| Plan::bound_of(payload)).sum();
        // With a spool, the records as its log will hold them (before joining takes them).
        let logged = p.spool.as_ref().map(|_| record(&keys, &valid));
        let (reservation, joined) = match input.admission {
            Admission::Internal => (p.budget.reserve_past_bound(estimate), None),
            Admission::Bounded => match p.budget.try_reserve(estimate) {
                Ok(r) => (r, None),
                Err(_) => {
                    let joined = per_window(&keys, std::mem::take(&mut valid));
                    let slots = joined.iter().map(|(_, _, plan)| plan.slots_bound()).sum();
                    if slots > p.budget.max() {
                        return refuse(Refusal::NeverFits { windows: joined.len(), max: p.budget.max() });
                    }
                    match p.budget.try_reserve(slots) {
                        Ok(r) => (r, Some(joined)),
                        Err(Full { used, max }) => {
                            return refuse(Refusal::BufferFull { used, max, retry_after: p.retry_after });
                        }
                    }
                }
            },
        };
        let plans = Plans { keys, joined, valid, groups, series };
        let counted = input.counted;
        let (Some(spool), Some((record, max_end_ms))) = (&p.spool, logged) else {
            let mut reservation = reservation;
            reservation.keep(plans.aggregate(&p.aggregator));
            if counted {
                t.records_accepted(accepted);
            }
            return Finished::now_with(Ok(Accepted { accepted, rejected }));
        };
        // Logged first, aggregated on the spool's thread once durable.
        if let Err(SpoolFull { used, max }) = spool.try_reserve(record.len() as u64) {
            return refuse(Refusal::SpoolFull { used, max, retry_after: p.retry_after });
        }
        let held = reservation.into_held();
        let (budget, aggregator, telemetry) = (p.budget.clone(), p.aggregator.clone(), p.telemetry.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        spool.append(
            record,
            max_end_ms,
            Box::new(move |durable| {
                if durable {
                    budget.release(held - plans.aggregate(&aggregator));
                    if counted {
                        telemetry.records_accepted(accepted);
                    }
                } else {
                    budget.release(held);
                    telemetry.request_refused(RefuseReason::SpoolError);
                }
                let _ = tx.send(durable);
            }),
        );
        Finished { answer: Ok(Accepted { accepted, rejected }), durable: Some(rx) }
    }
}

/// The valid records of a submission, joined per series-window or not.
struct Plans {
    keys: Vec<u8>,
    joined: Option<Vec<(Range<usize>, i64, Plan)>>,
    valid: Vec<(Range<usize>, i64, Payload)>,
    groups: Vec<u32>,
    series: u32,
}

impl Plans {
    /// Adds them to their windows; how many slots that took.
    fn aggregate(self, aggregator: &Aggregator) -> usize {
        let keys = &self.keys;
        match self.joined {
            Some(joined) => {
                joined.into_iter().map(|(key, window, plan)| aggregator.add(&keys[key], window, plan)).sum()
            }
            // Every record a series of its own (a lone record, say): nothing to join.
            None if self.series as usize == self.valid.len() => self
                .valid
                .into_iter()
                .map(|(key, window, payload)| aggregator.add(&keys[key], window, Plan::of(payload)))
                .sum(),
            None => {
                // The records of each series in their order (a counting sort by series), and
                // those of one window added with one lookup.
                let mut next = vec![0u32; self.series as usize + 1];
                for &g in &self.groups {
                    next[g as usize + 1] += 1;
                }
                for i in 1..next.len() {
                    next[i] += next[i - 1];
                }
                let mut order = vec![0u32; self.groups.len()];
                for (i, &g) in self.groups.iter().enumerate() {
                    order[next[g as usize] as usize] = i as u32;
                    next[g as usize] += 1;
                }
                let mut valid: Vec<_> = self.valid.into_iter().map(Some).collect();
                let record = |valid: &[Option<(Range<usize>, i64, Payload)>], i: u32| {
                    let (key, window, _) = valid[i as usize].as_ref().expect("each record once");
                    (key.clone(), *window)
                };
                let mut added = 0;
                let mut at = 0;
                while at < order.len() {
                    let (key, window) = record(&valid, order[at]);
                    let group = self.groups[order[at] as usize];
                    // The run of this series and window.
                    let mut end = at + 1;
                    while end < order.len() && self.groups[order[end] as usize] == group {
                        if record(&valid, order[end]).1 != window {
                            break;
                        }
                        end += 1;
                    }
                    let plans =
                        order[at..end].iter().map(|&i| Plan::of(valid[i as usize].take().expect("each record once").2));
                    added += aggregator.add_all(&keys[key], window, plans);
                    at = end;
                }
                added
            }
        }
    }
}

/// Valid records as one framed record of the spool's log, and the end of their latest window.
fn record(keys: &[u8], valid: &[(Range<usize>, i64, Payload)]) -> (Vec<u8>, i64) {
    let mut log = codec::LogRecord::with_capacity(valid.len());
    let mut max_end = i64::MIN;
    for (key, window, payload) in valid {
        let key = &keys[key.clone()];
        log.push(key, *window, payload);
        max_end = max_end.max(window_end(key, *window));
    }
    let entries = log.finish();
    let mut record = Vec::with_capacity(entries.len() + 16);
    frame::push_frame(&mut record, &entries);
    (record, max_end)
}

/// A finished submission: the pipeline's answer, and with a spool, word of when its records
/// are durable.
#[must_use]
pub struct Finished {
    answer: Result<Accepted, Refusal>,
    durable: Option<tokio::sync::oneshot::Receiver<bool>>,
}

impl Finished {
    fn now_with(answer: Result<Accepted, Refusal>) -> Finished {
        Finished { answer, durable: None }
    }

    /// The answer, without waiting for the spool.
    pub fn now(self) -> Result<Accepted, Refusal> {
        self.answer
    }

    /// The answer once the records are durable: what the client may be told.
    pub async fn durable(self) -> Result<Accepted, Refusal> {
        let accepted = self.answer?;
        match self.durable {
            None => Ok(accepted),
            Some(rx) => match rx.await {
                Ok(true) => Ok(accepted),
                _ => Err(Refusal::SpoolFailed),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::clock::ManualClock;
    use crate::pipeline::{Accepted, Input, Pipeline};
    use cw_core::domain::payload::GivenValues;
    use cw_core::domain::timestamp::GivenTime;
    use cw_core::pipeline::candidate::{Candidate, Context};

    const NOW: i64 = 1_700_000_010_000;

    fn record(value: f64, at: Option<i64>) -> Candidate<'static> {
        Candidate {
            name: Some(Cow::Borrowed("Latency")),
            unit: Some(Cow::Borrowed("Milliseconds")),
            dimensions: [("Route", "/a"), ("Host", "h")]
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
                .collect(),
            timestamp: at.map(GivenTime::EpochMillis),
            values: GivenValues { value: Some(value), ..GivenValues::default() },
            ..Candidate::default()
        }
    }

    /// What the pipeline holds: (key, window start, sample count, sum) per series-window.
    fn held(p: &Pipeline) -> Vec<(Box<[u8]>, i64, f64, f64)> {
        let mut out: Vec<_> = p
            .drain(true)
            .into_iter()
            .map(|w| {
                let (n, sum) = w.window.values.iter().fold((0.0, 0.0), |(n, s), d| (n + d.count, s + d.sum));
                (w.key, w.start_ms, n, sum)
            })
            .collect();
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }

    #[test]
    fn a_record_of_a_series_seen_before_is_judged_as_if_it_came_alone() {
        let records = vec![
            record(1.0, None),
            record(f64::NAN, None),
            record(2.0, Some(NOW - 15 * 24 * 3600 * 1000)),
            record(3.0, Some(NOW + 3 * 3600 * 1000)),
            record(4.0, Some(NOW - 120_000)),
            Candidate { values: GivenValues::default(), ..record(0.0, None) },
            Candidate { storage_resolution: Some(1), ..record(5.0, None) },
            Candidate { storage_resolution: Some(7), ..record(5.0, None) },
            Candidate { unit: Some(Cow::Borrowed("Parsecs")), ..record(6.0, None) },
            record(7.0, None),
        ];
        let (together, _) = Pipeline::for_tests(Some("App"), 10_000, ManualClock::new(NOW));
        let answer = together.submit(Input::HTTP, &Context::default(), records.clone().into_iter().map(Ok)).unwrap();

        let (alone, _) = Pipeline::for_tests(Some("App"), 10_000, ManualClock::new(NOW));
        let mut expected = Accepted { accepted: 0, rejected: Vec::new() };
        for (i, r) in records.into_iter().enumerate() {
            let a = alone.submit(Input::HTTP, &Context::default(), [Ok(r)]).unwrap();
            expected.accepted += a.accepted;
            expected.rejected.extend(a.rejected.into_iter().map(|mut r| {
                r.index = i;
                r
            }));
        }
        assert_eq!(answer, expected);
        assert_eq!(answer.accepted, 4, "{answer:?}");
        let held_together = held(&together);
        assert_eq!(held_together, held(&alone));
        // This minute, two minutes ago, and the high-resolution series.
        assert_eq!(held_together.len(), 3, "{held_together:?}");
    }
}
