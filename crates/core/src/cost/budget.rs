//! The series budget (`[cardinality]`): which series are active (a sample within
//! `series_ttl`), admitted first come, first served, under a bound on all of them, per
//! namespace and per metric. A new series over a bound goes to its metric's overflow series
//! (every non-default dimension's value replaced by [`OVERFLOW_VALUE`]) or is refused. Pure:
//! the caller gives the time, and the table holds fixed-size hashes, so its memory is bounded
//! by the budget itself.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::reasons::SeriesBound;
use dims::{Dims, dim, dim_at, dim_value};

/// The value an overflow series has for every dimension that is not a default one.
pub const OVERFLOW_VALUE: &str = "AllOther";

/// What a new series over budget becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Joins its metric's overflow series: totals stay exact.
    Aggregate,
    /// Is refused, with a reason the client is told.
    Refuse,
}

#[derive(Debug, Clone)]
pub struct BudgetSettings {
    pub max_series: usize,
    pub max_series_per_namespace: Option<usize>,
    pub max_series_per_metric: usize,
    pub series_ttl_ms: i64,
    pub overflow: Overflow,
    /// The default dimensions' names: an overflow series keeps their values.
    pub default_dimensions: Vec<String>,
}

impl BudgetSettings {
    /// Overflow series admitted beyond `max_series` (one per metric and dimension names
    /// is what most need): a tenth of the budget, at least 100.
    pub fn overflow_room(&self) -> usize {
        (self.max_series / 10).max(100)
    }
}

/// A series' identity: namespace, name and dimensions (not unit or resolution, which
/// CloudWatch does not tell apart), hashed to 128 bits (two words: aligned to 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesId([u64; 2]);

fn hash64(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = FixedState::with_seed(seed).build_hasher();
    for p in parts {
        h.write(p);
    }
    h.finish()
}

impl SeriesId {
    /// Of the identity bytes of a series key (see [`crate::pipeline::aggregate::identity_of`]).
    pub fn of(identity: &[u8]) -> SeriesId {
        let (a, b) = (hash64(0x5eed_0001, &[identity]), hash64(0x5eed_0002, &[identity]));
        SeriesId([a, b])
    }
}

/// What the budget says of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Active already, or admitted now.
    Admitted,
    /// Over `bound` (`limit`), with `active` series under it: not admitted.
    Over { bound: SeriesBound, limit: usize, active: usize },
}

/// An active series: 56 bytes, and its dimensions past the first boxed apart (rare).
struct Entry {
    id: SeriesId,
    last_ms: i64,
    metric: u64,
    dims: Dims,
    /// An overflow series (admitted under the overflow room).
    overflow: bool,
}

/// A dimension's series by value hash ([`dim_value`]).
type ValueCounts = HashMap<[u32; 2], u32>;

struct Metric {
    namespace: Arc<str>,
    /// The hash of its namespace (a key of [`SeriesTable::namespaces`]).
    namespace_hash: u64,
    name: Box<str>,
    series: usize,
    /// Per dimension name, the series of each value hash ([`dim_value`]).
    dims: Vec<(Box<str>, ValueCounts)>,
    logged: bool,
}

struct Namespace {
    name: Arc<str>,
    series: usize,
}

/// A series as the budget needs it: identity, namespace, name and dimensions.
pub struct SeriesRef<'k> {
    pub identity: &'k [u8],
    pub namespace: &'k str,
    pub name: &'k str,
    pub dimensions: &'k [(&'k str, &'k str)],
}

/// The active series.
pub struct SeriesTable {
    settings: BudgetSettings,
    /// The active series, in no order; at most `u32::MAX` (the bounds are far below).
    series: Vec<Entry>,
    /// Positions in `series`, by the first word of their id (a hash already).
    by_id: HashTable<u32>,
    metrics: HashMap<u64, Metric, FixedState>,
    namespaces: HashMap<u64, Namespace, FixedState>,
    /// The sidecar's own series: exempt from the bounds, counted apart.
    own: HashMap<SeriesId, i64, FixedState>,
    overflow_series: usize,
    next_sweep_ms: i64,
}

