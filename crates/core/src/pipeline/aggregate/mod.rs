//! Per series and window aggregation. Series are spread over shards, each behind its own
//! mutex, so concurrent requests rarely wait for each other. What a window costs in buffer
//! slots is the number of datums it can make ([`Window::slots`]); [`Aggregator::add`] says
//! how much an add raised it, and [`plan`] bounds that before the add.

mod distribution;
mod families;
mod key;
pub mod plan;
#[cfg(test)]
mod window_tests;

use std::hash::BuildHasher;

// A keyed fast hash: series keys come from clients, but how many series they can make is
// bounded by the buffer bound, so flooding one bucket costs them little.
use foldhash::fast::RandomState;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use smallvec::SmallVec;

pub use distribution::Distribution;
pub use key::{SeriesView, decode_series_key, encode_series_key, identity_of, metric_of, try_decode_series_key};

use crate::domain::payload::{Measured, Payload, StatSet};
use crate::pipeline::aggregate::plan::{Plan, SEGMENT_LIMIT, push_statistics};

const SHARDS: usize = 32;

/// What one series holds for one window: values in segments and statistic sets, each kept
/// within CloudWatch's range ([`plan`]); one of each, unless counts or sums pass 2^360.
/// Statistic sets stay apart from values: one datum never mixes `StatisticValues` with
/// `Values`/`Counts`. Statistic sets are rare beside values, so they are boxed apart
/// (72 bytes in all).
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub values: SmallVec<[Distribution; 1]>,
    pub statistics: Statistics,
}

/// A window's statistic sets: none, without a box, for most windows.
#[derive(Debug, Clone, Default)]
pub struct Statistics(Option<Box<SmallVec<[StatSet; 1]>>>);

impl std::ops::Deref for Statistics {
    type Target = [StatSet];
    fn deref(&self) -> &[StatSet] {
        self.0.as_deref().map_or(&[], |sets| sets.as_slice())
    }
}

impl<'a> IntoIterator for &'a Statistics {
    type Item = &'a StatSet;
    type IntoIter = std::slice::Iter<'a, StatSet>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
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
            push_statistics(self.statistics.0.get_or_insert_default(), s);
        }
        self.slots() - before
    }

    /// [`Window::add`] of `Plan::of(payload)`; a lone value (most records) needs no plan.
    pub fn add_payload(&mut self, payload: Payload) -> usize {
        match *payload.measured() {
            Measured::Single(v) => self.add_one(v),
            _ => self.add(Plan::of(payload)),
        }
    }

    /// One value of weight 1, as [`Window::add`] adds its unit: into the last segment when
    /// the totals stay within [`SEGMENT_LIMIT`], else into a new one.
    fn add_one(&mut self, v: f64) -> usize {
        match self.values.last_mut() {
            Some(d) if d.count + 1.0 <= SEGMENT_LIMIT && d.abs_sum + v.abs() <= SEGMENT_LIMIT => {
                let before = d.datums_bound();
                d.add(v, 1.0);
                d.datums_bound() - before
            }
            _ => {
                self.values.push(Distribution::new(v, 1.0));
                1
            }
        }
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

/// A series and its open windows by start time; usually one, two around a window's end.
/// Boxed in its shard's table, so that the table's empty slots cost a pointer each.
struct Series {
    key: Box<[u8]>,
    windows: SmallVec<[(i64, Window); 1]>,
}

#[derive(Default)]
struct Shard {
    /// By the hash of their key ([`Aggregator::hash`]).
    series: HashTable<Box<Series>>,
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

    /// The hash of a series key: its shard is chosen by bits 32 to 36, so that the bits the
    /// shard's table uses (the lowest for the slot, the highest seven for the tag) still vary.
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        &self.shards[(hash >> 32) as usize % SHARDS]
    }

    /// Adds what a plan holds to its series-window; returns how many slots the window grew
    /// by (a new window's whole cost). Never more than [`Plan::slots_bound`].
    pub fn add(&self, key: &[u8], window_start_ms: i64, plan: Plan) -> usize {
        self.add_all(key, window_start_ms, std::iter::once(plan))
    }

    /// [`Aggregator::add`] of several plans of one series-window, in order, with one lookup.
    pub fn add_all(&self, key: &[u8], window_start_ms: i64, plans: impl Iterator<Item = Plan>) -> usize {
        self.with_window(key, window_start_ms, |window| plans.map(|plan| window.add(plan)).sum())
    }

    /// [`Aggregator::add_all`] of records' payloads (each `Plan::of` its payload).
    pub fn add_payloads(&self, key: &[u8], window_start_ms: i64, payloads: impl Iterator<Item = Payload>) -> usize {
        self.with_window(key, window_start_ms, |window| payloads.map(|p| window.add_payload(p)).sum())
    }

    /// Runs `f` on the series-window, made when new.
    fn with_window(&self, key: &[u8], window_start_ms: i64, f: impl FnOnce(&mut Window) -> usize) -> usize {
        let hash = self.hash(key);
        let mut shard = self.shard(hash).lock().unwrap_or_else(|e| e.into_inner());
        let entry = shard.series.entry(hash, |s| *s.key == *key, |s| self.hash(&s.key));
        let windows = match entry {
            Entry::Occupied(o) => &mut o.into_mut().windows,
            Entry::Vacant(v) => {
                self.active_series.fetch_add(1, Ordering::Relaxed);
                self.families.added(key);
                &mut v.insert(Box::new(Series { key: key.into(), windows: SmallVec::new() })).into_mut().windows
            }
        };
        let at = match windows.iter().position(|(start, _)| *start == window_start_ms) {
            Some(at) => at,
            None => {
                windows.push((window_start_ms, Window::default()));
                windows.len() - 1
            }
        };
        f(&mut windows[at].1)
    }

    /// Takes out windows that closed by `now_ms` (end plus `grace_ms`), or all with `None`.
    pub fn drain(&self, now_ms: Option<i64>, grace_ms: i64) -> Vec<ClosedWindow> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let mut emptied = 0;
            let mut departures = self.families.departures();
            shard.series.retain(|series| {
                let Series { key, windows } = &mut **series;
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
