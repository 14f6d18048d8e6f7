//! The samples of one segment of a series-window: exact count, sum, min and max, plus either
//! the exact distinct values (while they fit one datum) or a log-scale histogram whose buckets
//! publish the exact mean of their samples.

use std::collections::BTreeMap;

use crate::domain::limits::{MAX_VALUES_PER_DATUM, MIN_MAGNITUDE};

/// Relative width of a histogram bucket. A bucket publishes the mean of its samples, which
/// lies inside the bucket, so any nearest-rank percentile is off by less than `GAMMA - 1`.
const GAMMA: f64 = 1.0095;
/// Added to a magnitude's log-bucket so that indexes of each sign stay apart:
/// ln(2^-360) / ln(GAMMA) is about -26,400, ln(2^360) / ln(GAMMA) about 26,400.
const INDEX_OFFSET: i32 = 30_000;

/// Samples of one segment: exact count, sum, min and max, plus either the exact distinct
/// values (while they fit one datum) or a log-scale histogram.
///
/// A window holds one of these per series until it is published, so it is kept small
/// (48 bytes): while exact, min and max are not kept (they are the entries' own, found when
/// the values turn into a histogram), and the distinct values are kept alone while each was
/// seen once (most are), as `f32` while each is one exactly.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub count: f64,
    pub sum: f64,
    /// Sum of |value| × weight: bounds the sum of every datum made of these samples.
    pub abs_sum: f64,
    repr: Repr,
}

/// The exact forms hold at most [`MAX_VALUES_PER_DATUM`] distinct values, the first `len`
/// of their slice (whose length is the capacity).
#[derive(Debug, Clone)]
enum Repr {
    /// One value and its weight.
    One(f64, f64),
    /// Distinct values of weight 1 each, every one exactly an `f32`.
    Narrow {
        len: u8,
        values: Box<[f32]>,
    },
    /// Distinct values of weight 1 each.
    Wide {
        len: u8,
        values: Box<[f64]>,
    },
    /// Distinct values and their weights.
    Weighted {
        len: u8,
        entries: Box<[(f64, f64)]>,
    },
    Histogram(Box<Histogram>),
}

#[derive(Debug, Clone)]
struct Histogram {
    min: f64,
    max: f64,
    /// Weight of samples equal to `min`/`max`, published as entries of their own.
    min_weight: f64,
    max_weight: f64,
    /// Buckets by index: (count, sum of samples). A map, not a sorted vector: a new bucket
    /// costs O(log n), not a shift of every bucket after it (quadratic for wide windows).
    buckets: BTreeMap<i32, (f64, f64)>,
}

/// `value` as an `f32` when it is one exactly.
fn narrow(value: f64) -> Option<f32> {
    let n = value as f32;
    (n as f64 == value).then_some(n)
}

/// The capacity after `len` when full: grown by a quarter, not doubled (a window holds it
/// until it is published, and doubling would leave up to half of it unused).
fn grown(len: usize) -> usize {
    (len + (len / 4).max(2)).min(MAX_VALUES_PER_DATUM)
}

/// `slice[..len]` followed by `next`, in a slice of capacity [`grown`] when `slice` is full.
fn push<T: Copy + Default>(slice: &mut Box<[T]>, len: &mut u8, next: T) {
    let at = *len as usize;
    if at == slice.len() {
        let mut more = Vec::with_capacity(grown(at));
        more.extend_from_slice(&slice[..at]);
        more.resize(more.capacity(), T::default());
        *slice = more.into_boxed_slice();
    }
    slice[at] = next;
    *len += 1;
}

/// Two values in a fresh slice of capacity [`grown`]`(1)`.
fn pair<T: Copy + Default>(a: T, b: T) -> Box<[T]> {
    let mut v = vec![T::default(); grown(1)];
    (v[0], v[1]) = (a, b);
    v.into_boxed_slice()
}

impl Distribution {
    pub fn new(value: f64, weight: f64) -> Distribution {
        let value = if value == 0.0 { 0.0 } else { value }; // -0.0 and 0.0 are one value
        Distribution {
            count: weight,
            sum: value * weight,
            abs_sum: value.abs() * weight,
            repr: Repr::One(value, weight),
        }
    }

