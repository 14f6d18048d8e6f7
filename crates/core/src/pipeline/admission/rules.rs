//! The rules stage: every record of a metric that `[[metrics]]` rules match is rewritten to
//! the series the rules publish (dimensions dropped or kept, rollups added, the record's own
//! series dropped). A rollup is a copy of the record's payload under the rollup's series, so
//! in each window it holds exactly the count, sum, minimum, maximum and values of the records
//! it covers. Its buffer slots are reserved here. The self metrics are exempt.
//!
//! What the rules make of a series depends on its key alone, so it is remembered per key
//! (up to [`MEMO_SERIES`] series, forgotten all at once past that): a record of a series
//! seen before costs a lookup, not a decode, the matching and an encode per series made.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use foldhash::fast::FixedState;

use crate::cost::rules::{MetricRule, MetricRules, Outcome};
use crate::pipeline::admission::chain::{Next, Stage};
use crate::pipeline::aggregate::encode_series_key;
use crate::pipeline::aggregate::plan::Plan;
use crate::pipeline::aggregate::try_decode_series_key;
use crate::pipeline::buffer::Full;
use crate::pipeline::durable::Done;
use crate::pipeline::input::Admission;
use crate::pipeline::records::{DERIVED, Records};
use crate::pipeline::{Counters, Refusal};

/// Series whose rewriting is remembered at most.
pub const MEMO_SERIES: usize = 4096;

/// What the rules make of one series key.
enum Rewritten {
    Unchanged,
    /// The keys of the series made, one after the other, and where each is; whether the
    /// first is the record's own; the rules (by position) whose rollups it lacked.
    Sets {
        keys: Vec<u8>,
        sets: Vec<Range<usize>>,
        own: bool,
        skipped: Vec<usize>,
    },
}

pub struct Rules {
    rules: MetricRules,
    counters: Arc<dyn Counters>,
    retry_after: Duration,
    memo: Mutex<HashMap<Box<[u8]>, Arc<Rewritten>, FixedState>>,
    /// The most series one record can become: itself and every rule's rollups.
    stride: u32,
}

impl Rules {
    pub fn new(rules: MetricRules, counters: Arc<dyn Counters>, retry_after: Duration) -> Rules {
        let stride = 1 + rules.rules().iter().map(|r| r.rollups() as u32).sum::<u32>();
        Rules { rules, counters, retry_after, memo: Mutex::new(HashMap::default()), stride }
    }

    /// What the rules make of the series `key`.
    fn rewritten(&self, key: &[u8]) -> Rewritten {
        let Some(v) = try_decode_series_key(key) else { return Rewritten::Unchanged };
        let mut skipped = Vec::new();
        let of = |rule: &MetricRule| self.rules.rules().iter().position(|r| std::ptr::eq(r, rule));
        match self.rules.apply(v.namespace, v.name, &v.dimensions, |rule| skipped.extend(of(rule))) {
            Outcome::Unchanged => Rewritten::Unchanged,
            Outcome::Sets { own, sets } => {
                let mut keys = Vec::new();
                let mut at = Vec::with_capacity(sets.len());
                for dims in &sets {
                    let start = keys.len();
                    encode_series_key(&mut keys, v.namespace, v.name, dims.iter().copied(), v.unit, v.resolution);
                    at.push(start..keys.len());
                }
                Rewritten::Sets { keys, sets: at, own, skipped }
            }
        }
    }

    /// What the rules make of `series`, remembered.
    fn resolve(&self, memo: &mut HashMap<Box<[u8]>, Arc<Rewritten>, FixedState>, series: &[u8]) -> Arc<Rewritten> {
        if let Some(r) = memo.get(series) {
            return r.clone();
        }
        if memo.len() >= MEMO_SERIES {
            memo.clear();
        }
        let r = Arc::new(self.rewritten(series));
        memo.insert(series.into(), r.clone());
        r
    }

