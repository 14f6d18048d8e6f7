//! What the table holds, for `/v1/cost` ([`SeriesTable::report`]), and the metrics it has
//! seen, for `GET /v1/series` ([`SeriesTable::seen`]).

use std::collections::{BTreeMap, HashMap};

use foldhash::fast::FixedState;

use super::dims::dim_at;
use super::{Metric, SeriesTable};

/// One metric in [`SeriesReport::top_metrics`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopMetric {
    pub namespace: String,
    pub name: String,
    pub series: usize,
    /// The dimension with the most distinct values, and how many.
    pub widest_dimension: Option<String>,
    pub widest_dimension_values: usize,
}

/// A metric's active series as the table holds them, for `GET /v1/series` (and so
/// `cw-sidecar catalog suggest`): the sets of dimension names they have, sorted.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeenMetric {
    pub namespace: String,
    pub name: String,
    pub series: usize,
    pub dimension_sets: Vec<Vec<String>>,
}

/// What the table holds, for `/v1/cost`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SeriesReport {
    pub active_series: usize,
    pub overflow_series: usize,
    pub self_metric_series: usize,
    pub series_by_namespace: BTreeMap<String, usize>,
    pub top_metrics: Vec<TopMetric>,
}

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

    /// What the table holds at `now` (expired series forgotten first), with the `top`
    /// metrics by series.
    pub fn report(&mut self, now_ms: i64, top: usize) -> SeriesReport {
        self.next_sweep_ms = i64::MIN;
        self.sweep(now_ms);
        let mut metrics: Vec<&Metric> = self.metrics.values().collect();
        metrics.sort_by(|a, b| {
            b.series.cmp(&a.series).then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
        });
        SeriesReport {
            active_series: self.series.len(),
            overflow_series: self.overflow_series,
            self_metric_series: self.own.len(),
            series_by_namespace: self.namespaces.values().map(|n| (n.name.to_string(), n.series)).collect(),
            top_metrics: metrics
                .into_iter()
                .take(top)
                .map(|m| {
                    let widest = m.dims.iter().filter(|(_, v)| !v.is_empty()).max_by_key(|(_, v)| v.len());
                    TopMetric {
                        namespace: m.namespace.to_string(),
                        name: m.name.to_string(),
                        series: m.series,
                        widest_dimension: widest.map(|(n, _)| n.to_string()),
                        widest_dimension_values: widest.map_or(0, |(_, v)| v.len()),
                    }
                })
                .collect(),
        }
    }
}
