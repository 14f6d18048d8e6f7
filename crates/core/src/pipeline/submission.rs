//! One submission, fed record by record: each is validated as it comes and kept as its series
//! key and payload only, so an input can parse and submit in one pass without holding its
//! records. [`Submission::finish`] counts them and sends the valid ones through the admission
//! chain.

use std::borrow::Cow;
use std::ops::Range;

use std::sync::Arc;

use crate::domain::error::ValidationError;
use crate::domain::payload::Payload;
use crate::pipeline::admission::chain::Chain;
use crate::pipeline::answer::{Accepted, Rejection};
use crate::pipeline::candidate::{Candidate, Context};
use crate::pipeline::counters::Counters;
use crate::pipeline::durable::Finished;
use crate::pipeline::input::Input;
use crate::pipeline::known::{Known, KnownSeries};
use crate::pipeline::records::Records;
use crate::pipeline::validate::{Defaults, Memo, validate_values, validate_with};

/// What a submission needs of its pipeline: the fallbacks records take, what it counts, and
/// the admission chain.
pub struct Intake {
    pub defaults: Defaults,
    pub counters: Arc<dyn Counters>,
    pub chain: Arc<Chain>,
    /// Called as each submission finishes (feature `test-hooks`, for the sidecar's tests).
    #[cfg(feature = "test-hooks")]
    pub hook: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Intake {
    pub fn new(defaults: Defaults, counters: Arc<dyn Counters>, chain: Arc<Chain>) -> Intake {
        Intake {
            defaults,
            counters,
            chain,
            #[cfg(feature = "test-hooks")]
            hook: std::sync::OnceLock::new(),
        }
    }

    #[cfg(feature = "test-hooks")]
    fn run_hook(&self) {
        if let Some(hook) = self.hook.get() {
            hook();
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    fn run_hook(&self) {}
}

/// Room for a typical series key per expected record.
const KEY_BYTES: usize = 64;

pub struct Submission<'p, 'c> {
    intake: &'p Intake,
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
    /// Per valid record, its index in the submission; empty while that is its position.
    from: Vec<u32>,
    received: usize,
    memo: Memo,
    known: KnownSeries,
}

impl<'p, 'c> Submission<'p, 'c> {
    /// A submission at `now_ms` (the clock's wall time).
    pub fn new(intake: &'p Intake, input: Input, context: Context<'c>, now_ms: i64, expected: usize) -> Self {
        Submission {
            intake,
            input,
            context,
            now: now_ms,
            keys: Vec::with_capacity(expected * KEY_BYTES),
            valid: Vec::with_capacity(expected),
            // A lone record needs none: made with the second.
            groups: Vec::with_capacity(if expected > 1 { expected } else { 0 }),
            series: 0,
            rejected: Vec::new(),
            from: Vec::new(),
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
                let defaults = &self.intake.defaults;
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
                if index != self.valid.len() || !self.from.is_empty() {
                    if self.from.is_empty() {
                        self.from.extend(0..self.valid.len() as u32);
                    }
                    self.from.push(index as u32);
                }
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

    /// Counts what was received and rejected, then sends the valid records through the
    /// admission chain, or refuses them all. With a journal, the records are handed to it and
    /// aggregated once durable: this answer does not wait for that ([`Submission::finished`]
    /// does).
    pub fn finish(self) -> Result<Accepted, crate::pipeline::answer::Refusal> {
        self.finished().now()
    }

    /// Like [`Submission::finish`], with a way to wait until the records are durable.
    pub fn finished(self) -> Finished {
        let Submission { intake, input, keys, valid, groups, series, rejected, received, from, .. } = self;
        intake.run_hook();
        let counters = &intake.counters;
        if input.counted {
            for r in &rejected {
                counters.rejected(r.reason);
            }
            counters.received(received);
        }
        if valid.is_empty() {
            return Finished::now_with(Ok(Accepted { accepted: 0, rejected }));
        }
        let mut records = Records::new(input, keys, valid, groups, series).with_indices(from);
        match intake.chain.run(&mut records) {
            Ok(done) => {
                let accepted = records.originals;
                let rejected = merge_rejections(rejected, records.rejected, input.counted.then_some(&**counters));
                Finished::done(Accepted { accepted, rejected }, done)
            }
            Err(refusal) => {
                counters.refused(refusal.reason());
                Finished::now_with(Err(refusal))
            }
        }
    }
}

/// The submission's rejections with those of the stages, by index; the stages' are counted.
fn merge_rejections(
    mut mine: Vec<Rejection>,
    stages: Vec<Rejection>,
    counters: Option<&dyn Counters>,
) -> Vec<Rejection> {
    if stages.is_empty() {
        return mine;
    }
    if let Some(counters) = counters {
        stages.iter().for_each(|r| counters.rejected(r.reason));
    }
    mine.extend(stages);
    mine.sort_by_key(|r| r.index);
    mine
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use crate::clock::StillClock;
    use crate::domain::payload::GivenValues;
    use crate::domain::timestamp::GivenTime;
    use crate::pipeline::candidate::{Candidate, Context};
    use crate::pipeline::{Accepted, Input, Pipeline, Settings, Uncounted};

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

    fn pipeline() -> Pipeline {
        Pipeline::new(Settings::plain(Some("App"), 10_000), Arc::new(Uncounted), StillClock::shared(NOW), None)
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
        let together = pipeline();
        let answer = together.submit(Input::HTTP, &Context::default(), records.clone().into_iter().map(Ok)).unwrap();

        let alone = pipeline();
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
