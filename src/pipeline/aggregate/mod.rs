//! Per series and window aggregation. Series are spread over shards, each behind its own
//! mutex, so concurrent requests rarely wait for each other.

mod distribution;
mod key;

use std::collections::HashMap;
use std::hash::BuildHasher;

// A keyed fast hash: series keys come from clients, but how many series they can make is
// bounded by the buffer bound, so flooding one bucket costs them little.
use foldhash::fast::RandomState;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use smallvec::SmallVec;

pub use distribution::Distribution;
pub use key::{decode_series_key, encode_series_key};

use crate::domain::payload::{Measured, Payload, StatSet};

const SHARDS: usize = 32;

/// What one series holds for one window. Statistic sets stay apart from values: one
/// datum never mixes `StatisticValues` with `Values`/`Counts`.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub distribution: Option<Distribution>,
    pub statistics: Option<StatSet>,
}

impl Window {
    fn add(&mut self, payload: Payload) {
        match payload.into_measured() {
            Measured::Single(v) => self.add_value(v, 1.0),
            Measured::Many { values, counts } => match counts {
                Some(counts) => values.iter().zip(&counts).for_each(|(v, c)| self.add_value(*v, *c)),
                None => values.iter().for_each(|v| self.add_value(*v, 1.0)),
            },
            Measured::Statistics(s) => match &mut self.statistics {
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
    series: HashMap<Box<[u8]>, OpenWindows, RandomState>,
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
            hasher: RandomState::default(),
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
    use crate::domain::units::{Resolution, Unit};

    fn key() -> Vec<u8> {
        let mut key = Vec::new();
        encode_series_key(&mut key, "App", "x", [].into_iter(), Unit::None, Resolution::High);
        key
    }

    fn one(v: f64) -> Payload {
        Payload::single(v).unwrap()
    }

    #[test]
    fn windows_close_after_their_end_plus_grace() {
        let agg = Aggregator::default();
        let key = key();
        assert!(agg.add(&key, 0, one(1.0)));
        assert!(!agg.add(&key, 0, one(2.0)));
        assert!(agg.add(&key, 1000, one(3.0)));
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
