//! The rules stage: every record of a metric that `[[metrics]]` rules match is rewritten to
//! the series the rules publish (dimensions dropped or kept, rollups added, the record's own
//! series dropped). A rollup is a copy of the record's payload under the rollup's series, so
//! in each window it holds exactly the count, sum, minimum, maximum and values of the records
//! it covers. Its buffer slots are reserved here. The self metrics are exempt.

use std::sync::Arc;
use std::time::Duration;

use crate::cost::rules::{MetricRules, Outcome};
use crate::pipeline::admission::chain::{Next, Stage};
use crate::pipeline::aggregate::encode_series_key;
use crate::pipeline::aggregate::plan::Plan;
use crate::pipeline::aggregate::try_decode_series_key;
use crate::pipeline::buffer::Full;
use crate::pipeline::durable::Done;
use crate::pipeline::input::Admission;
use crate::pipeline::records::{DERIVED, Records, Valid};
use crate::pipeline::{Counters, Refusal};

pub struct Rules {
    rules: MetricRules,
    counters: Arc<dyn Counters>,
    retry_after: Duration,
}

impl Rules {
    pub fn new(rules: MetricRules, counters: Arc<dyn Counters>, retry_after: Duration) -> Rules {
        Rules { rules, counters, retry_after }
    }

    /// Rewrites the records the rules change; `Ok(false)` when none is.
    fn rewrite(&self, records: &mut Records) -> Result<bool, Refusal> {
        let mut out: Option<(Vec<u8>, Vec<Valid>, Vec<u32>)> = None;
        let mut extra = 0;
        for at in 0..records.valid.len() {
            let (key, window, payload) = &records.valid[at];
            let view = try_decode_series_key(&records.keys[key.clone()]);
            let outcome = match &view {
                Some(v) => self
                    .rules
                    .apply(v.namespace, v.name, &v.dimensions, |rule| self.counters.rollup_skipped(&rule.label)),
                None => Outcome::Unchanged,
            };
            let index = records.index_of(at).map_or(DERIVED, |i| i as u32);
            if matches!(outcome, Outcome::Unchanged) && out.is_none() {
                continue;
            }
            let (keys, valid, from) = out.get_or_insert_with(|| {
                // The records before this one, as they are.
                let mut keys = Vec::with_capacity(records.keys.len());
                let mut valid = Vec::with_capacity(records.valid.len() + 1);
                let mut from = Vec::with_capacity(records.valid.len() + 1);
                for before in 0..at {
                    let (k, w, p) = &records.valid[before];
                    let start = keys.len();
                    keys.extend_from_slice(&records.keys[k.clone()]);
                    valid.push((start..keys.len(), *w, p.clone()));
                    from.push(records.index_of(before).map_or(DERIVED, |i| i as u32));
                }
                (keys, valid, from)
            });
            match (outcome, &view) {
                (Outcome::Sets { own, sets }, Some(v)) => {
                    for (n, dims) in sets.iter().enumerate() {
                        let start = keys.len();
                        encode_series_key(keys, v.namespace, v.name, dims.iter().copied(), v.unit, v.resolution);
                        valid.push((start..keys.len(), *window, payload.clone()));
                        // The record's own series answers for it; a rollup is derived.
                        from.push(if n == 0 && own { index } else { DERIVED });
                        // The first set takes the record's own slots.
                        if n > 0 {
                            extra += Plan::bound_of(payload);
                        }
                    }
                }
                _ => {
                    let start = keys.len();
                    keys.extend_from_slice(&records.keys[key.clone()]);
                    valid.push((start..keys.len(), *window, payload.clone()));
                    from.push(index);
                }
            }
        }
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
        records.forget_groups();
        Ok(true)
    }
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
