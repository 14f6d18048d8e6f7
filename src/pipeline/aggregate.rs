//! Per series and window aggregation.
//!
//! A series is (namespace, name, sorted dimensions, unit, resolution), encoded as one byte
//! string so that a lookup needs no allocation. Series are spread over shards, each behind
//! its own mutex, so concurrent requests rarely wait for each other.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use smallvec::SmallVec;

use crate::domain::units::{Resolution, Unit};
use crate::pipeline::validate::{Payload, Sample, StatSet};

/// Most values one datum may carry.
pub const MAX_VALUES_PER_DATUM: usize = 150;

/// Relative width of a histogram bucket. A bucket publishes the mean of its samples, which
/// lies inside the bucket, so any nearest-rank percentile is off by less than `GAMMA - 1`.
const GAMMA: f64 = 1.0095;

const SHARDS: usize = 32;

// ---------------------------------------------------------------------------------------
// Series keys

/// Writes the series key of `sample` at the end of `out`: resolution, unit, then
/// length-prefixed namespace, name and dimension pairs (length prefixes make it unambiguous).
pub fn encode_series_key(out: &mut Vec<u8>, sample: &Sample<'_>) {
    out.push(sample.resolution.seconds());
    out.push(sample.unit as u8);
    push_str(out, sample.namespace);
    push_str(out, sample.name);
    out.push(sample.dimensions.len() as u8);
    for (k, v) in &sample.dimensions {
        push_str(out, k);
        push_str(out, v);
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A series key read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView<'k> {
    pub resolution: Resolution,
    pub unit: Unit,
    pub namespace: &'k str,
    pub name: &'k str,
    pub dimensions: Vec<(&'k str, &'k str)>,
}

/// Decodes a key made by [`encode_series_key`].
pub fn decode_series_key(key: &[u8]) -> SeriesView<'_> {
    let mut r = KeyReader { key, at: 0 };
    let resolution = Resolution::from_seconds(r.byte() as u64).expect("keys hold a valid resolution");
    let unit = Unit::from_index(r.byte());
    let namespace = r.text();
    let name = r.text();
    let n = r.byte() as usize;
    let dimensions = (0..n).map(|_| (r.text(), r.text())).collect();
    SeriesView { resolution, unit, namespace, name, dimensions }
}

struct KeyReader<'k> {
    key: &'k [u8],
    at: usize,
}

impl<'k> KeyReader<'k> {
    fn byte(&mut self) -> u8 {
        self.at += 1;
        self.key[self.at - 1]
    }

    fn text(&mut self) -> &'k str {
        let len = u16::from_le_bytes([self.key[self.at], self.key[self.at + 1]]) as usize;
        self.at += 2 + len;
        std::str::from_utf8(&self.key[self.at - len..self.at]).expect("keys hold UTF-8")
    }
}

fn key_resolution(key: &[u8]) -> Resolution {
    Resolution::from_seconds(key[0] as u64).expect("keys hold a valid resolution")
}

// ---------------------------------------------------------------------------------------
// Distributions

/// Samples of one series-window: exact count, sum, min and max, plus either the exact
/// distinct values (while they fit one datum) or a log-scale histogram.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// Weight of samples equal to `min`/`max`, published as entries of their own.
    min_weight: f64,
    max_weight: f64,
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// Distinct values and their counts, at most [`MAX_VALUES_PER_DATUM`].
    Exact(SmallVec<[(f64, f64); 1]>),
    /// Buckets sorted by index: (index, count, sum of samples).
    Histogram(Vec<(i32, f64, f64)>),
}

impl Distribution {
    pub fn new(value: f64, weight: f64) -> Distribution {
        let value = if value == 0.0 { 0.0 } else { value }; // -0.0 and 0.0 are one value
        let mut exact = SmallVec::new();
        exact.push((value, weight));
        Distribution {
            count: weight,
            sum: value * weight,
            min: value,
            max: value,
            min_weight: weight,
            max_weight: weight,
            repr: Repr::Exact(exact),
        }
    }

    pub fn add(&mut self, value: f64, weight: f64) {
        let value = if value == 0.0 { 0.0 } else { value };
        self.count += weight;
        self.sum += value * weight;
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
        match &mut self.repr {
            Repr::Exact(entries) => {
                if let Some(e) = entries.iter_mut().find(|e| e.0 == value) {
                    e.1 += weight;
                } else if entries.len() < MAX_VALUES_PER_DATUM {
                    entries.push((value, weight));
                } else {
                    let mut buckets = Vec::with_capacity(entries.len() + 1);
                    for &(v, w) in entries.iter() {
                        bucket_add(&mut buckets, v, w);
                    }
                    bucket_add(&mut buckets, value, weight);
                    self.repr = Repr::Histogram(buckets);
                }
            }
            Repr::Histogram(buckets) => bucket_add(buckets, value, weight),
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self.repr, Repr::Exact(_))
    }

