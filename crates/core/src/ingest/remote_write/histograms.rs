//! Classic histograms rebuilt from their series: the `_bucket{le}`, `_count` and `_sum`
//! samples of one histogram at one timestamp are one reading, made an increase against the
//! histogram's last one and published as values and counts, as scrape does
//! ([`crate::ingest::prometheus::histogram`]).
//!
//! A sender may split one histogram's samples over requests (a batch full in the middle of
//! it, or its series on different shards). A timestamp is taken as whole when its reading has
//! the bucket layout of the histogram's last one (with `_sum`, and `_count` or `+Inf`), or,
//! when the layout is not known or differs, when it has `_sum`, `_count` and `+Inf` and
//! either as many buckets as the last layout had or a later timestamp of the histogram has
//! arrived (a new layout). Until then its parts are held ([`State::hold`], the newest
//! [`MAX_HELD`] timestamps of a histogram), and the parts of a timestamp that never became
//! whole before a later one did are rejected (`incomplete_histogram`). The first reading of a
//! histogram only sets its baseline.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::converted::Converted;
use super::series::{Class, Prepared};
use super::state::{Held, Key, MAX_HELD, Parts, Seen, State};
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;
use crate::domain::units::Unit;
use crate::ingest::cumulative::Change;
use crate::ingest::prometheus::histogram;
use crate::pipeline::candidate::Candidate;
use crate::reasons::{RemoteWriteIgnored as Ignored, RemoteWriteOutcome as Outcome, RemoteWriteReject as Reject};

/// What a histogram publishes under: its name, dimensions and unit.
struct Identity<'a> {
    name: &'a str,
    dims: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    unit: Unit,
}

/// One timestamp of a histogram: its parts, the samples of this request among them.
#[derive(Default)]
struct Stamp {
    parts: Parts,
    fresh: usize,
}

/// The histograms' parts of one request, by histogram and timestamp.
#[derive(Default)]
pub(super) struct Groups<'a> {
    identities: BTreeMap<Key, Identity<'a>>,
    stamps: BTreeMap<(Key, i64), Stamp>,
}

impl<'a> Groups<'a> {
    /// A part of `p`'s histogram at `at_ms` (its value checked).
    pub fn add(&mut self, p: &Prepared<'a>, at_ms: i64, value: f64) {
        self.identities.entry(p.histogram).or_insert_with(|| Identity {
            name: p.base,
            dims: p.dims.clone(),
            unit: p.unit(true),
        });
        let stamp = self.stamps.entry((p.histogram, at_ms)).or_default();
        let parts = &mut stamp.parts;
        match p.class {
            Class::Bucket(le) => parts.buckets.push((le, value)),
            Class::Count => parts.count = Some(value),
            _ => parts.sum = Some(value),
        }
        parts.samples += 1;
        stamp.fresh += 1;
    }

    /// Publishes what is whole, holds what may still become whole, rejects the rest.
    pub fn finish(self, state: &mut State, now_ms: i64, out: &mut Converted<'a>) {
        let Groups { identities, mut stamps } = self;
        for (key, identity) in identities {
            for h in state.take_held(key) {
                let stamp = stamps.entry((key, h.at_ms)).or_default();
                for &b in &h.parts.buckets {
                    if !stamp.parts.buckets.iter().any(|x| x.0 == b.0) {
                        stamp.parts.buckets.push(b);
                    }
                }
                stamp.parts.count = stamp.parts.count.or(h.parts.count);
                stamp.parts.sum = stamp.parts.sum.or(h.parts.sum);
                stamp.parts.samples += h.parts.samples;
            }
            let mine: Vec<(i64, Stamp)> = {
                let ats: Vec<i64> = stamps.range((key, i64::MIN)..=(key, i64::MAX)).map(|(k, _)| k.1).collect();
                ats.into_iter().filter_map(|at| stamps.remove(&(key, at)).map(|s| (at, s))).collect()
            };
            one(key, &identity, mine, state, now_ms, out);
        }
    }
}

