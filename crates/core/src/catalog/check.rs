//! What a catalog must satisfy beyond its shape: names CloudWatch takes, each metric declared
//! once, dimension sets within the allowed dimensions, alarms and widgets on declared metrics
//! and series that are published, periods the resolution allows. Every error names its line;
//! one naming a metric that is not declared names the closest one that is.

use std::collections::{BTreeMap, HashSet};

use serde_saphyr::Spanned;

use super::error::{CatalogError, closest, line_of};
use super::model::{AlarmKind, Catalog, Metric};
use crate::domain::limits::MAX_DIMENSIONS;
use crate::domain::names::{MetricName, Namespace, check_dimension};
use crate::domain::units::Unit;

struct Errors(Vec<CatalogError>);

impl Errors {
    fn at(&mut self, line: u64, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(CatalogError { line, path: path.into(), message: message.into() });
    }
}

/// Every error of `catalog`, in the order of the file's sections.
pub fn check(catalog: &Catalog) -> Vec<CatalogError> {
    let mut e = Errors(Vec::new());
    if catalog.namespaces.is_empty() {
        e.at(1, "namespaces", "declare at least one namespace");
    }
    for (i, ns) in catalog.namespaces.iter().enumerate() {
        if let Err(err) = Namespace::parse(&ns.value) {
            e.at(line_of(ns), format!("namespaces[{i}]"), err.message);
        }
    }
    let mut seen = HashSet::new();
    for (i, m) in catalog.metrics.iter().enumerate() {
        metric(catalog, &mut e, i, m, &mut seen);
    }
    let mut names = HashSet::new();
    for (i, a) in catalog.alarms.iter().enumerate() {
        let path = format!("alarms[{i}]");
        if !names.insert(a.name.value.as_str()) {
            e.at(line_of(&a.name), format!("{path}.name"), format!("alarm `{}` is declared twice", a.name.value));
        }
        alarm(catalog, &mut e, &path, a);
    }
    if let Some(dashboard) = &catalog.dashboard {
        for (r, row) in dashboard.rows.iter().enumerate() {
            for (w, widget) in row.widgets.iter().enumerate() {
                let path = format!("dashboard.rows[{r}].widgets[{w}]");
                if widget.metrics.is_empty() {
                    e.at(line_of(&widget.title), &path, "a widget shows at least one metric");
                }
                if let Some(period) = widget.period
                    && !(period == 1
                        || period == 5
                        || period == 10
                        || period == 30
                        || period.is_multiple_of(60) && period > 0)
                {
                    e.at(line_of(&widget.title), format!("{path}.period"), "must be 1, 5, 10, 30 or a multiple of 60");
                }
                for (k, series) in widget.metrics.iter().enumerate() {
                    let path = format!("{path}.metrics[{k}]");
                    if let Some(m) = declared(catalog, &mut e, &path, &series.metric, series.namespace.as_ref()) {
                        statistic(&mut e, &path, &series.statistic);
                        published(&mut e, &path, m, &series.dimensions);
                    }
                }
            }
        }
    }
    e.0
}