    /// The (value, count) entries to publish. Their count, sum, min and max equal the
    /// samples'; each sample is stood for by a value within `GAMMA - 1` of it, in order.
    pub fn entries(&self) -> Vec<(f64, f64)> {
        match &self.repr {
            Repr::Exact(entries) => entries.to_vec(),
            Repr::Histogram(buckets) => {
                let mut out = Vec::with_capacity(buckets.len() + 2);
                out.push((self.min, self.min_weight));
                let (min_bucket, max_bucket) = (bucket_index(self.min), bucket_index(self.max));
                for &(index, mut count, mut sum) in buckets {
                    if index == min_bucket {
                        count -= self.min_weight;
                        sum -= self.min * self.min_weight;
                    }
                    if index == max_bucket && self.max != self.min {
                        count -= self.max_weight;
                        sum -= self.max * self.max_weight;
                    }
                    // What is left after taking out min and max may be rounding dust.
                    if count > 1e-9 * self.count {
                        out.push(((sum / count).clamp(self.min, self.max), count));
                    }
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
    // ln(2^-360)/ln(GAMMA) is about -26400: the offset keeps indexes of each sign apart.
    let i = (v.abs().ln() / GAMMA.ln()).floor() as i32 + 30_000;
    if v > 0.0 { i } else { -i }
}

fn bucket_add(buckets: &mut Vec<(i32, f64, f64)>, v: f64, w: f64) {
    let index = bucket_index(v);
    match buckets.binary_search_by_key(&index, |b| b.0) {
        Ok(i) => {
            buckets[i].1 += w;
            buckets[i].2 += v * w;
        }
        Err(i) => buckets.insert(i, (index, w, v * w)),
    }
}

// ---------------------------------------------------------------------------------------
// Windows and the aggregator

/// What one series holds for one window. Statistic sets stay apart from values: one
/// datum never mixes `StatisticValues` with `Values`/`Counts`.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub distribution: Option<Distribution>,
    pub statistics: Option<StatSet>,
}

impl Window {
    fn add(&mut self, payload: Payload) {
        match payload {
            Payload::Single(v) => self.add_value(v, 1.0),
            Payload::Many { values, counts } => match counts {
                Some(counts) => values.iter().zip(&counts).for_each(|(v, c)| self.add_value(*v, *c)),
                None => values.iter().for_each(|v| self.add_value(*v, 1.0)),
            },
            Payload::Statistics(s) => match &mut self.statistics {
                Some(existing) => existing.merge(&s),
                None => self.statistics = Some(s),
            },
        }
    }

    fn add_value(&mut self, v: f64, w: f64) {
        match &mut self.distribution {
            Some(d) => d.add(v, w),
            None => self.distribution = Some(Distribution::new(v, w)),
        }
    }
}

/// A window taken out of the aggregator to be published.
#[derive(Debug)]
pub struct ClosedWindow {
    pub key: Box<[u8]>,
    pub start_ms: i64,
    pub window: Window,
}

/// The open windows of one series by start time; usually one, two around a window's end.
type OpenWindows = SmallVec<[(i64, Window); 1]>;

#[derive(Default)]
struct Shard {
    series: HashMap<Box<[u8]>, OpenWindows>,
}

/// The sharded map of series to open windows.
pub struct Aggregator {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    active_series: AtomicUsize,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            active_series: AtomicUsize::new(0),
        }
    }
}

impl Aggregator {
    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// Adds a sample's payload to its series-window; true when that window is new.
    pub fn add(&self, key: &[u8], window_start_ms: i64, payload: Payload) -> bool {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        let windows = match shard.series.get_mut(key) {
            Some(w) => w,
            None => {
                self.active_series.fetch_add(1, Ordering::Relaxed);
                shard.series.entry(key.into()).or_default()
            }
        };
        if let Some((_, w)) = windows.iter_mut().find(|(start, _)| *start == window_start_ms) {
            w.add(payload);
            return false;
        }
        let mut window = Window::default();
        window.add(payload);
        windows.push((window_start_ms, window));
        true
    }

