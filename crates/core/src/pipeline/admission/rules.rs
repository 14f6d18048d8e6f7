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
use crate::pipeline::records::{DERIVED, Records, Valid};
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

    /// Rewrites the records the rules change; `Ok(false)` when none is.
    fn rewrite(&self, records: &mut Records) -> Result<bool, Refusal> {
        let mut out: Option<(Vec<u8>, Vec<Valid>, Vec<u32>)> = None;
        let mut extra = 0;
        // With the records grouped by series, the series they become are grouped too: the
        // `n`th series made of group `g` is group `g × stride + n`, and its key is written
        // once (`made[group]`) for all of them.
        let grouped = records.group_of(0).is_some();
        let mut groups: Vec<u32> = Vec::new();
        let mut made: HashMap<u32, Range<usize>, FixedState> = HashMap::default();
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        // What each group's series becomes, looked up once per group.
        let mut resolved: Vec<Option<Arc<Rewritten>>> =
            vec![None; if grouped { records.series_count() as usize } else { 0 }];
        for at in 0..records.valid.len() {
            let (key, window, payload) = &records.valid[at];
            let series = &records.keys[key.clone()];
            let known = records.group_of(at).and_then(|g| resolved.get(g as usize)).and_then(Option::as_ref);
            let rewritten = match known {
                Some(r) => r.clone(),
                None => {
                    let r = match memo.get(series) {
                        Some(r) => r.clone(),
                        None => {
                            if memo.len() >= MEMO_SERIES {
                                memo.clear();
                            }
                            let r = Arc::new(self.rewritten(series));
                            memo.insert(series.into(), r.clone());
                            r
                        }
                    };
                    if let Some(slot) = records.group_of(at).and_then(|g| resolved.get_mut(g as usize)) {
                        *slot = Some(r.clone());
                    }
                    r
                }
            };
            let rewritten = &*rewritten;
            let index = records.index_of(at).map_or(DERIVED, |i| i as u32);
            if matches!(rewritten, Rewritten::Unchanged) && out.is_none() {
                continue;
            }
            let (keys, valid, from) = out.get_or_insert_with(|| {
                // The records before this one, as they are.
                let mut keys = Vec::with_capacity(records.keys.len());
                let mut valid = Vec::with_capacity(records.valid.len() + 1);
                let mut from = Vec::with_capacity(records.valid.len() + 1);
                for before in 0..at {
                    let (k, w, p) = &records.valid[before];
                    let group = records.group_of(before).map(|g| g * self.stride);
                    let range = shared(&mut keys, &mut made, group, &records.keys[k.clone()]);
                    valid.push((range, *w, p.clone()));
                    from.push(records.index_of(before).map_or(DERIVED, |i| i as u32));
                    groups.extend(group);
                }
                (keys, valid, from)
            });
            let group = records.group_of(at).map(|g| g * self.stride);
            match rewritten {
                Rewritten::Sets { keys: sets_keys, sets, own, skipped } => {
                    for &rule in skipped {
                        self.counters.rollup_skipped(&self.rules.rules()[rule].label);
                    }
                    for (n, range) in sets.iter().enumerate() {
                        let group = group.map(|g| g + n as u32);
                        let range = shared(keys, &mut made, group, &sets_keys[range.clone()]);
                        valid.push((range, *window, payload.clone()));
                        groups.extend(group);
                        // The record's own series answers for it; a rollup is derived.
                        from.push(if n == 0 && *own { index } else { DERIVED });
                        // The first set takes the record's own slots.
                        if n > 0 {
                            extra += Plan::bound_of(payload);
                        }
                    }
                }
                Rewritten::Unchanged => {
                    let range = shared(keys, &mut made, group, series);
                    valid.push((range, *window, payload.clone()));
                    from.push(index);
                    groups.extend(group);
                }
            }
        }
        drop(memo);
        let Some((keys, valid, from)) = out else { return Ok(false) };
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
fn shared(
    keys: &mut Vec<u8>,
    made: &mut HashMap<u32, Range<usize>, FixedState>,
    group: Option<u32>,
    key: &[u8],
) -> Range<usize> {
    if let Some(range) = group.and_then(|g| made.get(&g)) {
        return range.clone();
    }
    let start = keys.len();
    keys.extend_from_slice(key);
    if let Some(g) = group {
        made.insert(g, start..keys.len());
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