impl SeriesTable {
    pub fn new(settings: BudgetSettings) -> SeriesTable {
        SeriesTable {
            settings,
            series: Vec::new(),
            by_id: HashTable::new(),
            metrics: HashMap::default(),
            namespaces: HashMap::default(),
            own: HashMap::default(),
            overflow_series: 0,
            next_sweep_ms: i64::MIN,
        }
    }

    pub fn settings(&self) -> &BudgetSettings {
        &self.settings
    }

    /// How many series are active.
    pub fn active(&self) -> usize {
        self.series.len()
    }

    /// A sample of a known series at `now`: `true` when it is active (and stays so).
    pub fn touch(&mut self, id: SeriesId, now_ms: i64) -> bool {
        self.sweep(now_ms);
        let series = &self.series;
        match self.by_id.find(id.0[0], |&at| series[at as usize].id == id) {
            Some(&at) => {
                let e = &mut self.series[at as usize];
                e.last_ms = e.last_ms.max(now_ms);
                true
            }
            None => false,
        }
    }

    /// A sample of a series [`SeriesTable::touch`] did not know: admits it when the bounds
    /// allow, or says which bound it meets. `overflow` admits an overflow series (under
    /// the overflow room rather than the bounds).
    pub fn admit(&mut self, id: SeriesId, series: &SeriesRef<'_>, now_ms: i64, overflow: bool) -> Verdict {
        if self.touch(id, now_ms) {
            return Verdict::Admitted;
        }
        let metric = hash64(7, &[series.namespace.as_bytes(), &[0xff], series.name.as_bytes()]);
        let namespace = hash64(11, &[series.namespace.as_bytes()]);
        let s = &self.settings;
        let over = if overflow {
            (self.overflow_series >= s.overflow_room()).then_some((
                SeriesBound::OverflowSeries,
                s.overflow_room(),
                self.overflow_series,
            ))
        } else {
            let in_metric = self.metrics.get(&metric).map_or(0, |m| m.series);
            let in_namespace = self.namespaces.get(&namespace).map_or(0, |n| n.series);
            let regular = self.series.len() - self.overflow_series;
            if in_metric >= s.max_series_per_metric {
                Some((SeriesBound::PerMetric, s.max_series_per_metric, in_metric))
            } else if let Some(max) = s.max_series_per_namespace.filter(|max| in_namespace >= *max) {
                Some((SeriesBound::PerNamespace, max, in_namespace))
            } else if regular >= s.max_series {
                Some((SeriesBound::Total, s.max_series, regular))
            } else {
                None
            }
        };
        if let Some((bound, limit, active)) = over {
            return Verdict::Over { bound, limit, active };
        }
        self.insert(id, series, metric, namespace, now_ms, overflow);
        Verdict::Admitted
    }

    /// A series journaled before a restart: active again, whatever the bounds (it was
    /// admitted once).
    pub fn restore(&mut self, id: SeriesId, series: &SeriesRef<'_>, now_ms: i64) {
        if !self.touch(id, now_ms) {
            let metric = hash64(7, &[series.namespace.as_bytes(), &[0xff], series.name.as_bytes()]);
            let namespace = hash64(11, &[series.namespace.as_bytes()]);
            let overflow = series.dimensions.iter().any(|(_, v)| *v == OVERFLOW_VALUE);
            self.insert(id, series, metric, namespace, now_ms, overflow);
        }
    }

    /// A sample of one of the sidecar's own series.
    pub fn own(&mut self, id: SeriesId, now_ms: i64) {
        self.own.insert(id, now_ms);
    }

    /// Whether the metric's first refusal or overflow is still to be logged (then it is
    /// marked logged). Metrics the table does not know are logged each time they are met
    /// (rare: only a new metric over `max_series`).
    pub fn first_time(&mut self, namespace: &str, name: &str) -> bool {
        let metric = hash64(7, &[namespace.as_bytes(), &[0xff], name.as_bytes()]);
        match self.metrics.get_mut(&metric) {
            Some(m) => !std::mem::replace(&mut m.logged, true),
            None => true,
        }
    }

