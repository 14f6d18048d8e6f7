//! The bill in view: `GET /v1/cost` answers what the active series and the last hour's
//! PutMetricData calls come to for a month at the configured prices, and `cw-sidecar cost`
//! prints that answer as a table a person reads.

use serde::Serialize;

use crate::config::CardinalityConfig;
use crate::telemetry::Telemetry;
use cw_core::cost::budget::TopMetric;
use cw_core::cost::price::{Estimate, Prices};
use cw_core::pipeline::Pipeline;

/// How many metrics `top_metrics` lists.
pub const TOP_METRICS: usize = 20;

/// What `/v1/cost` needs beside the pipeline and the counters.
pub struct CostSettings {
    pub prices: Prices,
    pub budget: Option<CardinalityConfig>,
    /// Self-metric series the configuration publishes: the estimate counts at least these,
    /// before the first flush has recorded any.
    pub self_metrics: usize,
}

#[derive(Debug, Serialize)]
pub struct Budget {
    pub max_series: usize,
    pub max_series_per_namespace: Option<usize>,
    pub max_series_per_metric: usize,
    pub series_ttl_seconds: u64,
    pub overflow: &'static str,
}

/// The answer of `GET /v1/cost`.
#[derive(Debug, Serialize)]
pub struct CostReport {
    /// Series of the inputs active now (a sample within `series_ttl`), overflow series
    /// included; without a budget, the series with an open window.
    pub active_series: usize,
    pub overflow_series: usize,
    /// The sidecar's own series, billed like any other.
    pub self_metric_series: usize,
    pub series_by_namespace: std::collections::BTreeMap<String, usize>,
    pub top_metrics: Vec<TopMetric>,
    pub put_metric_data_calls_last_hour: u64,
    pub overflowed_records: u64,
    pub refused_records: u64,
    /// The series budget, `null` when it is off.
    pub budget: Option<Budget>,
    pub estimate: Estimate,
}

/// The self-metric series `config` publishes: one per named metric, the scrape ones once per
/// target.
pub fn expected_self_metrics(config: &crate::config::Config) -> usize {
    if config.self_metrics_namespace.is_empty() {
        return 0;
    }
    let targets = config.scrape.targets.len();
    config.self_metrics.iter().map(|n| if n.starts_with("Scrape") { targets } else { 1 }).sum()
}

pub(crate) fn report(pipeline: &Pipeline, telemetry: &Telemetry, settings: &CostSettings, now_ms: i64) -> CostReport {
    let series = pipeline.series_report(TOP_METRICS).unwrap_or_default();
    let (active, own) = match &settings.budget {
        Some(_) => (series.active_series, series.self_metric_series.max(settings.self_metrics)),
        None => (pipeline.active_series(), settings.self_metrics),
    };
    let calls = telemetry.cost.calls_last_hour(now_ms);
    let (overflowed, refused) = telemetry.cost.totals();
    CostReport {
        active_series: active,
        overflow_series: series.overflow_series,
        self_metric_series: own,
        series_by_namespace: series.series_by_namespace,
        top_metrics: series.top_metrics,
        put_metric_data_calls_last_hour: calls,
        overflowed_records: overflowed,
        refused_records: refused,
        budget: settings.budget.as_ref().map(|b| Budget {
            max_series: b.max_series,
            max_series_per_namespace: b.max_series_per_namespace,
            max_series_per_metric: b.max_series_per_metric,
            series_ttl_seconds: b.series_ttl.as_secs(),
            overflow: match b.overflow {
                crate::config::OverflowPolicy::Aggregate => "aggregate",
                crate::config::OverflowPolicy::Refuse => "refuse",
            },
        }),
        estimate: settings.prices.estimate(active as u64, own as u64, calls),
    }
}

