//! Per series and window aggregation. Series are spread over shards, each behind its own
//! mutex, so concurrent requests rarely wait for each other. What a window costs in buffer
//! slots is the number of datums it can make ([`Window::slots`]); [`Aggregator::add`] says
//! how much an add raised it, and [`plan`] bounds that before the add.

mod distribution;
mod families;
mod key;
pub mod plan;

use std::collections::HashMap;
use std::hash::BuildHasher;

// A keyed fast hash: series keys come from clients, but how many series they can make is
// bounded by the buffer bound, so flooding one bucket costs them little.
use foldhash::fast::RandomState;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use smallvec::SmallVec;

pub use distribution::Distribution;
pub use key::{SeriesView, decode_series_key, encode_series_key, identity_of, metric_of, try_decode_series_key};

use crate::domain::payload::StatSet;
use crate::pipeline::aggregate::plan::{Plan, push_statistics};

const SHARDS: usize = 32;

/// What one series holds for one window: values in segments and statistic sets, each kept
/// within CloudWatch's range ([`plan`]); one of each, unless counts or sums pass 2^360.
/// Statistic sets stay apart from values: one datum never mixes `StatisticValues` with
/// `Values`/`Counts`.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub values: SmallVec<[Distribution; 1]>,
    pub statistics: SmallVec<[StatSet; 1]>,
}

impl Window {
    /// Adds a plan's units, each whole into the last segment when it fits there, else into a
    /// new one; returns how many slots that added.
    fn add(&mut self, plan: Plan) -> usize {
        let before = self.slots();
        for unit in plan.values {
            let mut fresh = !self.values.last().is_some_and(|d| unit.fits_into(d.count, d.abs_sum));
            for part in &unit.parts {
                part.for_each(|v, w| match self.values.last_mut() {
                    Some(d) if !fresh => d.add(v, w),
                    _ => {
                        self.values.push(Distribution::new(v, w));
                        fresh = false;
                    }
                });
            }
        }
        for s in plan.statistics {
            push_statistics(&mut self.statistics, s);
        }
        self.slots() - before
    }

    /// The window's cost in buffer slots: the most datums it can make.
    pub fn slots(&self) -> usize {
        self.values.iter().map(Distribution::datums_bound).sum::<usize>() + self.statistics.len()
    }
}

/// The end of a series' window that starts at `start_ms`.
pub fn window_end(key: &[u8], start_ms: i64) -> i64 {
    start_ms.saturating_add(key::key_resolution(key).window_ms())
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
    series: HashMap<Box<[u8]>, OpenWindows, RandomState>,
}

/// The sharded map of series to open windows.
pub struct Aggregator {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    active_series: AtomicUsize,
    families: families::Families,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::new(usize::MAX)
    }
}