fn metric<'c>(catalog: &'c Catalog, e: &mut Errors, i: usize, m: &'c Metric, seen: &mut HashSet<(&'c str, &'c str)>) {
    let path = format!("metrics[{i}]");
    let line = line_of(&m.name);
    if let Err(err) = MetricName::parse(&m.name.value) {
        e.at(line, format!("{path}.name"), err.message);
    }
    let ns = match catalog.namespace_of(m.namespace.as_ref()) {
        Some(ns) => ns,
        None => {
            e.at(line, format!("{path}.namespace"), "the catalog declares several namespaces: name this metric's");
            return;
        }
    };
    if let Some(given) = &m.namespace
        && !catalog.namespaces.iter().any(|n| n.value == given.value)
    {
        let hint = closest(&given.value, catalog.namespaces.iter().map(|n| n.value.as_str()));
        e.at(
            line_of(given),
            format!("{path}.namespace"),
            format!(
                "`{}` is not in namespaces{}",
                given.value,
                hint.map(|h| format!(" (closest: `{h}`)")).unwrap_or_default()
            ),
        );
    }
    if !seen.insert((ns, m.name.value.as_str())) {
        e.at(line, format!("{path}.name"), format!("metric `{}` of namespace `{ns}` is declared twice", m.name.value));
    }
    if Unit::parse(&m.unit.value).is_none() {
        let units = Unit::ALL.iter().map(|u| u.as_str());
        e.at(
            line_of(&m.unit),
            format!("{path}.unit"),
            format!(
                "`{}` is not a CloudWatch unit (closest: `{}`)",
                m.unit.value,
                closest(&m.unit.value, units).unwrap_or("None")
            ),
        );
    }
    if m.resolution.value != 1 && m.resolution.value != 60 {
        e.at(line_of(&m.resolution), format!("{path}.resolution"), "must be 1 (high resolution) or 60");
    }
    if m.dimensions.len() > MAX_DIMENSIONS {
        e.at(line, format!("{path}.dimensions"), format!("at most {MAX_DIMENSIONS} dimensions"));
    }
    let mut dims = HashSet::new();
    for (d, dim) in m.dimensions.iter().enumerate() {
        if let Err(err) = check_dimension(&dim.value, "x") {
            e.at(line_of(dim), format!("{path}.dimensions[{d}]"), err.message);
        }
        if !dims.insert(dim.value.as_str()) {
            e.at(line_of(dim), format!("{path}.dimensions[{d}]"), format!("`{}` is named twice", dim.value));
        }
    }
    for (s, set) in m.dimension_sets.iter().flatten().enumerate() {
        let set_path = format!("{path}.dimension_sets[{s}]");
        if set.value.len() > MAX_DIMENSIONS {
            e.at(line_of(set), &set_path, format!("at most {MAX_DIMENSIONS} dimensions"));
        }
        for name in &set.value {
            if !dims.contains(name.as_str()) {
                e.at(line_of(set), &set_path, undeclared_dimension(m, name));
            }
        }
    }
    if m.dimension_sets.as_ref().is_some_and(Vec::is_empty) {
        e.at(
            line,
            format!("{path}.dimension_sets"),
            "an empty list would publish nothing: leave it out to publish each record's own series",
        );
    }
}

fn undeclared_dimension(m: &Metric, name: &str) -> String {
    let hint = closest(name, m.dimensions.iter().map(|d| d.value.as_str()));
    format!(
        "dimension `{name}` is not among metric `{}`'s dimensions{}",
        m.name.value,
        hint.map(|h| format!(" (closest: `{h}`)")).unwrap_or_default()
    )
}

/// The metric an alarm or a widget names, when declared.
fn declared<'c>(
    catalog: &'c Catalog,
    e: &mut Errors,
    path: &str,
    name: &Spanned<String>,
    namespace: Option<&'c Spanned<String>>,
) -> Option<&'c Metric> {
    let Some(ns) = catalog.namespace_of(namespace) else {
        e.at(line_of(name), format!("{path}.namespace"), "the catalog declares several namespaces: name this one's");
        return None;
    };
    let found = catalog.metric(ns, &name.value);
    if found.is_none() {
        let names = catalog.metrics.iter().map(|m| m.name.value.as_str());
        let hint = closest(&name.value, names).map(|h| format!(": the closest entry is `{h}`")).unwrap_or_default();
        e.at(
            line_of(name),
            path,
            format!("metric `{}` of namespace `{ns}`: the catalog does not declare it{hint}", name.value),
        );
    }
    found
}

/// The series of `m` with `dims` is one the sidecar publishes.
fn published(e: &mut Errors, path: &str, m: &Metric, dims: &Spanned<BTreeMap<String, String>>) {
    let line = if line_of(dims) > 0 { line_of(dims) } else { line_of(&m.name) };
    for name in dims.value.keys() {
        if !m.dimensions.iter().any(|d| &d.value == name) {
            e.at(line, format!("{path}.dimensions"), undeclared_dimension(m, name));
        }
    }
    if let Some(sets) = &m.dimension_sets {
        let mut wanted: Vec<&str> = dims.value.keys().map(String::as_str).collect();
        wanted.sort();
        let is_published = sets.iter().any(|s| {
            let mut set: Vec<&str> = s.value.iter().map(String::as_str).collect();
            set.sort();
            set.dedup();
            set == wanted
        });
        if !is_published {
            e.at(
                line,
                format!("{path}.dimensions"),
                format!(
                    "metric `{}` is published with the dimension sets {} only: [{}] is none of them",
                    m.name.value,
                    sets.iter().map(|s| format!("[{}]", s.value.join(", "))).collect::<Vec<_>>().join(", "),
                    wanted.join(", ")
                ),
            );
        }
    }
}

