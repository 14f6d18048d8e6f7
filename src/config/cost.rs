//! Cost control: the metric rules (`[[metrics]]`), the series budget (`[cardinality]`) and
//! the prices the bill is estimated with (`[cost]`).

use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error};
use serde::{Serialize, Serializer};

use super::human::{self, Text};
use super::listener::boolean;
use cw_core::cost::budget::Overflow;
use cw_core::cost::price::Prices;
use cw_core::cost::rules::{MetricRule, RuleSpec};

/// Every self metric, as `self_metrics` names them.
pub const SELF_METRICS: &[&str] = &[
    "Heartbeat",
    "RecordsAccepted",
    "RecordsRejected",
    "DatumsPublished",
    "DatumsDropped",
    "UdpDropped",
    "PublishFailures",
    "ThrottledRequests",
    "BufferedDatums",
    "ActiveSeries",
    "ScrapeUp",
    "ScrapeDuration",
    "ScrapeSeriesPublished",
    "ScrapeSeriesCapped",
];

/// Self metric names, each one of [`SELF_METRICS`]: a list, or `a,b`.
pub(super) fn self_metrics<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        Text(String),
    }
    let names = match Names::deserialize(d)? {
        Names::List(l) => l,
        Names::Text(t) => t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
    };
    if let Some(unknown) = names.iter().find(|n| !SELF_METRICS.contains(&n.as_str())) {
        return Err(D::Error::custom(format!(
            "`{unknown}` is not a self metric; they are {}",
            SELF_METRICS.join(", ")
        )));
    }
    Ok(names)
}

/// One metric rule: a `[[metrics]]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricRuleConfig {
    /// Glob (`*`, `?`, `[..]`) on the metric name.
    #[serde(rename = "match")]
    pub matches: String,
    /// Glob on the namespace; any namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Dimensions removed from the series.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop_dimensions: Vec<String>,
    /// Only these dimensions (and the default dimensions) are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_dimensions: Option<Vec<String>>,
    /// More series to publish, each naming exactly its dimensions (`[]`: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollups: Vec<Vec<String>>,
    /// Publish the rollups only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_original: bool,
}

impl MetricRuleConfig {
    pub fn spec(&self) -> RuleSpec {
        RuleSpec {
            matches: self.matches.clone(),
            namespace: self.namespace.clone(),
            drop_dimensions: self.drop_dimensions.clone(),
            keep_dimensions: self.keep_dimensions.clone(),
            rollups: self.rollups.clone(),
            drop_original: self.drop_original,
        }
    }
}

/// The rules, each checked: a rule that cannot be satisfied names itself and its key.
pub(super) fn metric_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<MetricRuleConfig>, D::Error> {
    let rules = Vec::<MetricRuleConfig>::deserialize(d)
        .map_err(|e| D::Error::custom(format!("expected [[metrics]] tables in the config file: {e}")))?;
    for (i, rule) in rules.iter().enumerate() {
        MetricRule::new(i, rule.spec())
            .map_err(|e| D::Error::custom(format!("metrics[{i}].{}: {}", e.key, e.message)))?;
    }
    Ok(rules)
}

/// What a new series over the budget becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverflowPolicy {
    /// Joins its metric's `AllOther` series: totals stay exact.
    #[default]
    Aggregate,
    /// Is refused, and the client told why.
    Refuse,
}

impl From<OverflowPolicy> for Overflow {
    fn from(p: OverflowPolicy) -> Overflow {
        match p {
            OverflowPolicy::Aggregate => Overflow::Aggregate,
            OverflowPolicy::Refuse => Overflow::Refuse,
        }
    }
}

/// The series budget: every distinct series is a billed custom metric.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CardinalityConfig {
    /// Whether the budget applies (off: any number of series is published).
    #[serde(deserialize_with = "boolean")]
    pub enabled: bool,
    /// Bound on all active series (1 to 10000000).
    #[serde(deserialize_with = "count")]
    pub max_series: usize,
    /// Bound on the active series of one namespace; none when unset.
    #[serde(deserialize_with = "optional_count", skip_serializing_if = "Option::is_none")]
    pub max_series_per_namespace: Option<usize>,
    /// Bound on the active series of one metric (namespace and name).
    #[serde(deserialize_with = "count")]
    pub max_series_per_metric: usize,
    /// A series stays active until it has had no sample for this long (CloudWatch bills by
    /// the hour); 1m to 7d.
    #[serde(serialize_with = "print_duration", deserialize_with = "series_ttl")]
    #[schemars(with = "String")]
    pub series_ttl: Duration,
    /// `aggregate` (a new series over a bound joins its metric's `AllOther` series) or
    /// `refuse` (the record is refused, and the client told).
    #[serde(deserialize_with = "overflow")]
    pub overflow: OverflowPolicy,
}

impl Default for CardinalityConfig {
    fn default() -> Self {
        CardinalityConfig {
            enabled: true,
            max_series: 10_000,
            max_series_per_namespace: None,
            max_series_per_metric: 1000,
            series_ttl: Duration::from_secs(3600),
            overflow: OverflowPolicy::Aggregate,
        }
    }
}

