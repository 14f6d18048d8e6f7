//! The catalog stage: every record's metric, dimensions and unit must be declared in the
//! metric catalog ([`crate::catalog::contract`]). In strict mode a record that is not is
//! rejected, its error naming the metric, what the catalog lacks and the closest entry; in
//! lenient mode it goes on. Either way it is counted by reason, and logged once per metric
//! and reason (up to [`LOGGED_METRICS`] of them). It runs before the rules, on the series as
//! the client sent it (with the default dimensions, which are always declared). The self
//! metrics are exempt.
//!
//! The verdict depends on the series key alone, so it is remembered per key (up to
//! [`MEMO_SERIES`] series, forgotten all at once past that).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use foldhash::fast::FixedState;

use crate::catalog::contract::{Contract, Undeclared};
use crate::pipeline::admission::chain::{Next, Stage};
use crate::pipeline::aggregate::try_decode_series_key;
use crate::pipeline::answer::Rejection;
use crate::pipeline::durable::Done;
use crate::pipeline::input::Admission;
use crate::pipeline::records::Records;
use crate::pipeline::{Counters, Refusal};
use crate::reasons::{CatalogReason, RejectReason};

/// Series whose verdict is remembered at most.
pub const MEMO_SERIES: usize = 4096;
/// Metrics (with a reason) logged at most; past that, one line says the rest are not.
pub const LOGGED_METRICS: usize = 1024;

/// What becomes of a record the catalog does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rejected, the client told why.
    Strict,
    /// Published, counted and logged once.
    Lenient,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Lenient => "lenient",
        }
    }
}

type Memo = HashMap<Box<[u8]>, Option<Arc<Undeclared>>, FixedState>;

pub struct Catalog {
    contract: Arc<Contract>,
    mode: Mode,
    counters: Arc<dyn Counters>,
    memo: Mutex<Memo>,
    logged: Mutex<HashSet<(String, String, CatalogReason), FixedState>>,
}

impl Catalog {
    pub fn new(contract: Arc<Contract>, mode: Mode, counters: Arc<dyn Counters>) -> Catalog {
        Catalog { contract, mode, counters, memo: Mutex::default(), logged: Mutex::default() }
    }

    fn verdict(&self, memo: &mut Memo, key: &[u8]) -> Option<Arc<Undeclared>> {
        if let Some(v) = memo.get(key) {
            return v.clone();
        }
        let view = try_decode_series_key(key)?;
        let v = self.contract.verdict(view.namespace, view.name, view.unit, &view.dimensions).err().map(Arc::new);
        if memo.len() >= MEMO_SERIES {
            memo.clear();
        }
        memo.insert(key.into(), v.clone());
        v
    }

    /// Logs `undeclared` the first time its metric and reason are seen.
    fn log_once(&self, key: &[u8], undeclared: &Undeclared) {
        let Some(view) = try_decode_series_key(key) else { return };
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        let entry = (view.namespace.to_string(), view.name.to_string(), undeclared.reason);
        if logged.len() > LOGGED_METRICS || logged.contains(&entry) {
            return;
        }
        if logged.len() == LOGGED_METRICS {
            tracing::warn!("catalog: {LOGGED_METRICS} undeclared metrics logged; further ones are counted, not logged");
            logged.insert((String::new(), String::new(), undeclared.reason));
            return;
        }
        tracing::warn!(
            mode = self.mode.label(),
            reason = undeclared.reason.label(),
            "catalog: {:?} (logged once per metric and reason)",
            undeclared.message
        );
        logged.insert(entry);
    }
}

impl Stage for Catalog {
    fn name(&self) -> &'static str {
        "catalog"
    }

    fn admit(&self, records: &mut Records, next: Next<'_>) -> Result<Done, Refusal> {
        if records.input.admission == Admission::Internal {
            return next.run(records);
        }
        let mut refused: Vec<(usize, Arc<Undeclared>)> = Vec::new();
        {
            let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
            for at in 0..records.valid.len() {
                let key = &records.keys[records.valid[at].0.clone()];
                let Some(undeclared) = self.verdict(&mut memo, key) else { continue };
                self.counters.catalog_undeclared(undeclared.reason, self.mode == Mode::Strict);
                self.log_once(key, &undeclared);
                if self.mode == Mode::Strict {
                    refused.push((at, undeclared));
                }
            }
        }
        if !refused.is_empty() {
            reject(records, refused);
        }
        next.run(records)
    }
}

/// Takes the refused records out, each rejected by its index.
fn reject(records: &mut Records, refused: Vec<(usize, Arc<Undeclared>)>) {
    if records.from.is_empty() {
        records.from = (0..records.valid.len() as u32).collect();
    }
    // From the last, so that the positions before stay.
    for (at, undeclared) in refused.into_iter().rev() {
        let name = try_decode_series_key(&records.keys[records.valid[at].0.clone()]).map(|v| v.name.to_string());
        if let Some(index) = records.index_of(at) {
            let error = undeclared.message.clone();
            records.rejected.push(Rejection { index, error, name, reason: RejectReason::Catalog });
            records.originals -= 1;
        }
        records.valid.remove(at);
        records.from.remove(at);
    }
    records.forget_groups();
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