    pub fn add(&mut self, value: f64, weight: f64) {
        let value = if value == 0.0 { 0.0 } else { value };
        self.count += weight;
        self.sum += value * weight;
        self.abs_sum += value.abs() * weight;
        let len = match &mut self.repr {
            Repr::One(v, w) if *v == value => return *w += weight,
            Repr::One(v, w) => {
                self.repr = match (narrow(*v), narrow(value)) {
                    (Some(a), Some(b)) if *w == 1.0 && weight == 1.0 => Repr::Narrow { len: 2, values: pair(a, b) },
                    _ if *w == 1.0 && weight == 1.0 => Repr::Wide { len: 2, values: pair(*v, value) },
                    _ => Repr::Weighted { len: 2, entries: pair((*v, *w), (value, weight)) },
                };
                return;
            }
            Repr::Narrow { len, values } => {
                let known = narrow(value).and_then(|_| position_in(&values[..*len as usize], value, |e| e as f64));
                if known.is_none()
                    && weight == 1.0
                    && (*len as usize) < MAX_VALUES_PER_DATUM
                    && let Some(n) = narrow(value)
                {
                    return push(values, len, n);
                }
                *len as usize
            }
            Repr::Wide { len, values } => {
                let known = position_in(&values[..*len as usize], value, |e| e);
                if known.is_none() && weight == 1.0 && (*len as usize) < MAX_VALUES_PER_DATUM {
                    return push(values, len, value);
                }
                *len as usize
            }
            Repr::Weighted { len, entries } => {
                let held = &mut entries[..*len as usize];
                if let Some(at) = position_of(held, value) {
                    return held[at].1 += weight;
                }
                if (*len as usize) < MAX_VALUES_PER_DATUM {
                    return push(entries, len, (value, weight));
                }
                *len as usize
            }
            Repr::Histogram(h) => return h.add(value, weight),
        };
        // A value seen again, or one not of weight 1 or not narrow, or one past the limit.
        let mut entries = self.exact_entries();
        match entries.iter_mut().find(|e| e.0 == value) {
            Some(e) => e.1 += weight,
            None if len < MAX_VALUES_PER_DATUM => entries.push((value, weight)),
            None => return self.repr = Repr::Histogram(Box::new(Histogram::of(&entries, value, weight))),
        }
        let len = entries.len();
        entries.resize(grown(len - 1), (0.0, 0.0));
        self.repr = Repr::Weighted { len: len as u8, entries: entries.into_boxed_slice() };
    }

    /// The smallest sample.
    pub fn min(&self) -> f64 {
        match &self.repr {
            Repr::Histogram(h) => h.min,
            _ => self.exact_entries().iter().map(|e| e.0).fold(f64::INFINITY, f64::min),
        }
    }

