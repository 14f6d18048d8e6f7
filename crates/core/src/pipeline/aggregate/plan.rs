//! What a submission puts into one series-window, planned before admission so that the
//! buffer slots it can take are known before anything is aggregated.
//!
//! CloudWatch refuses every number beyond 2^360 in magnitude, and a datum's count and sum are
//! numbers too: `StatisticValues`, or what CloudWatch derives from `Values`/`Counts` (the sum
//! of the counts, the sum of value × count). So a window keeps its values in *segments*
//! whose count and sum of |value × count| stay within 2^360, and its statistic sets in as many
//! sets as their merged sample count and sum need; each is published as datums of its own,
//! and CloudWatch adds up the datums of a period, so the window's statistics stay exact.
//! Normally a window has one segment of each kind.
//!
//! A plan is a list of units. A unit goes into a window whole: into its last segment when the
//! totals stay within range, else into a new segment. Because a unit never straddles two
//! segments, the datums it adds to a window are bounded by the unit alone
//! ([`ValueUnit::slots_bound`]), whatever the window held: admission reserves that without
//! looking at the window. Only a record that does not fit one segment by itself is split, into
//! units that each fit one; how far a record may reach past 2^360 is bounded at validation
//! ([`crate::domain::limits::MAX_RECORD_TOTAL`]), so that it splits into a few units at most.

use smallvec::{SmallVec, smallvec};

use crate::domain::limits::{MAX_MAGNITUDE, MAX_VALUES_PER_DATUM};
use crate::domain::payload::{Measured, Payload, StatSet, valid_number};
use crate::pipeline::aggregate::distribution::{bucket_span, distinct_buckets};

/// What a segment's count and sum of |value × count| may reach when it holds more than one
/// unit: 2^360 less a margin (one part in a million) for the rounding of sums that CloudWatch
/// adds up in another order than we do. A unit alone may reach 2^360 itself.
pub const SEGMENT_LIMIT: f64 = MAX_MAGNITUDE * (1.0 - 1.0 / 1_048_576.0);

/// Values as a record gave them; a single value (and its weight) needs no vector.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    One(f64, f64),
    Many { values: Vec<f64>, counts: Option<Vec<f64>> },
}

impl Part {
    /// Each (value, weight).
    pub fn for_each(&self, mut f: impl FnMut(f64, f64)) {
        match self {
            Part::One(v, w) => f(*v, *w),
            Part::Many { values, counts: Some(counts) } => values.iter().zip(counts).for_each(|(v, c)| f(*v, *c)),
            Part::Many { values, counts: None } => values.iter().for_each(|v| f(*v, 1.0)),
        }
    }
}

/// The smallest and largest magnitude of each sign, and whether zero occurs: the histogram
/// buckets some values can fall in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Hull {
    positive: Option<(f64, f64)>,
    negative: Option<(f64, f64)>,
    zero: bool,
}

impl Hull {
    fn add(&mut self, v: f64) {
        let widen = |side: &mut Option<(f64, f64)>, m: f64| {
            *side = Some(side.map_or((m, m), |(lo, hi)| (lo.min(m), hi.max(m))));
        };
        if v > 0.0 {
            widen(&mut self.positive, v);
        } else if v < 0.0 {
            widen(&mut self.negative, -v);
        } else {
            self.zero = true;
        }
    }

    fn merge(&mut self, other: &Hull) {
        for (mine, theirs) in [(&mut self.positive, other.positive), (&mut self.negative, other.negative)] {
            if let Some((lo, hi)) = theirs {
                *mine = Some(mine.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            }
        }
        self.zero |= other.zero;
    }

    /// How many buckets values inside the hull can fall in.
    fn buckets(&self) -> usize {
        let side = |s: Option<(f64, f64)>| s.map_or(0, |(lo, hi)| bucket_span(lo, hi));
        side(self.positive) + side(self.negative) + self.zero as usize
    }
}

/// Values that go into one segment together.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueUnit {
    pub parts: SmallVec<[Part; 1]>,
    /// Sum of the weights.
    pub count: f64,
    /// Sum of |value| × weight.
    pub abs_sum: f64,
    /// Number of (value, weight) pairs.
    entries: usize,
    hull: Hull,
    /// Distinct buckets of the values, once counted ([`ValueUnit::refine`]).
    distinct: Option<usize>,
}

