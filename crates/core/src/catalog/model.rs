//! The catalog's shape as the YAML file spells it (`metrics.yaml`): its namespaces, its
//! metrics, its alarms and its dashboard. Names carry where they are in the file, so that
//! every error the check finds names the line.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A metric catalog (`metrics.yaml`): the namespaces, the metrics, the alarms and the dashboard.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The namespaces the catalog's metrics are published to (at least one).
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<String>", length(min = 1)))]
    pub namespaces: Vec<Spanned<String>>,
    /// Every metric a service may publish through the sidecar.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// The alarms on those metrics.
    #[serde(default)]
    pub alarms: Vec<Alarm>,
    /// The dashboard of those metrics.
    #[serde(default)]
    pub dashboard: Option<Dashboard>,
}

/// What a metric's values are: how its dashboards and alarms read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Occurrences, read as a Sum per period.
    Counter,
    /// A level sampled now and then, read as an Average or Maximum.
    Gauge,
    /// Measurements such as latencies, read as percentiles.
    Distribution,
}

/// One metric.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// The metric name, as CloudWatch shows it.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub name: Spanned<String>,
    /// Its namespace, one of `namespaces`; may be left out when there is only one.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub namespace: Option<Spanned<String>>,
    /// A CloudWatch standard unit (`Count`, `Milliseconds`, `Bytes/Second`, ...).
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub unit: Spanned<String>,
    pub kind: Kind,
    /// Storage resolution in seconds: 1 (high resolution) or 60.
    #[serde(default = "sixty")]
    #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
    pub resolution: Spanned<u64>,
    /// What it measures, for people.
    pub description: String,
    /// The dimensions a record of it may carry (the sidecar's default dimensions are always
    /// allowed).
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(with = "Vec<String>"))]
    pub dimensions: Vec<Spanned<String>>,
    /// The dimension sets published (rollups), each naming exactly its dimensions; when
    /// given, only these series are published. Unset: each record's own series.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<Vec<Vec<String>>>"))]
    pub dimension_sets: Option<Vec<Spanned<Vec<String>>>>,
}

fn unplaced<T>(value: T) -> Spanned<T> {
    Spanned::new(value, serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN)
}

fn sixty() -> Spanned<u64> {
    unplaced(60)
}

fn no_dimensions() -> Spanned<BTreeMap<String, String>> {
    unplaced(BTreeMap::new())
}

/// What an alarm watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum AlarmKind {
    /// A statistic of one metric against a threshold.
    Threshold,
    /// `metric` (Sum) over `denominator` (Sum) against a threshold.
    Ratio,
    /// The metric's Sum above zero: any occurrence.
    Nonzero,
}

/// How data missing in a period counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum MissingData {
    #[default]
    #[serde(rename = "missing")]
    Missing,
    #[serde(rename = "ignore")]
    Ignore,
    #[serde(rename = "breaching")]
    Breaching,
    #[serde(rename = "notBreaching")]
    NotBreaching,
}

impl MissingData {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingData::Missing => "missing",
            MissingData::Ignore => "ignore",
            MissingData::Breaching => "breaching",
            MissingData::NotBreaching => "notBreaching",
        }
    }
}

/// The comparison of an alarm's value with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum Comparison {
    #[default]
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

/// One alarm.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// Unique among the alarms; part of the alarm's name in CloudWatch.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub name: Spanned<String>,
    pub kind: AlarmKind,
    /// The metric watched (the numerator of a ratio), declared in `metrics`.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub metric: Spanned<String>,
    /// A ratio's denominator, declared in `metrics` (same namespace and dimensions).
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub denominator: Option<Spanned<String>>,
    /// The metric's namespace, when the catalog has more than one.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub namespace: Option<Spanned<String>>,
    /// Of a threshold alarm: `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or a
    /// percentile `p99`; ratio and nonzero alarms read Sums.
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub statistic: Option<Spanned<String>>,
    /// Exactly the dimensions of the series watched, with their values.
    #[serde(default = "no_dimensions")]
    #[cfg_attr(feature = "schemars", schemars(with = "BTreeMap<String, String>"))]
    pub dimensions: Spanned<BTreeMap<String, String>>,
    /// Required for threshold and ratio alarms; nonzero alarms compare with 0.
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub comparison: Comparison,
    /// Seconds: a multiple of 60, or 10, 20 or 30 for a metric of resolution 1.
    #[cfg_attr(feature = "schemars", schemars(with = "u64"))]
    pub period: Spanned<u64>,
    #[serde(default = "one")]
    pub evaluation_periods: u64,
    /// Breaching periods of `evaluation_periods` that fire it; all of them when unset.
    #[serde(default)]
    pub datapoints_to_alarm: Option<u64>,
    #[serde(default)]
    pub treat_missing_data: MissingData,
    /// The SNS topic notified, by name: `critical` or `warning`.
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub topic: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
}

fn one() -> u64 {
    1
}

/// The dashboard: rows of widgets, top to bottom.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub title: String,
    pub widgets: Vec<Widget>,
}

/// A graph of one or more series.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Widget {
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub title: Spanned<String>,
    /// Seconds per point; 60 when unset.
    #[serde(default)]
    pub period: Option<u64>,
    pub metrics: Vec<WidgetMetric>,
}

/// One series of a widget.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WidgetMetric {
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub metric: Spanned<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub namespace: Option<Spanned<String>>,
    #[cfg_attr(feature = "schemars", schemars(with = "String"))]
    pub statistic: Spanned<String>,
    #[serde(default = "no_dimensions")]
    #[cfg_attr(feature = "schemars", schemars(with = "BTreeMap<String, String>"))]
    pub dimensions: Spanned<BTreeMap<String, String>>,
    #[serde(default)]
    pub label: Option<String>,
}

impl Catalog {
    /// The namespace of an entry that names `given`, or the only one.
    pub fn namespace_of<'a>(&'a self, given: Option<&'a Spanned<String>>) -> Option<&'a str> {
        match given {
            Some(ns) => Some(ns.value.as_str()),
            None if self.namespaces.len() == 1 => Some(self.namespaces[0].value.as_str()),
            None => None,
        }
    }

    /// The metric `name` of `namespace`.
    pub fn metric(&self, namespace: &str, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name.value == name && self.namespace_of(m.namespace.as_ref()) == Some(namespace))
    }
}