/// A statistic CloudWatch computes.
pub fn is_statistic(s: &str) -> bool {
    if ["Average", "Sum", "Minimum", "Maximum", "SampleCount"].contains(&s) {
        return true;
    }
    let Some(p) = s.strip_prefix('p') else { return false };
    p.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)) && p.chars().all(|c| c.is_ascii_digit() || c == '.')
}

fn statistic(e: &mut Errors, path: &str, s: &Spanned<String>) {
    if !is_statistic(&s.value) {
        e.at(
            line_of(s),
            format!("{path}.statistic"),
            format!(
                "`{}` is not a statistic: Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99",
                s.value
            ),
        );
    }
}

fn alarm(catalog: &Catalog, e: &mut Errors, path: &str, a: &super::model::Alarm) {
    let line = line_of(&a.name);
    if a.name.value.is_empty() || !a.name.value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        e.at(
            line,
            format!("{path}.name"),
            "1 or more letters, digits, '-', '_' or '.' (it is part of the alarm's name)",
        );
    }
    let m = declared(catalog, e, path, &a.metric, a.namespace.as_ref());
    if let Some(m) = m {
        published(e, path, m, &a.dimensions);
    }
    match (a.kind, &a.denominator) {
        (AlarmKind::Ratio, None) => {
            e.at(line, format!("{path}.denominator"), "a ratio alarm names its denominator metric")
        }
        (AlarmKind::Ratio, Some(d)) => {
            if let Some(dm) = declared(catalog, e, &format!("{path}.denominator"), d, a.namespace.as_ref()) {
                published(e, &format!("{path}.denominator"), dm, &a.dimensions);
            }
        }
        (_, Some(d)) => e.at(line_of(d), format!("{path}.denominator"), "only a ratio alarm has a denominator"),
        (_, None) => {}
    }
    match (a.kind, &a.statistic) {
        (AlarmKind::Threshold, Some(s)) => statistic(e, path, s),
        (AlarmKind::Threshold, None) => {
            e.at(line, format!("{path}.statistic"), "a threshold alarm names its statistic")
        }
        (_, Some(s)) if s.value != "Sum" => {
            e.at(line_of(s), format!("{path}.statistic"), "ratio and nonzero alarms read Sums: leave it out")
        }
        _ => {}
    }
    match (a.kind, a.threshold) {
        (AlarmKind::Nonzero, Some(_)) => {
            e.at(line, format!("{path}.threshold"), "a nonzero alarm compares with 0: leave it out")
        }
        (AlarmKind::Nonzero, None) => {}
        (_, None) => e.at(line, format!("{path}.threshold"), "a threshold or ratio alarm needs its threshold"),
        (_, Some(t)) if !t.is_finite() => e.at(line, format!("{path}.threshold"), "must be a finite number"),
        _ => {}
    }
    let period = a.period.value;
    let high = m.is_some_and(|m| m.resolution.value == 1);
    if !(period > 0 && period.is_multiple_of(60) || high && [10, 20, 30].contains(&period)) {
        e.at(
            line_of(&a.period),
            format!("{path}.period"),
            match high {
                true => "must be 10, 20, 30 or a multiple of 60 seconds",
                false => "must be a multiple of 60 seconds (10, 20 or 30 only for a metric of resolution 1)",
            },
        );
    }
    if a.evaluation_periods == 0 {
        e.at(line, format!("{path}.evaluation_periods"), "must be at least 1");
    } else if period.saturating_mul(a.evaluation_periods) > if period < 3600 { 86_400 } else { 604_800 } {
        e.at(
            line,
            format!("{path}.evaluation_periods"),
            "period × evaluation_periods must be at most 1 day (7 days for periods of an hour or more)",
        );
    }
    if let Some(n) = a.datapoints_to_alarm
        && (n == 0 || n > a.evaluation_periods)
    {
        e.at(line, format!("{path}.datapoints_to_alarm"), "must be between 1 and evaluation_periods");
    }
    if a.topic.value != "critical" && a.topic.value != "warning" {
        e.at(
            line_of(&a.topic),
            format!("{path}.topic"),
            format!("`{}` is not a topic: critical or warning", a.topic.value),
        );
    }
}
