//! The valid records of one submission as they go through the admission chain: each as its
//! series key (in one buffer), window and payload, with the buffer slots reserved for them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Range;

use crate::domain::payload::Payload;
use crate::pipeline::Input;
use crate::pipeline::aggregate::plan::Plan;
use crate::pipeline::aggregate::{Aggregator, window_end};
use crate::pipeline::answer::Rejection;
use crate::pipeline::buffer::Reservation;

/// A valid record: where its series key lies in [`Records::keys`], its window's start, and
/// its payload.
pub type Valid = (Range<usize>, i64, Payload);

pub struct Records {
    pub input: Input,
    /// The series keys back to back; a record knows where its key is (records of a series
    /// checked once share one key).
    pub keys: Vec<u8>,
    pub valid: Vec<Valid>,
    /// Per valid record, the number of its series among the submission's; empty for a lone
    /// record.
    groups: Vec<u32>,
    /// How many such series.
    series: u32,
    /// The records' slots in the buffer, once the gate reserved them.
    pub reservation: Option<Reservation>,
    /// Join the records of each series-window into one plan before aggregating them: the
    /// reservation was made for the joined plans (their bound is tighter).
    pub join: bool,
    /// Per valid record, its index in the submission, or [`DERIVED`] for one a stage made
    /// (a rollup); empty while every record's index is its position.
    pub from: Vec<u32>,
    /// How many of the valid records are the client's own (not derived): what is counted
    /// accepted.
    pub originals: usize,
    /// Records a stage turned away, by their index in the submission.
    pub rejected: Vec<Rejection>,
}

/// [`Records::from`] of a record a stage derived from another.
pub const DERIVED: u32 = u32::MAX;

impl Records {
    pub fn new(input: Input, keys: Vec<u8>, valid: Vec<Valid>, groups: Vec<u32>, series: u32) -> Records {
        let originals = valid.len();
        let (from, rejected) = (Vec::new(), Vec::new());
        Records { input, keys, valid, groups, series, reservation: None, join: false, from, originals, rejected }
    }

    /// With each valid record's index in the submission (when some were rejected before).
    pub fn with_indices(mut self, from: Vec<u32>) -> Records {
        debug_assert!(from.is_empty() || from.len() == self.valid.len());
        self.from = from;
        self
    }

    /// The submission index of valid record `at`; `None` for a derived one.
    pub fn index_of(&self, at: usize) -> Option<usize> {
        match self.from.get(at) {
            None => Some(at),
            Some(&DERIVED) => None,
            Some(&i) => Some(i as usize),
        }
    }

    /// Takes the records out to finish later (on another thread), leaving what stages
    /// rejected so far behind for the answer.
    pub fn take(&mut self) -> Records {
        Records {
            input: self.input,
            keys: std::mem::take(&mut self.keys),
            valid: std::mem::take(&mut self.valid),
            groups: std::mem::take(&mut self.groups),
            series: std::mem::take(&mut self.series),
            reservation: self.reservation.take(),
            join: self.join,
            from: std::mem::take(&mut self.from),
            originals: self.originals,
            rejected: Vec::new(),
        }
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.valid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.valid.is_empty()
    }