    /// Rewrites the records the rules change; `Ok(false)` when none is.
    fn rewrite(&self, records: &mut Records) -> Result<bool, Refusal> {
        // What each record's series becomes: looked up once per group of records (one per
        // series) when they are grouped, else once per record.
        let grouped = records.group_of(0).is_some();
        let resolved: Vec<Arc<Rewritten>> = {
            let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
            let mut by_group: Vec<Option<Arc<Rewritten>>> =
                vec![None; if grouped { records.series_count() as usize } else { 0 }];
            let mut out = Vec::with_capacity(if grouped { 0 } else { records.valid.len() });
            for at in 0..records.valid.len() {
                let series = &records.keys[records.valid[at].0.clone()];
                match records.group_of(at).and_then(|g| by_group.get_mut(g as usize)) {
                    Some(slot @ None) => *slot = Some(self.resolve(&mut memo, series)),
                    Some(Some(_)) => {}
                    None => out.push(self.resolve(&mut memo, series)),
                }
            }
            if grouped {
                by_group.into_iter().map(|r| r.unwrap_or_else(|| Arc::new(Rewritten::Unchanged))).collect()
            } else {
                out
            }
        };
        let taken = std::mem::take(&mut records.valid);
        let of = |at: usize| -> &Rewritten {
            let i = records.group_of(at).map_or(at, |g| g as usize);
            &resolved[i]
        };
        let Some(first) = (0..taken.len()).find(|&at| !matches!(of(at), Rewritten::Unchanged)) else {
            records.valid = taken;
            return Ok(false);
        };
        // With the records grouped by series, the series they become are grouped too: the
        // `n`th series made of group `g` is group `g × stride + n`, and its key is written
        // once (`made[group]`) for all of them.
        let stride = self.stride as usize;
        let mut made: Vec<Option<Range<usize>>> =
            vec![None; if grouped { records.series_count() as usize * stride } else { 0 }];
        let mut keys = Vec::with_capacity(records.keys.len());
        let mut valid = Vec::with_capacity(taken.len() + 1);
        let mut from = Vec::with_capacity(taken.len() + 1);
        let mut groups: Vec<u32> = Vec::with_capacity(if grouped { taken.len() + 1 } else { 0 });
        let mut extra = 0;
        for (at, (key, window, payload)) in taken.into_iter().enumerate() {
            let series = &records.keys[key];
            let index = records.index_of(at).map_or(DERIVED, |i| i as u32);
            let group = records.group_of(at).map(|g| g * self.stride);
            match if at < first { &Rewritten::Unchanged } else { of(at) } {
                Rewritten::Sets { keys: sets_keys, sets, own, skipped } => {
                    for &rule in skipped {
                        self.counters.rollup_skipped(&self.rules.rules()[rule].label);
                    }
                    let last = sets.len().saturating_sub(1);
                    let mut payload = Some(payload);
                    for (n, range) in sets.iter().enumerate() {
                        let group = group.map(|g| g + n as u32);
                        let range = shared(&mut keys, &mut made, group, &sets_keys[range.clone()]);
                        // The first set takes the record's own slots.
                        if n > 0 {
                            extra += payload.as_ref().map_or(0, Plan::bound_of);
                        }
                        let p = if n == last { payload.take() } else { payload.clone() };
                        if let Some(p) = p {
                            valid.push((range, window, p));
                        }
                        groups.extend(group);
                        // The record's own series answers for it; a rollup is derived.
                        from.push(if n == 0 && *own { index } else { DERIVED });
                    }
                }
                Rewritten::Unchanged => {
                    let range = shared(&mut keys, &mut made, group, series);
                    valid.push((range, window, payload));
                    from.push(index);
                    groups.extend(group);
                }
            }
        }
        if extra > 0
            && let Some(reservation) = &mut records.reservation
        {
            reservation.grow(extra).map_err(|Full { used, max }| Refusal::BufferFull {
                used,
                max,
                retry_after: self.retry_after,
            })?;
        }
        records.keys = keys;
        records.valid = valid;
        records.from = from;
        match grouped {
            true => {
                let series = groups.iter().max().map_or(0, |g| g + 1);
                records.regroup(groups, series);
            }
            false => records.forget_groups(),
        }
        Ok(true)
    }
}

/// Where `key` is in `keys`: written there once per group (when there are groups).
fn shared(keys: &mut Vec<u8>, made: &mut [Option<Range<usize>>], group: Option<u32>, key: &[u8]) -> Range<usize> {
    let slot = group.and_then(|g| made.get_mut(g as usize));
    if let Some(Some(range)) = &slot {
        return range.clone();
    }
    let start = keys.len();
    keys.extend_from_slice(key);
    if let Some(slot) = slot {
        *slot = Some(start..keys.len());
    }
    start..keys.len()
}

impl Stage for Rules {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn admit(&self, records: &mut Records, next: Next<'_>) -> Result<Done, Refusal> {
        if records.input.admission != Admission::Internal {
            self.rewrite(records)?;
        }
        next.run(records)
    }
}