impl ValueUnit {
    fn empty() -> ValueUnit {
        ValueUnit {
            parts: SmallVec::new(),
            count: 0.0,
            abs_sum: 0.0,
            entries: 0,
            hull: Hull::default(),
            distinct: None,
        }
    }

    /// One value standing for `w` samples.
    fn one(v: f64, w: f64) -> ValueUnit {
        let mut hull = Hull::default();
        hull.add(v);
        ValueUnit {
            parts: smallvec![Part::One(v, w)],
            count: w,
            abs_sum: v.abs() * w,
            entries: 1,
            hull,
            distinct: None,
        }
    }

    /// A record's values: one unit when they fit one segment, else split (counts divided
    /// where one value times its count alone is too large) into units that each fit one.
    fn split(values: Vec<f64>, counts: Option<Vec<f64>>) -> SmallVec<[ValueUnit; 1]> {
        let mut whole = ValueUnit::summary(&values, counts.as_deref());
        if whole.fits_one_segment() {
            whole.parts.push(Part::Many { values, counts });
            return smallvec![whole];
        }
        let weight = |i: usize| counts.as_ref().map_or(1.0, |c| c[i]);
        let mut units = SmallVec::new();
        let mut current: Option<(ValueUnit, Vec<f64>, Vec<f64>)> = None;
        for (i, &v) in values.iter().enumerate() {
            let (pieces, w) = pieces(v, weight(i));
            for _ in 0..pieces {
                let full = |(u, _, _): &(ValueUnit, _, _)| {
                    u.count + w > SEGMENT_LIMIT || u.abs_sum + v.abs() * w > SEGMENT_LIMIT
                };
                if let Some(built) = current.take_if(|c| full(c)) {
                    units.push(finish(built));
                }
                let (unit, vs, cs) = current.get_or_insert_with(|| (ValueUnit::empty(), Vec::new(), Vec::new()));
                unit.count += w;
                unit.abs_sum += v.abs() * w;
                unit.entries += 1;
                unit.hull.add(v);
                vs.push(v);
                cs.push(w);
            }
        }
        if let Some(built) = current {
            units.push(finish(built));
        }
        units
    }

    /// A unit of the values, without them: their totals and hull.
    fn summary(values: &[f64], counts: Option<&[f64]>) -> ValueUnit {
        let mut unit = ValueUnit::empty();
        for (i, v) in values.iter().enumerate() {
            let w = counts.map_or(1.0, |c| c[i]);
            unit.count += w;
            unit.abs_sum += v.abs() * w;
            unit.hull.add(*v);
        }
        unit.entries = values.len();
        unit
    }

    /// Whether the values fit one segment together: within the limit, or one value alone
    /// within 2^360.
    fn fits_one_segment(&self) -> bool {
        let alone = self.entries == 1 && self.count <= MAX_MAGNITUDE && self.abs_sum <= MAX_MAGNITUDE;
        alone || (self.count <= SEGMENT_LIMIT && self.abs_sum <= SEGMENT_LIMIT)
    }

    /// Whether the unit can go into a segment already holding `count` and `abs_sum`.
    pub fn fits_into(&self, count: f64, abs_sum: f64) -> bool {
        count + self.count <= SEGMENT_LIMIT && abs_sum + self.abs_sum <= SEGMENT_LIMIT
    }

    fn absorb(&mut self, other: ValueUnit) {
        self.parts.extend(other.parts);
        self.count += other.count;
        self.abs_sum += other.abs_sum;
        self.entries += other.entries;
        self.hull.merge(&other.hull);
        self.distinct = None;
    }

    /// An upper bound on the buckets the unit's values can add to a histogram.
    fn new_buckets(&self) -> usize {
        // One value is one bucket: no need to measure the hull (logarithms) for it.
        match self.entries {
            0 | 1 => self.entries,
            _ => self.distinct.unwrap_or_else(|| self.entries.min(self.hull.buckets())),
        }
    }

    /// The most datums this unit can add to any window: a fresh segment makes at most
    /// `(b + 2).div_ceil(150)` datums for `b` buckets (at least one), and so much at most
    /// does an existing one grow (see [`super::Distribution::datums_bound`]).
    pub fn slots_bound(&self) -> usize {
        (self.new_buckets() + 2).div_ceil(MAX_VALUES_PER_DATUM)
    }

