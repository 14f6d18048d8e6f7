//! The metrics the table has seen, for `GET /v1/series`.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use super::dims::dim_at;
use super::{SeenMetric, SeriesTable};

impl SeriesTable {
    /// Every metric with active series (overflow series left out), by namespace and name.
    pub fn seen(&mut self, now_ms: i64) -> Vec<SeenMetric> {
        self.next_sweep_ms = i64::MIN;
        self.sweep(now_ms);
        let mut sets: HashMap<u64, std::collections::BTreeSet<Vec<String>>, FixedState> = HashMap::default();
        for e in self.series.iter().filter(|e| !e.overflow) {
            let Some(m) = self.metrics.get(&e.metric) else { continue };
            let mut names: Vec<String> =
                e.dims.as_slice().iter().filter_map(|&d| m.dims.get(dim_at(d))).map(|d| d.0.to_string()).collect();
            names.sort();
            sets.entry(e.metric).or_default().insert(names);
        }
        let mut out: Vec<SeenMetric> = sets
            .into_iter()
            .filter_map(|(id, sets)| {
                let m = self.metrics.get(&id)?;
                let (namespace, name) = (m.namespace.to_string(), m.name.to_string());
                Some(SeenMetric { namespace, name, series: m.series, dimension_sets: sets.into_iter().collect() })
            })
            .collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out
    }
}