/// One histogram's timestamps, oldest first.
fn one<'a>(
    key: Key,
    id: &Identity<'a>,
    stamps: Vec<(i64, Stamp)>,
    state: &mut State,
    now_ms: i64,
    out: &mut Converted<'a>,
) {
    let newest = stamps.last().map_or(i64::MIN, |s| s.0);
    let mut waiting: Vec<(i64, Stamp)> = Vec::new();
    // Parts that can no longer become whole: those held are rejected now, those of this
    // request by what they are.
    let give_up = |out: &mut Converted<'a>, s: &Stamp| {
        out.reject(Reject::IncompleteHistogram, s.parts.samples, None);
    };
    for (at, stamp) in stamps {
        if state.last_ms(key).is_some_and(|last| at <= last) {
            out.ignore(Ignored::OldTimestamp, stamp.fresh);
            out.reject(Reject::IncompleteHistogram, stamp.parts.samples - stamp.fresh, None);
            continue;
        }
        let parts = &stamp.parts;
        let infinite = parts.buckets.iter().any(|b| b.0 == f64::INFINITY);
        let whole = parts.sum.is_some() && parts.count.is_some() && infinite;
        let reading = histogram::reading(&parts.buckets, parts.count, parts.sum, None);
        let known = state.reading(key).map(|r| (r.shape, r.counts.len()));
        let matches = match (&reading, known) {
            (Some((_, r)), Some((shape, len))) => r.shape == shape && r.counts.len() == len,
            _ => false,
        };
        // A reading's counts are the count and one per bucket, `+Inf` included.
        let enough = known.is_none_or(|(_, len)| parts.buckets.len() + 1 >= len);
        if !(matches || whole && (enough || at < newest)) {
            waiting.push((at, stamp));
            continue;
        }
        for (_, s) in waiting.drain(..) {
            give_up(out, &s);
        }
        let Some((bounds, reading)) = reading else {
            let why = format!("{}: buckets not cumulative in `le`, or _count/_sum not finite", id.name);
            out.reject(Reject::Malformed, parts.samples, Some(why));
            continue;
        };
        let samples = parts.samples;
        let change = match state.observe(key, at, Some(reading), now_ms) {
            Ok(Seen::New(Some(change))) => change,
            Ok(_) => {
                out.ignore(Ignored::OldTimestamp, samples);
                continue;
            }
            Err(_) => {
                out.reject(Reject::StateFull, samples, Some(format!("{}: the state is full", id.name)));
                continue;
            }
        };
        let delta = match change {
            Change::Increase(d) | Change::Reset(d) => d,
            _ => {
                out.count(Outcome::Baseline, samples);
                continue;
            }
        };
        let Ok(values) = histogram::values(&bounds, &delta) else {
            out.reject(Reject::Malformed, samples, Some(format!("{}: inconsistent bucket counts", id.name)));
            continue;
        };
        out.count(Outcome::Published, samples);
        let mut samples = samples;
        for values in values {
            push(out, id, at, values, std::mem::take(&mut samples));
        }
    }
    // The newest timestamps still waiting are held; older ones are given up.
    let keep = waiting.len().saturating_sub(MAX_HELD);
    for (_, s) in waiting.drain(..keep) {
        give_up(out, &s);
    }
    let fresh: usize = waiting.iter().map(|(_, s)| s.fresh).sum();
    let held: Vec<Held> = waiting.into_iter().map(|(at_ms, s)| Held { at_ms, parts: s.parts }).collect();
    let samples: usize = held.iter().map(|h| h.parts.samples).sum();
    match state.hold(key, held, now_ms) {
        Ok(()) => out.count(Outcome::Held, fresh),
        Err(_) => out.reject(Reject::StateFull, samples, Some(format!("{}: the state is full", id.name))),
    }
}

fn push<'a>(out: &mut Converted<'a>, id: &Identity<'a>, at_ms: i64, values: GivenValues, samples: usize) {
    out.push(
        Candidate {
            name: Some(Cow::Borrowed(id.name)),
            unit: Some(Cow::Borrowed(id.unit.as_str())),
            dimensions: id.dims.iter().cloned().collect(),
            timestamp: Some(GivenTime::EpochMillis(at_ms)),
            values,
            ..Candidate::default()
        },
        samples,
    );
}