    /// Counts the distinct buckets of the values, where that can tighten the bound.
    fn refine(&mut self) {
        if self.distinct.is_none() && self.new_buckets() + 2 > MAX_VALUES_PER_DATUM {
            let mut all = Vec::with_capacity(self.entries);
            self.parts.iter().for_each(|p| p.for_each(|v, _| all.push(v)));
            self.distinct = Some(distinct_buckets(all.into_iter()));
        }
    }
}

fn finish((mut unit, values, counts): (ValueUnit, Vec<f64>, Vec<f64>)) -> ValueUnit {
    unit.parts.push(Part::Many { values, counts: Some(counts) });
    unit
}

/// Into how many equal pieces (value, count) must be cut so that each piece's
/// |value × count| stays within the segment limit, and each piece's count.
fn pieces(v: f64, c: f64) -> (usize, f64) {
    if v.abs() * c <= MAX_MAGNITUDE {
        return (1, c);
    }
    let mut k = (v.abs() * c / SEGMENT_LIMIT).ceil();
    while v.abs() * (c / k) > SEGMENT_LIMIT {
        k += 1.0;
    }
    (k as usize, c / k)
}

/// Statistic sets merged while the merged set stays valid, else kept apart.
fn merged(a: &StatSet, b: &StatSet) -> Option<StatSet> {
    let mut m = *a;
    m.merge(b);
    (m.sample_count <= MAX_MAGNITUDE && valid_number(m.sum)).then_some(m)
}

/// Pushes `s` onto `sets`, merged into the last one where that stays valid.
pub fn push_statistics(sets: &mut SmallVec<[StatSet; 1]>, s: StatSet) -> bool {
    match sets.last_mut().and_then(|last| merged(last, &s).map(|m| (last, m))) {
        Some((last, m)) => {
            *last = m;
            false
        }
        None => {
            sets.push(s);
            true
        }
    }
}

/// What one record, or all records of one series-window in a submission, add to it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub values: SmallVec<[ValueUnit; 1]>,
    pub statistics: SmallVec<[StatSet; 1]>,
}

impl Plan {
    pub fn of(payload: Payload) -> Plan {
        match payload.into_measured() {
            Measured::Single(v) => Plan { values: smallvec![ValueUnit::one(v, 1.0)], statistics: SmallVec::new() },
            Measured::Weighted { value, weight } => {
                let unit = ValueUnit::one(value, weight);
                let values = if unit.fits_one_segment() {
                    smallvec![unit]
                } else {
                    ValueUnit::split(vec![value], Some(vec![weight]))
                };
                Plan { values, statistics: SmallVec::new() }
            }
            Measured::Many { values, counts } => {
                Plan { values: ValueUnit::split(values, counts), statistics: SmallVec::new() }
            }
            Measured::Statistics(s) => Plan { values: SmallVec::new(), statistics: smallvec![s] },
        }
    }

    /// [`Plan::slots_bound`] of `Plan::of(payload)`, without building the plan for the
    /// ordinary payloads (one value, a statistic set, values that fit one segment).
    pub fn bound_of(payload: &Payload) -> usize {
        match payload.measured() {
            Measured::Single(_) | Measured::Statistics(_) => 1,
            Measured::Weighted { value, weight } => match ValueUnit::one(*value, *weight) {
                unit if unit.fits_one_segment() => unit.slots_bound(),
                _ => Plan::of(payload.clone()).slots_bound(),
            },
            Measured::Many { values, counts } => {
                let whole = ValueUnit::summary(values, counts.as_deref());
                if whole.fits_one_segment() { whole.slots_bound() } else { Plan::of(payload.clone()).slots_bound() }
            }
        }
    }

    /// Adds `other` after this plan's units, joining units while they fit one segment.
    pub fn absorb(&mut self, other: Plan) {
        for unit in other.values {
            match self.values.last_mut() {
                // Joined only while together they still fit one segment.
                Some(last) if unit.fits_into(last.count, last.abs_sum) => last.absorb(unit),
                _ => self.values.push(unit),
            }
        }
        for s in other.statistics {
            push_statistics(&mut self.statistics, s);
        }
    }

    /// The most slots (datums) this plan can add to any window.
    pub fn slots_bound(&self) -> usize {
        self.values.iter().map(ValueUnit::slots_bound).sum::<usize>() + self.statistics.len()
    }

    /// Tightens [`Plan::slots_bound`] by counting distinct buckets (costs a sort of the values).
    pub fn refine(&mut self) {
        self.values.iter_mut().for_each(ValueUnit::refine);
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