    /// Each record as (series key, window start, payload).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64, &Payload)> {
        self.valid.iter().map(|(key, window, payload)| (&self.keys[key.clone()], *window, payload))
    }

    /// The end of the latest window the records go into.
    pub fn max_window_end(&self) -> i64 {
        self.iter().map(|(key, window, _)| window_end(key, window)).max().unwrap_or(i64::MIN)
    }

    /// The buffer slots the records can take, each on its own: a datum per record for plain
    /// values.
    pub fn slots_estimate(&self) -> usize {
        self.valid.iter().map(|(_, _, payload)| Plan::bound_of(payload)).sum()
    }

    /// The slots the records can take once joined per series-window (what the request can
    /// really occupy: records of one series-window take one slot together while their values
    /// fit one datum), and how many series-windows they make. Costs a copy of the payloads:
    /// only for a request whose estimate does not fit.
    pub fn slots_joined(&self) -> (usize, usize) {
        let joined = per_window(&self.keys, self.valid.iter().map(|(k, w, p)| (k.clone(), *w, p.clone())));
        (joined.iter().map(|(_, _, plan)| plan.slots_bound()).sum(), joined.len())
    }

    /// The number of the series of the record at `at` among the submission's; `None` when
    /// the records are not grouped.
    pub fn group_of(&self, at: usize) -> Option<u32> {
        self.groups.get(at).copied()
    }

    /// How many series the groups number (see [`Records::group_of`]).
    pub fn series_count(&self) -> u32 {
        self.series
    }

    /// The series keys were rewritten, and records share series as `groups` (one per valid
    /// record, each below `series`) say now.
    pub fn regroup(&mut self, groups: Vec<u32>, series: u32) {
        debug_assert_eq!(groups.len(), self.valid.len());
        self.groups = groups;
        self.series = series;
    }

    /// The series keys were rewritten: records no longer share series as their groups said.
    pub fn forget_groups(&mut self) {
        self.groups.clear();
        self.series = self.valid.len() as u32;
    }

    /// Adds the records to their windows and keeps the slots that took (the rest of the
    /// reservation goes back at once); returns that.
    pub fn aggregate(&mut self, aggregator: &Aggregator) -> usize {
        let added = self.add_to(aggregator);
        if let Some(mut reservation) = self.reservation.take() {
            reservation.keep(added);
        }
        added
    }

    fn add_to(&mut self, aggregator: &Aggregator) -> usize {
        let keys = &self.keys;
        let valid = std::mem::take(&mut self.valid);
        if self.join {
            return per_window(keys, valid.into_iter())
                .into_iter()
                .map(|(key, window, plan)| aggregator.add(&keys[key], window, plan))
                .sum();
        }
        // Every record a series of its own (a lone record, say): nothing to join.
        if self.series as usize == valid.len() {
            return valid
                .into_iter()
                .map(|(key, window, payload)| aggregator.add_payloads(&keys[key], window, std::iter::once(payload)))
                .sum();
        }
        // The records of each series in their order (a counting sort by series), and those of
        // one window added with one lookup.
        let groups = &self.groups;
        let mut next = vec![0u32; self.series as usize + 1];
        for &g in groups {
            next[g as usize + 1] += 1;
        }
        for i in 1..next.len() {
            next[i] += next[i - 1];
        }
        let mut order = vec![0u32; groups.len()];
        for (i, &g) in groups.iter().enumerate() {
            order[next[g as usize] as usize] = i as u32;
            next[g as usize] += 1;
        }
        let mut valid: Vec<Option<Valid>> = valid.into_iter().map(Some).collect();
        let mut added = 0;
        let mut at = 0;
        while at < order.len() {
            let Some((key, window, _)) = valid[order[at] as usize].as_ref() else { break };
            let (key, window) = (key.clone(), *window);
            let group = groups[order[at] as usize];
            // The run of this series and window.
            let mut end = at + 1;
            while end < order.len()
                && groups[order[end] as usize] == group
                && valid[order[end] as usize].as_ref().is_some_and(|(_, w, _)| *w == window)
            {
                end += 1;
            }
            let payloads = order[at..end].iter().filter_map(|&i| valid[i as usize].take()).map(|(_, _, p)| p);
            added += aggregator.add_payloads(&keys[key], window, payloads);
            at = end;
        }
        added
    }
}

/// The plans of records joined per series-window, in order of first appearance, with their
/// bounds tightened.
fn per_window(keys: &[u8], valid: impl Iterator<Item = Valid>) -> Vec<(Range<usize>, i64, Plan)> {
    let mut index: HashMap<(&[u8], i64), usize> = HashMap::with_capacity(valid.size_hint().0);
    let mut out: Vec<(Range<usize>, i64, Plan)> = Vec::new();
    for (key, window, payload) in valid {
        let plan = Plan::of(payload);
        match index.entry((&keys[key.clone()], window)) {
            Entry::Occupied(e) => out[*e.get()].2.absorb(plan),
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push((key, window, plan));
            }
        }
    }
    out.iter_mut().for_each(|(_, _, plan)| plan.refine());
    out
}