/// The prices the bill is estimated with (`GET /v1/cost`, `cw-sidecar cost`): us-east-1's
/// list prices by default.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CostConfig {
    /// USD per custom metric and month in each tier, in order.
    pub usd_per_metric_month: Vec<f64>,
    /// Series up to which each tier but the last applies (one fewer than the prices).
    pub metric_tier_bounds: Vec<u64>,
    /// USD per 1,000 PutMetricData calls.
    pub usd_per_1000_requests: f64,
}

impl Default for CostConfig {
    fn default() -> Self {
        let p = Prices::default();
        CostConfig {
            usd_per_metric_month: p.tiers.iter().map(|t| t.1).collect(),
            metric_tier_bounds: p.tiers.iter().map(|t| t.0).filter(|b| *b != u64::MAX).collect(),
            usd_per_1000_requests: p.usd_per_1000_requests,
        }
    }
}

impl CostConfig {
    pub fn prices(&self) -> Prices {
        let bounds = self.metric_tier_bounds.iter().copied().chain(std::iter::once(u64::MAX));
        Prices {
            tiers: bounds.zip(self.usd_per_metric_month.iter().copied()).collect(),
            usd_per_1000_requests: self.usd_per_1000_requests,
        }
    }

    /// The tiers fit together: one bound fewer than prices, rising, prices not negative.
    pub fn check(&self) -> Result<(), String> {
        if self.usd_per_metric_month.len() != self.metric_tier_bounds.len() + 1 {
            return Err("cost.metric_tier_bounds must have one entry fewer than cost.usd_per_metric_month".into());
        }
        if !self.metric_tier_bounds.windows(2).all(|w| w[0] < w[1]) {
            return Err("cost.metric_tier_bounds must rise".into());
        }
        if self.usd_per_metric_month.iter().chain([&self.usd_per_1000_requests]).any(|p| !p.is_finite() || *p < 0.0) {
            return Err("prices must be finite and not negative".into());
        }
        Ok(())
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Text::deserialize(d).map(|Text(s)| s)
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match text(d)?.trim().parse::<usize>() {
        Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
        _ => Err(D::Error::custom("expected a whole number from 1 to 10000000")),
    }
}

fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let s = text(d)?;
    if s.trim().is_empty() || s.trim() == "none" {
        return Ok(None);
    }
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=10_000_000).contains(&n) => Ok(Some(n)),
        _ => Err(D::Error::custom("expected a whole number from 1 to 10000000, or `none`")),
    }
}

fn series_ttl<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match human::duration(&text(d)?).map_err(D::Error::custom)? {
        t if (Duration::from_secs(60)..=Duration::from_secs(7 * 86_400)).contains(&t) => Ok(t),
        _ => Err(D::Error::custom("must be between 1m and 7d")),
    }
}

fn overflow<'de, D: Deserializer<'de>>(d: D) -> Result<OverflowPolicy, D::Error> {
    match text(d)?.as_str() {
        "aggregate" => Ok(OverflowPolicy::Aggregate),
        "refuse" => Ok(OverflowPolicy::Refuse),
        _ => Err(D::Error::custom("expected `aggregate` or `refuse`")),
    }
}

fn print_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    human::print::duration(d, s)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(toml: &str) -> Result<Config, String> {
        toml::from_str(toml).map_err(|e: toml::de::Error| e.to_string())
    }

    #[test]
    fn rules_are_tables_checked_one_by_one_naming_the_key() {
        let c = parse(
            "[[metrics]]\nmatch = \"http_*\"\nrollups = [[\"Service\", \"status\"], []]\n\n[[metrics]]\nmatch = \"ws_*\"\ndrop_dimensions = [\"session_id\"]\n",
        )
        .unwrap();
        assert_eq!(c.metrics.len(), 2);
        assert_eq!(c.metrics[0].rollups, vec![vec!["Service".to_string(), "status".to_string()], vec![]]);
        let e = parse("[[metrics]]\nmatch = \"*\"\n[[metrics]]\nmatch = \"*\"\ndrop_dimensions = [\"a\"]\nkeep_dimensions = [\"a\"]\n").unwrap_err();
        assert!(e.contains("metrics[1].keep_dimensions"), "{e}");
        assert!(parse("[[metrics]]\nmatch = \"*\"\nunknown = 1\n").unwrap_err().contains("unknown"));
    }

    #[test]
    fn the_budget_and_the_prices_have_their_defaults_and_rules() {
        let c = parse("").unwrap();
        assert!(c.cardinality.enabled);
        assert_eq!((c.cardinality.max_series, c.cardinality.max_series_per_metric), (10_000, 1000));
        assert_eq!(c.cost.prices(), cw_core::cost::price::Prices::default());
        let c = parse("[cardinality]\nmax_series_per_namespace = 500\noverflow = \"refuse\"\nseries_ttl = \"2h\"\n")
            .unwrap();
        assert_eq!(c.cardinality.max_series_per_namespace, Some(500));
        assert!(parse("[cardinality]\noverflow = \"drop\"\n").unwrap_err().contains("`aggregate` or `refuse`"));
        assert!(parse("[cardinality]\nseries_ttl = \"10s\"\n").unwrap_err().contains("between 1m and 7d"));
    }
}
