//! The budget stage: each record's series must be active or fit the series budget
//! ([`crate::cost::budget`]). A new series over a bound joins its metric's overflow series
//! (every non-default dimension's value `AllOther`), so that across a metric's series count
//! and sum stay exact, or, with `overflow = "refuse"`, the record is turned away with the
//! bound's key and the active count. A rollup is never refused: it overflows. The self
//! metrics are exempt, and counted apart.

use std::sync::{Arc, Mutex, MutexGuard};

use smallvec::SmallVec;

use crate::clock::SharedClock;
use crate::cost::budget::{OVERFLOW_VALUE, Overflow, SeriesId, SeriesRef, SeriesTable, Verdict};
use crate::pipeline::admission::chain::{Next, Stage};
use crate::pipeline::aggregate::{SeriesView, encode_series_key, identity_of, try_decode_series_key};
use crate::pipeline::answer::Rejection;
use crate::pipeline::durable::Done;
use crate::pipeline::input::Admission;
use crate::pipeline::records::Records;
use crate::pipeline::{Counters, Refusal};
use crate::reasons::{RejectReason, SeriesBound};

/// The table, shared by the stage and the pipeline (which restores and reports).
pub type SharedTable = Arc<Mutex<SeriesTable>>;

pub fn lock(table: &SharedTable) -> MutexGuard<'_, SeriesTable> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Budget {
    table: SharedTable,
    counters: Arc<dyn Counters>,
    clock: SharedClock,
}

/// What becomes of a record over budget.
enum Fate {
    /// Its series' key is now this (the overflow series).
    Overflow(Vec<u8>),
    Refused(String),
}

impl Budget {
    pub fn new(table: SharedTable, counters: Arc<dyn Counters>, clock: SharedClock) -> Budget {
        Budget { table, counters, clock }
    }

    /// A record of a series not active and over `bound`.
    fn over(
        &self,
        table: &mut SeriesTable,
        view: &SeriesView<'_>,
        (bound, limit, active): (SeriesBound, usize, usize),
        derived: bool,
        now: i64,
    ) -> Fate {
        let settings = table.settings();
        let first = |table: &mut SeriesTable| table.first_time(view.namespace, view.name);
        if settings.overflow == Overflow::Refuse && !derived {
            let message = format!(
                "metric `{}` in namespace `{}` would be a new series over the series budget: cardinality.{} = {limit}, {active} active (cardinality.overflow = \"refuse\")",
                view.name,
                view.namespace,
                bound.label()
            );
            if first(table) {
                tracing::warn!(
                    namespace = view.namespace,
                    metric = view.name,
                    bound = bound.label(),
                    limit,
                    active,
                    "series budget: refusing new series of this metric (logged once per metric)"
                );
            }
            self.counters.series_refused(bound, 1);
            return Fate::Refused(message);
        }
        let defaults = &settings.default_dimensions;
        let dims: SmallVec<[(&str, &str); 8]> = view
            .dimensions
            .iter()
            .map(|&(k, v)| (k, if defaults.iter().any(|d| d == k) { v } else { OVERFLOW_VALUE }))
            .collect();
        let mut key = Vec::new();
        encode_series_key(&mut key, view.namespace, view.name, dims.iter().copied(), view.unit, view.resolution);
        let series =
            SeriesRef { identity: identity_of(&key), namespace: view.namespace, name: view.name, dimensions: &dims };
        match table.admit(SeriesId::of(identity_of(&key)), &series, now, true) {
            Verdict::Admitted => {
                if first(table) {
                    tracing::warn!(
                        namespace = view.namespace,
                        metric = view.name,
                        bound = bound.label(),
                        limit,
                        active,
                        "series budget: new series of this metric go to its {OVERFLOW_VALUE} series (logged once per metric)"
                    );
                }
                self.counters.series_overflow(bound, 1);
                Fate::Overflow(key)
            }
            Verdict::Over { bound, limit, active } => {
                self.counters.series_refused(bound, 1);
                Fate::Refused(format!(
                    "metric `{}` in namespace `{}` is over the series budget and no overflow series can be made: {limit} overflow series active of {active}",
                    view.name, view.namespace
                ))
            }
        }
    }
}

impl Stage for Budget {
    fn name(&self) -> &'static str {
        "budget"
    }

    fn admit(&self, records: &mut Records, next: Next<'_>) -> Result<Done, Refusal> {
        let now = self.clock.now_ms();
        let mut table = lock(&self.table);
        if records.input.admission == Admission::Internal {
            for (key, _, _) in records.iter() {
                table.own(SeriesId::of(identity_of(key)), now);
            }
            drop(table);
            return next.run(records);
        }
        let mut fates: Vec<(usize, Fate)> = Vec::new();
        // Records of one group share a series: once it is active, the rest need no look.
        let mut active = vec![false; if records.group_of(0).is_some() { records.series_count() as usize } else { 0 }];
        for at in 0..records.valid.len() {
            let group = records.group_of(at).map(|g| g as usize);
            if group.is_some_and(|g| active[g]) {
                continue;
            }
            let key = &records.keys[records.valid[at].0.clone()];
            let id = SeriesId::of(identity_of(key));
            if table.touch(id, now) {
                if let Some(g) = group {
                    active[g] = true;
                }
                continue;
            }
            let Some(view) = try_decode_series_key(key) else { continue };
            let series = SeriesRef {
                identity: identity_of(key),
                namespace: view.namespace,
                name: view.name,
                dimensions: &view.dimensions,
            };
            if let Verdict::Over { bound, limit, active } = table.admit(id, &series, now, false) {
                let derived = records.index_of(at).is_none();
                fates.push((at, self.over(&mut table, &view, (bound, limit, active), derived, now)));
            }
        }
        drop(table);
        if !fates.is_empty() {
            settle(records, fates);
        }
        next.run(records)
    }
}

/// Moves overflowing records to their overflow series and takes refused ones out.
fn settle(records: &mut Records, fates: Vec<(usize, Fate)>) {
    if records.from.is_empty() {
        records.from = (0..records.valid.len() as u32).collect();
    }
    // From the last, so that the positions before stay.
    for (at, fate) in fates.into_iter().rev() {
        match fate {
            Fate::Overflow(key) => {
                let start = records.keys.len();
                records.keys.extend_from_slice(&key);
                records.valid[at].0 = start..records.keys.len();
            }
            Fate::Refused(error) => {
                let name =
                    try_decode_series_key(&records.keys[records.valid[at].0.clone()]).map(|v| v.name.to_string());
                if let Some(index) = records.index_of(at) {
                    records.rejected.push(Rejection { index, error, name, reason: RejectReason::SeriesBudget });
                    records.originals -= 1;
                }
                records.valid.remove(at);
                records.from.remove(at);
            }
        }
    }
    records.forget_groups();
}