    fn insert(
        &mut self,
        id: SeriesId,
        series: &SeriesRef<'_>,
        metric: u64,
        namespace: u64,
        now_ms: i64,
        overflow: bool,
    ) {
        let ns = self
            .namespaces
            .entry(namespace)
            .or_insert_with(|| Namespace { name: Arc::from(series.namespace), series: 0 });
        ns.series += 1;
        let ns_name = ns.name.clone();
        let m = self.metrics.entry(metric).or_insert_with(|| Metric {
            namespace: ns_name,
            namespace_hash: namespace,
            name: series.name.into(),
            series: 0,
            dims: Vec::new(),
            logged: false,
        });
        m.series += 1;
        let dims = series
            .dimensions
            .iter()
            .map(|(k, v)| {
                let at = match m.dims.iter().position(|(n, _)| &**n == *k) {
                    Some(at) => at,
                    None => {
                        m.dims.push(((*k).into(), HashMap::new()));
                        m.dims.len() - 1
                    }
                };
                let d = dim(at, hash64(13, &[v.as_bytes()]));
                *m.dims[at].1.entry(dim_value(d)).or_default() += 1;
                d
            })
            .collect();
        let at = self.series.len() as u32;
        self.series.push(Entry { id, last_ms: now_ms, metric, dims: Dims::of(dims), overflow });
        let series = &self.series;
        self.by_id.insert_unique(id.0[0], at, |&i| series[i as usize].id.0[0]);
        self.overflow_series += overflow as usize;
    }

    /// Forgets the series without a sample for `series_ttl`; at most once a sixtieth of it.
    fn sweep(&mut self, now_ms: i64) {
        if now_ms < self.next_sweep_ms {
            return;
        }
        let ttl = self.settings.series_ttl_ms;
        self.next_sweep_ms = now_ms.saturating_add((ttl / 60).max(1000));
        let cutoff = now_ms.saturating_sub(ttl);
        self.own.retain(|_, last| *last > cutoff);
        let expired: Vec<usize> = (0..self.series.len()).filter(|&at| self.series[at].last_ms <= cutoff).collect();
        // From the last: the entry moved into a freed place comes from past it, so is not
        // expired, and the places still to free are not moved.
        for at in expired.into_iter().rev() {
            let e = self.remove(at);
            self.forget(&e);
        }
    }

    /// Takes the entry at `at` out, moving the last one into its place.
    fn remove(&mut self, at: usize) -> Entry {
        let last = self.series.len() - 1;
        let (id, moved) = (self.series[at].id, self.series[last].id);
        if let Ok(slot) = self.by_id.find_entry(id.0[0], |&i| i as usize == at) {
            slot.remove();
        }
        if at != last
            && let Some(slot) = self.by_id.find_mut(moved.0[0], |&i| i as usize == last)
        {
            *slot = at as u32;
        }
        self.series.swap_remove(at)
    }

    fn forget(&mut self, e: &Entry) {
        self.overflow_series -= e.overflow as usize;
        let Some(m) = self.metrics.get_mut(&e.metric) else { return };
        let namespace = m.namespace_hash;
        m.series -= 1;
        for &d in e.dims.as_slice() {
            if let Some((_, values)) = m.dims.get_mut(dim_at(d))
                && let Some(n) = values.get_mut(&dim_value(d))
            {
                *n -= 1;
                if *n == 0 {
                    values.remove(&dim_value(d));
                }
            }
        }
        if m.series == 0 {
            self.metrics.remove(&e.metric);
        }
        if let Some(ns) = self.namespaces.get_mut(&namespace) {
            ns.series -= 1;
            if ns.series == 0 {
                self.namespaces.remove(&namespace);
            }
        }
    }
}

#[path = "budget_dims.rs"]
mod dims;
#[path = "budget_report.rs"]
mod report;
pub use report::{SeenMetric, SeriesReport, TopMetric};

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