/// The report as a person reads it (from its JSON, so that it reads any sidecar's answer).
pub fn table(report: &serde_json::Value) -> String {
    use std::fmt::Write;
    let n = |key: &str| report.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let usd =
        |key: &str| report.pointer(&format!("/estimate/{key}")).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let mut out = String::new();
    let _ = writeln!(out, "active series          {:>10}", n("active_series"));
    let _ = writeln!(out, "  of them overflow     {:>10}", n("overflow_series"));
    let _ = writeln!(out, "self-metric series     {:>10}", n("self_metric_series"));
    let _ = writeln!(out, "PutMetricData calls    {:>10}   in the last hour", n("put_metric_data_calls_last_hour"));
    let _ = writeln!(out, "records overflowed     {:>10}", n("overflowed_records"));
    let _ = writeln!(out, "records refused        {:>10}", n("refused_records"));
    match report.get("budget").filter(|b| !b.is_null()) {
        Some(b) => {
            let g = |k: &str| {
                b.get(k).map_or("none".to_string(), |v| if v.is_null() { "none".into() } else { v.to_string() })
            };
            let _ = writeln!(
                out,
                "budget                 max_series {}, per namespace {}, per metric {}, overflow {}",
                g("max_series"),
                g("max_series_per_namespace"),
                g("max_series_per_metric"),
                g("overflow").trim_matches('"')
            );
        }
        None => {
            let _ = writeln!(out, "budget                 off");
        }
    }
    let _ = writeln!(out, "\nestimate (USD per month, at today's series and call rate)");
    let _ = writeln!(
        out,
        "  custom metrics       {:>12.2}   of which self metrics {:.2}",
        usd("metrics_usd_per_month"),
        usd("self_metrics_usd_per_month")
    );
    let _ = writeln!(out, "  PutMetricData        {:>12.2}", usd("requests_usd_per_month"));
    let _ = writeln!(out, "  total                {:>12.2}", usd("total_usd_per_month"));
    if let Some(namespaces) =
        report.get("series_by_namespace").and_then(serde_json::Value::as_object).filter(|m| !m.is_empty())
    {
        let _ = writeln!(out, "\n{:<40} {:>10}", "namespace", "series");
        for (ns, count) in namespaces {
            let _ = writeln!(out, "{ns:<40} {:>10}", count.as_u64().unwrap_or(0));
        }
    }
    if let Some(top) = report.get("top_metrics").and_then(serde_json::Value::as_array).filter(|t| !t.is_empty()) {
        let _ = writeln!(out, "\n{:<24} {:<32} {:>8}  widest dimension (values)", "namespace", "metric", "series");
        for m in top {
            let s = |k: &str| m.get(k).and_then(serde_json::Value::as_str).unwrap_or("").to_string();
            let widest = match m.get("widest_dimension").and_then(serde_json::Value::as_str) {
                Some(d) => format!(
                    "{d} ({})",
                    m.get("widest_dimension_values").and_then(serde_json::Value::as_u64).unwrap_or(0)
                ),
                None => "-".into(),
            };
            let series = m.get("series").and_then(serde_json::Value::as_u64).unwrap_or(0);
            let _ = writeln!(out, "{:<24} {:<32} {series:>8}  {widest}", s("namespace"), s("name"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_every_figure_of_the_answer() {
        let answer = serde_json::json!({
            "active_series": 101, "overflow_series": 1, "self_metric_series": 10,
            "series_by_namespace": {"Media": 101},
            "top_metrics": [{"namespace": "Media", "name": "session_duration", "series": 101,
                             "widest_dimension": "session_id", "widest_dimension_values": 101}],
            "put_metric_data_calls_last_hour": 60, "overflowed_records": 4900, "refused_records": 0,
            "budget": {"max_series": 10000, "max_series_per_namespace": null, "max_series_per_metric": 100, "overflow": "aggregate"},
            "estimate": {"metrics_usd_per_month": 33.3, "requests_usd_per_month": 0.438, "total_usd_per_month": 33.738,
                         "self_metrics_usd_per_month": 3.0}
        });
        let t = table(&answer);
        for shown in [
            "101",
            "4900",
            "session_id (101)",
            "33.30",
            "0.44",
            "33.74",
            "per metric 100",
            "per namespace none",
            "self metrics 3.00",
        ] {
            assert!(t.contains(shown), "{shown} in\n{t}");
        }
    }
}