    /// The largest sample.
    pub fn max(&self) -> f64 {
        match &self.repr {
            Repr::Histogram(h) => h.max,
            _ => self.exact_entries().iter().map(|e| e.0).fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// The exact entries, (value, weight) in the order they came; empty for a histogram.
    fn exact_entries(&self) -> Vec<(f64, f64)> {
        match &self.repr {
            Repr::One(v, w) => vec![(*v, *w)],
            Repr::Narrow { len, values } => values[..*len as usize].iter().map(|v| (*v as f64, 1.0)).collect(),
            Repr::Wide { len, values } => values[..*len as usize].iter().map(|v| (*v, 1.0)).collect(),
            Repr::Weighted { len, entries } => entries[..*len as usize].to_vec(),
            Repr::Histogram(_) => Vec::new(),
        }
    }

    /// How many datums [`Distribution::entries`] can make at most: one while exact, else
    /// one per 150 of its buckets plus the min and max entries. Adding values whose
    /// buckets number `b` raises it by at most `(b + 2).div_ceil(150)`: an exact
    /// distribution of at most 150 values turns into at most 150 + b buckets.
    pub fn datums_bound(&self) -> usize {
        match &self.repr {
            Repr::Histogram(h) => (h.buckets.len() + 2).div_ceil(MAX_VALUES_PER_DATUM),
            _ => 1,
        }
    }

    #[cfg(test)]
    pub fn is_exact(&self) -> bool {
        !matches!(self.repr, Repr::Histogram(_))
    }

    /// The (value, count) entries to publish. Their count, sum, min and max equal the
    /// samples'; each sample is stood for by a value within `GAMMA - 1` of it, in order.
    /// Every entry is a number CloudWatch accepts.
    pub fn entries(&self) -> Vec<(f64, f64)> {
        match &self.repr {
            Repr::Histogram(h) => h.entries(),
            _ => self.exact_entries(),
        }
    }
}

impl Histogram {
    /// The histogram of exact `entries` and one more value (not among them).
    fn of(entries: &[(f64, f64)], value: f64, weight: f64) -> Histogram {
        let mut h =
            Histogram { min: value, max: value, min_weight: weight, max_weight: weight, buckets: BTreeMap::new() };
        // min and max as adding them one by one keeps them: each value is distinct here.
        for &(v, w) in entries {
            if v < h.min {
                (h.min, h.min_weight) = (v, w);
            }
            if v > h.max {
                (h.max, h.max_weight) = (v, w);
            }
        }
        for &(v, w) in entries {
            bucket_add(&mut h.buckets, v, w);
        }
        bucket_add(&mut h.buckets, value, weight);
        h
    }

    fn add(&mut self, value: f64, weight: f64) {
        if value < self.min {
            self.min = value;
            self.min_weight = weight;
        } else if value == self.min {
            self.min_weight += weight;
        }
        if value > self.max {
            self.max = value;
            self.max_weight = weight;
        } else if value == self.max {
            self.max_weight += weight;
        }
        bucket_add(&mut self.buckets, value, weight);
    }

    fn entries(&self) -> Vec<(f64, f64)> {
        {
            {
                let buckets = &self.buckets;
                let mut out = Vec::with_capacity(buckets.len() + 2);
                out.push((self.min, self.min_weight));
                let (min_bucket, max_bucket) = (bucket_index(self.min), bucket_index(self.max));
                for (&index, &(all, mut sum)) in buckets {
                    let mut count = all;
                    if index == min_bucket {
                        count -= self.min_weight;
                        sum -= self.min * self.min_weight;
                    }
                    if index == max_bucket && self.max != self.min {
                        count -= self.max_weight;
                        sum -= self.max * self.max_weight;
                    }
                    // Only the buckets of min and max lose samples; what is left of them may be
                    // rounding dust. Every other bucket keeps its samples, whatever their weight.
                    if count <= 1e-12 * all {
                        continue;
                    }
                    let mut mean = (sum / count).clamp(self.min, self.max);
                    if mean != 0.0 && mean.abs() < MIN_MAGNITUDE {
                        mean = MIN_MAGNITUDE.copysign(mean); // rounding below CloudWatch's range
                    }
                    out.push((mean, count.max(MIN_MAGNITUDE)));
                }
                if self.max != self.min {
                    out.push((self.max, self.max_weight));
                }
                out
            }
        }
    }
}

/// Log-scale bucket index, symmetric around zero (which has bucket 0).
fn bucket_index(v: f64) -> i32 {
    if v == 0.0 {
        return 0;
    }
    let i = (v.abs().ln() / GAMMA.ln()).floor() as i32 + INDEX_OFFSET;
    if v > 0.0 { i } else { -i }
}

/// How many buckets magnitudes in `[lo, hi]` (both valid, `0 < lo <= hi`) can fall in. Over
/// CloudWatch's whole range, 2^-360 to 2^360, that is about 52,800 per sign: a
/// distribution never has more than about 105,600 buckets, whatever it was sent.
pub fn bucket_span(lo: f64, hi: f64) -> usize {
    (bucket_index(hi) - bucket_index(lo)).unsigned_abs() as usize + 1
}

/// How many distinct buckets `values` fall in (what they can add to a histogram).
pub fn distinct_buckets(values: impl Iterator<Item = f64>) -> usize {
    let mut indexes: Vec<i32> = values.map(bucket_index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes.len()
}

/// Where `value` is among the entries (pairs of value and weight).
fn position_of(entries: &[(f64, f64)], value: f64) -> Option<usize> {
    position_in(entries, value, |e| e.0)
}

/// Where `value` is among the items, each read as a value by `of`: four compared at a time
/// without a branch between them (the scan runs over up to 150 entries on every add).
fn position_in<T: Copy>(items: &[T], value: f64, of: impl Fn(T) -> f64) -> Option<usize> {
    let mut chunks = items.chunks_exact(4);
    for (i, c) in chunks.by_ref().enumerate() {
        if (of(c[0]) == value) | (of(c[1]) == value) | (of(c[2]) == value) | (of(c[3]) == value) {
            return c.iter().position(|e| of(*e) == value).map(|at| i * 4 + at);
        }
    }
    let done = items.len() - chunks.remainder().len();
    chunks.remainder().iter().position(|e| of(*e) == value).map(|at| done + at)
}

fn bucket_add(buckets: &mut BTreeMap<i32, (f64, f64)>, v: f64, w: f64) {
    let b = buckets.entry(bucket_index(v)).or_insert((0.0, 0.0));
    b.0 += w;
    b.1 += v * w;
}

#[cfg(test)]
#[path = "distribution_tests.rs"]
mod tests;