    /// Takes out windows that closed by `now_ms` (end plus `grace_ms`), or all with `None`.
    pub fn drain(&self, now_ms: Option<i64>, grace_ms: i64) -> Vec<ClosedWindow> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let mut emptied = 0;
            shard.series.retain(|key, windows| {
                let len = key_resolution(key).window_ms();
                let closed = |start: i64| now_ms.is_none_or(|now| start + len + grace_ms <= now);
                let mut i = 0;
                while i < windows.len() {
                    if closed(windows[i].0) {
                        let (start_ms, window) = windows.remove(i);
                        out.push(ClosedWindow { key: key.clone(), start_ms, window });
                    } else {
                        i += 1;
                    }
                }
                let keep = !windows.is_empty();
                emptied += !keep as usize;
                keep
            });
            self.active_series.fetch_sub(emptied, Ordering::Relaxed);
        }
        out
    }

    /// Series with at least one open window.
    pub fn active_series(&self) -> usize {
        self.active_series.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::validate::Dims;

    fn sample<'a>(name: &'a str, dims: &[(&'a str, &'a str)]) -> Sample<'a> {
        Sample {
            namespace: "App",
            name,
            dimensions: Dims::from_slice(dims),
            unit: Unit::Milliseconds,
            resolution: Resolution::High,
            timestamp_ms: 0,
            payload: Payload::Single(1.0),
        }
    }

    #[test]
    fn keys_round_trip_and_differ_by_every_part() {
        let mut a = Vec::new();
        encode_series_key(&mut a, &sample("Latency", &[("Service", "api"), ("Zone", "a")]));
        let view = decode_series_key(&a);
        assert_eq!(view.namespace, "App");
        assert_eq!(view.name, "Latency");
        assert_eq!(view.unit, Unit::Milliseconds);
        assert_eq!(view.resolution, Resolution::High);
        assert_eq!(view.dimensions, vec![("Service", "api"), ("Zone", "a")]);
        let mut b = Vec::new();
        encode_series_key(&mut b, &sample("Latency", &[("Service", "apiZ"), ("one", "a")]));
        assert_ne!(a, b);
    }

    /// Expands entries into a sorted list, as CloudWatch sees `Values`/`Counts` with whole counts.
    fn expand(entries: &[(f64, f64)]) -> Vec<f64> {
        let mut out: Vec<f64> = entries.iter().flat_map(|(v, c)| std::iter::repeat_n(*v, *c as usize)).collect();
        out.sort_by(f64::total_cmp);
        out
    }

    fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank - 1]
    }

    #[test]
    fn few_distinct_values_are_published_exactly() {
        let mut d = Distribution::new(0.0, 1.0);
        for i in 0..1000 {
            d.add((i % 2) as f64, 1.0);
        }
        assert!(d.is_exact());
        let mut entries = d.entries();
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(entries, vec![(0.0, 501.0), (1.0, 500.0)]);
    }

    #[test]
    fn a_histogram_keeps_statistics_exact_and_percentiles_within_one_percent() {
        let mut rng = fastrand::Rng::with_seed(7);
        let samples: Vec<f64> =
            (0..20_000).map(|_| (rng.f64() * 12.0).exp() * if rng.u8(..) == 0 { 30.0 } else { 1.0 }).collect();
        let mut d = Distribution::new(samples[0], 1.0);
        samples[1..].iter().for_each(|v| d.add(*v, 1.0));
        assert!(!d.is_exact());
        let entries = d.entries();
        let count: f64 = entries.iter().map(|e| e.1).sum();
        let sum: f64 = entries.iter().map(|e| e.0 * e.1).sum();
        let raw_sum: f64 = samples.iter().sum();
        assert_eq!(count, samples.len() as f64);
        assert!(((sum - raw_sum) / raw_sum).abs() < 1e-9, "{sum} vs {raw_sum}");
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let published = expand(&entries);
        assert_eq!(published.first(), sorted.first());
        assert_eq!(published.last(), sorted.last());
        for p in [1.0, 10.0, 50.0, 90.0, 99.0, 99.9] {
            let (want, got) = (nearest_rank(&sorted, p), nearest_rank(&published, p));
            assert!(((got - want) / want).abs() <= 0.01, "p{p}: {got} vs {want}");
        }
    }

    #[test]
    fn negative_values_and_weights_keep_sums_exact() {
        let mut d = Distribution::new(-5.0, 2.0);
        for i in 0..500 {
            d.add(i as f64 * 0.37 - 90.0, 0.5 + (i % 3) as f64);
        }
        let entries = d.entries();
        let count: f64 = entries.iter().map(|e| e.1).sum();
        let sum: f64 = entries.iter().map(|e| e.0 * e.1).sum();
        assert!((count - d.count).abs() < 1e-9 * d.count);
        assert!((sum - d.sum).abs() <= 1e-9 * d.sum.abs());
        let min = entries.iter().map(|e| e.0).fold(f64::MAX, f64::min);
        let max = entries.iter().map(|e| e.0).fold(f64::MIN, f64::max);
        assert_eq!((min, max), (d.min, d.max));
    }

    #[test]
    fn windows_close_after_their_end_plus_grace() {
        let agg = Aggregator::default();
        let mut key = Vec::new();
        encode_series_key(&mut key, &sample("x", &[]));
        assert!(agg.add(&key, 0, Payload::Single(1.0)));
        assert!(!agg.add(&key, 0, Payload::Single(2.0)));
        assert!(agg.add(&key, 1000, Payload::Single(3.0)));
        assert_eq!(agg.active_series(), 1);
        assert!(agg.drain(Some(1999), 1000).is_empty());
        let closed = agg.drain(Some(2000), 1000);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].window.distribution.as_ref().unwrap().sum, 3.0);
        assert_eq!(agg.active_series(), 1);
        let rest = agg.drain(None, 1000);
        assert_eq!(rest.len(), 1);
        assert_eq!(agg.active_series(), 0);
    }
}