impl Aggregator {
    /// `series_warning`: a metric with more active series than this is logged, once.
    pub fn new(series_warning: usize) -> Aggregator {
        Aggregator {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::default(),
            active_series: AtomicUsize::new(0),
            families: families::Families::new(series_warning),
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// Adds what a plan holds to its series-window; returns how many slots the window grew
    /// by (a new window's whole cost). Never more than [`Plan::slots_bound`].
    pub fn add(&self, key: &[u8], window_start_ms: i64, plan: Plan) -> usize {
        self.add_all(key, window_start_ms, std::iter::once(plan))
    }

    /// [`Aggregator::add`] of several plans of one series-window, in order, with one lookup.
    pub fn add_all(&self, key: &[u8], window_start_ms: i64, plans: impl Iterator<Item = Plan>) -> usize {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        let windows = match shard.series.get_mut(key) {
            Some(w) => w,
            None => {
                self.active_series.fetch_add(1, Ordering::Relaxed);
                self.families.added(key);
                shard.series.entry(key.into()).or_default()
            }
        };
        let at = match windows.iter().position(|(start, _)| *start == window_start_ms) {
            Some(at) => at,
            None => {
                windows.push((window_start_ms, Window::default()));
                windows.len() - 1
            }
        };
        let window = &mut windows[at].1;
        plans.map(|plan| window.add(plan)).sum()
    }

    /// Takes out windows that closed by `now_ms` (end plus `grace_ms`), or all with `None`.
    pub fn drain(&self, now_ms: Option<i64>, grace_ms: i64) -> Vec<ClosedWindow> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let mut emptied = 0;
            let mut departures = self.families.departures();
            shard.series.retain(|key, windows| {
                let len = key::key_resolution(key).window_ms();
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
                if !keep {
                    emptied += 1;
                    departures.left(key);
                }
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
    use crate::domain::limits::{MAX_MAGNITUDE, MAX_VALUES_PER_DATUM};
    use crate::domain::payload::{GivenValues, Payload, valid_number};
    use crate::domain::units::{Resolution, Unit};

    fn key() -> Vec<u8> {
        let mut key = Vec::new();
        encode_series_key(&mut key, "App", "x", [].into_iter(), Unit::None, Resolution::High);
        key
    }

    fn one(v: f64) -> Plan {
        Plan::of(Payload::single(v).unwrap())
    }

    fn many(values: &[f64], counts: Option<&[f64]>) -> Plan {
        let mut given =
            GivenValues { values: Some(values.to_vec()), counts: counts.map(<[f64]>::to_vec), ..Default::default() };
        Plan::of(Payload::check(&mut given).unwrap())
    }

    fn stats(sample_count: f64, sum: f64, min: f64, max: f64) -> Plan {
        let mut given = GivenValues { statistics: Some(StatSet { sample_count, sum, min, max }), ..Default::default() };
        Plan::of(Payload::check(&mut given).unwrap())
    }

    /// Adds `plan`, checking that the window grew by no more than the plan's bound.
    fn add(w: &mut Window, plan: Plan) -> usize {
        let bound = plan.slots_bound();
        let grown = w.add(plan);
        assert!(grown <= bound, "grew by {grown}, bound {bound}");
        grown
    }

    /// What CloudWatch would be sent for the window, checked as CloudWatch checks it: every
    /// number valid, and each datum's derived count and sum too. Returns the datums'
    /// (count, sum, min, max) and how many datums there are.
    fn publish(w: &Window) -> ((f64, f64, f64, f64), usize) {
        let mut total = (0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        let mut datums = 0;
        for d in &w.values {
            for chunk in d.entries().chunks(MAX_VALUES_PER_DATUM) {
                datums += 1;
                let count: f64 = chunk.iter().map(|e| e.1).sum();
                let sum: f64 = chunk.iter().map(|e| e.0 * e.1).sum();
                assert!(chunk.iter().all(|(v, c)| valid_number(*v) && valid_number(*c) && *c > 0.0), "{chunk:?}");
                assert!(count <= MAX_MAGNITUDE && sum.abs() <= MAX_MAGNITUDE, "datum count {count}, sum {sum}");
                total.0 += count;
                total.1 += sum;
                chunk.iter().for_each(|e| {
                    total.2 = total.2.min(e.0);
                    total.3 = total.3.max(e.0);
                });
            }
        }
        for s in &w.statistics {
            datums += 1;
            assert!([s.sample_count, s.sum, s.min, s.max].into_iter().all(valid_number), "{s:?}");
            total.0 += s.sample_count;
            total.1 += s.sum;
            total.2 = total.2.min(s.min);
            total.3 = total.3.max(s.max);
        }
        assert!(datums <= w.slots(), "{datums} datums from {} slots", w.slots());
        (total, datums)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
    }

    #[test]
    fn windows_close_after_their_end_plus_grace_and_an_add_says_what_it_cost() {
        let agg = Aggregator::default();
        let key = key();
        assert_eq!(agg.add(&key, 0, one(1.0)), 1);
        assert_eq!(agg.add(&key, 0, one(2.0)), 0);
        assert_eq!(agg.add(&key, 1000, one(3.0)), 1);
        assert_eq!(agg.active_series(), 1);
        assert!(agg.drain(Some(1999), 1000).is_empty());
        let closed = agg.drain(Some(2000), 1000);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].window.values[0].sum, 3.0);
        assert_eq!(agg.active_series(), 1);
        let rest = agg.drain(None, 1000);
        assert_eq!(rest.len(), 1);
        assert_eq!(agg.active_series(), 0);
    }

    #[test]
    fn merged_counts_past_2_to_the_360_go_into_segments_that_add_up() {
        // The case: each record valid, merged the count of 5 is 4e108.
        let mut w = Window::default();
        add(&mut w, many(&[5.0], Some(&[2e108])));
        add(&mut w, many(&[5.0, 6.0], Some(&[2e108, 1.0])));
        for v in 1..=10 {
            add(&mut w, one(v as f64));
        }
        let ((count, sum, min, max), datums) = publish(&w);
        assert!(datums > 1);
        assert!(close(count, 4e108 + 11.0) && close(sum, 2e109 + 61.0), "{count} {sum}");
        assert_eq!((min, max), (1.0, 10.0));
    }

    #[test]
    fn statistic_sets_whose_sums_pass_2_to_the_360_stay_apart() {
        let mut w = Window::default();
        assert_eq!(add(&mut w, stats(2.0, 2e108, 1e108, 1e108)), 1);
        assert_eq!(add(&mut w, stats(2.0, 2e108, 1e108, 1e108)), 1);
        for v in 1..=10 {
            add(&mut w, one(v as f64));
        }
        assert_eq!(add(&mut w, stats(1.0, 5.0, 5.0, 5.0)), 0, "merged into the last set");
        let ((count, sum, min, max), datums) = publish(&w);
        assert_eq!((datums, w.statistics.len()), (3, 2));
        assert!(close(count, 15.0) && close(sum, 4e108 + 60.0));
        assert_eq!((min, max), (1.0, 1e108));
    }

    #[test]
    fn histograms_of_huge_weights_stay_in_range() {
        let mut w = Window::default();
        let values: Vec<f64> = (1..=2000).map(|i| i as f64).collect();
        for _ in 0..3 {
            add(&mut w, many(&values, Some(&vec![1e103; 2000])));
            add(&mut w, many(&values, None));
        }
        assert!(w.values.len() > 1 && w.values.iter().any(|d| !d.is_exact()));
        let ((count, sum, min, max), _) = publish(&w);
        assert!(close(count, 3.0 * (2000.0 * 1e103 + 2000.0)), "{count}");
        assert!(close(sum, 3.0 * (1e103 + 1.0) * 2001.0 * 1000.0), "{sum}");
        assert_eq!((min, max), (1.0, 2000.0));
    }

    #[test]
    fn a_unit_that_does_not_fit_the_last_segment_goes_whole_into_a_new_one() {
        // The last segment is exact with 150 values and nearly full: a joined plan of small
        // values must not both turn it into a histogram and open a segment.
        let mut w = Window::default();
        let full: Vec<f64> = (1..=150).map(|i| i as f64 / 150.0).collect();
        add(&mut w, many(&full, Some(&[1.5e106; 150])));
        let mut joined = many(&[0.5, 151.0], Some(&[1e107, 1.0]));
        joined.absorb(one(152.0));
        assert_eq!(joined.slots_bound(), 1);
        assert_eq!(add(&mut w, joined), 1);
        assert_eq!(w.values.len(), 2);
        assert!(w.values[0].is_exact() && close(w.values[0].count, 2.25e108));
    }

    #[test]
    fn no_add_grows_a_window_past_its_plans_bound() {
        let mut rng = fastrand::Rng::with_seed(3);
        let magnitudes = [1e-100, 1e-3, 1.0, 1e3, 1e50, 1e100, 1e106, 1e107, 2e108];
        for _ in 0..40 {
            let mut w = Window::default();
            let mut want = (0.0, 0.0);
            let mut joined: Option<Plan> = None;
            for _ in 0..30 {
                let n = [1, 2, 10, 149, 150, 151, 400][rng.usize(..7)];
                let scale = magnitudes[rng.usize(..magnitudes.len())];
                let values: Vec<f64> =
                    (0..n).map(|_| scale * rng.f64() * if rng.bool() { 1.0 } else { -1.0 }).collect();
                let counts: Vec<f64> = (0..n).map(|_| [1.0, 0.25, 1e100, 1e107][rng.usize(..4)]).collect();
                let mut given = GivenValues { values: Some(values), counts: Some(counts), ..Default::default() };
                let Ok(payload) = Payload::check(&mut given) else { continue };
                let plan = Plan::of(payload);
                for u in &plan.values {
                    u.parts.iter().for_each(|p| {
                        p.for_each(|v, c| {
                            want.0 += c;
                            want.1 += v * c;
                        })
                    });
                }
                // Half the time joined with the next records, as admission joins a request's
                // records of one series-window.
                match joined.take() {
                    None if rng.bool() => joined = Some(plan),
                    None => {
                        add(&mut w, plan);
                    }
                    Some(mut j) => {
                        j.absorb(plan);
                        if rng.bool() {
                            joined = Some(j);
                        } else {
                            j.refine();
                            add(&mut w, j);
                        }
                    }
                }
            }
            if let Some(mut j) = joined.take() {
                j.refine();
                add(&mut w, j);
            }
            let ((count, _sum, _, _), _) = publish(&w);
            assert!(close(count, want.0), "{count} vs {}", want.0);
        }
    }

    #[test]
    fn a_window_costs_one_slot_per_datum_it_can_make() {
        let mut w = Window::default();
        let spread: Vec<f64> = (0..3000).map(|i| 1e-10 * 1.0096f64.powi(i)).collect();
        assert_eq!(add(&mut w, many(&spread, None)), 3002usize.div_ceil(150));
        assert_eq!(add(&mut w, many(&spread, None)), 0, "the same buckets again");
        let (_, datums) = publish(&w);
        assert_eq!((datums, w.slots()), (20, 21), "min and max took their buckets' only samples");
    }
}
