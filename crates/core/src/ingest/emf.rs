//! One EMF document (CloudWatch embedded metric format) → datums, without I/O.
//!
//! A document is a JSON object; it is EMF when it has `_aws.CloudWatchMetrics`, an array of
//! directives `{Namespace, Dimensions: [[key, ...], ...], Metrics: [{Name, Unit?,
//! StorageResolution?}, ...]}`. Metric values and dimension values are top-level members.
//! Each dimension set of a directive gives each of its metrics a datum of its own.
//!
//! - The whole document is rejected (a [`DocumentError`]) for what CloudWatch rejects it for:
//!   invalid JSON, more than 100 metrics in a directive, more than 30 dimensions in a set,
//!   more than 100 values for a metric; and for a `_aws` that is not shaped as the schema says.
//! - Ours, on top of CloudWatch's: a directive with more dimension sets than
//!   [`Limits::max_dimension_sets`], or a document that would give more datums (metrics ×
//!   dimension sets, over its directives) than [`Limits::max_datums`], is rejected whole:
//!   one 15 KB line of 800 sets × 100 metrics would otherwise be 80,000 series.
//! - One metric with a problem (its member missing or not numeric, a bad unit or storage
//!   resolution, an incomplete statistic set) is skipped with a [`Warning`]; the rest publishes.
//! - A dimension set naming a member that is missing, not a string or empty is dropped with a
//!   warning; a metric left with no set publishes without dimensions.
//!
//! Strings borrow from the document unless they hold escapes. This file is also compiled
//! alone by the fuzz target (`fuzz/fuzz_targets/emf.rs`): it uses nothing of the crate but
//! the dimension type, the units and the reason labels.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::dimensions::GivenDimensions;
use crate::domain::units::Unit;
use crate::reasons::{LineReject, LineWarning};

/// CloudWatch's limits, beyond which it rejects the whole document.
pub const MAX_METRICS: usize = 100;
pub const MAX_DIMENSIONS: usize = 30;
pub const MAX_VALUES: usize = 100;

/// Our bounds on what one document may ask for (`[emf]` `max_dimension_sets`,
/// `max_datums_per_document`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Dimension sets in one directive.
    pub max_dimension_sets: usize,
    /// Datums of one document, over all its directives.
    pub max_datums: usize,
}

/// As many sets per directive as a set may have dimensions (CloudWatch's 30).
pub const DEFAULT_MAX_DIMENSION_SETS: usize = 30;
/// One directive at both bounds: 100 metrics under 30 dimension sets.
pub const DEFAULT_MAX_DATUMS: usize = MAX_METRICS * DEFAULT_MAX_DIMENSION_SETS;

impl Default for Limits {
    fn default() -> Self {
        Limits { max_dimension_sets: DEFAULT_MAX_DIMENSION_SETS, max_datums: DEFAULT_MAX_DATUMS }
    }
}

/// What one document is.
#[derive(Debug, PartialEq)]
pub enum Parsed<'a> {
    /// No `_aws.CloudWatchMetrics`: JSON, but not EMF (plain structured logs): ignored.
    NotEmf,
    Emf(Document<'a>),
}

/// The datums of an EMF document, and what was skipped on the way.
#[derive(Debug, Default, PartialEq)]
pub struct Document<'a> {
    pub datums: Vec<Datum<'a>>,
    pub warnings: Vec<(Warning, String)>,
}

pub type Warning = LineWarning;

/// One metric under one dimension set.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum<'a> {
    /// None when the directive has no `Namespace`: the configured one applies.
    pub namespace: Option<Cow<'a, str>>,
    pub name: Cow<'a, str>,
    pub unit: Option<Cow<'a, str>>,
    /// 1 or 60.
    pub storage_resolution: Option<u64>,
    pub dimensions: GivenDimensions<'a>,
    /// `_aws.Timestamp`; None means the time it was received.
    pub timestamp_ms: Option<i64>,
    pub values: Values,
}

/// A metric's value as the document gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    One(f64),
    /// An array of samples.
    Many(Vec<f64>),
    /// `{"Values": [...], "Counts": [...]}`, counts all 1 when absent.
    Weighted {
        values: Vec<f64>,
        counts: Vec<f64>,
    },
    /// `{"Max", "Min", "Count", "Sum"}`.
    Statistics {
        max: f64,
        min: f64,
        count: f64,
        sum: f64,
    },
}

/// Why a whole document is rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentError {
    pub reason: LineReject,
    pub message: String,
}

fn fail<T>(reason: LineReject, message: impl Into<String>) -> Result<T, DocumentError> {
    Err(DocumentError { reason, message: message.into() })
}

/// A string that borrows from the document unless it holds escapes.
#[derive(Debug, Deserialize, PartialEq, Eq, Hash)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct Aws<'a> {
    #[serde(rename = "Timestamp", borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(rename = "CloudWatchMetrics", borrow, default)]
    directives: Option<Vec<Directive<'a>>>,
}

#[derive(Deserialize)]
struct Directive<'a> {
    #[serde(rename = "Namespace", borrow, default)]
    namespace: Option<Text<'a>>,
    #[serde(rename = "Dimensions", borrow, default)]
    dimensions: Option<Vec<Vec<Text<'a>>>>,
    #[serde(rename = "Metrics", borrow, default)]
    metrics: Option<Vec<MetricDefinition<'a>>>,
}

/// Fields kept raw: a bad one skips its metric, not the document.
#[derive(Deserialize)]
struct MetricDefinition<'a> {
    #[serde(rename = "Name", borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(rename = "Unit", borrow, default)]
    unit: Option<&'a RawValue>,
    #[serde(rename = "StorageResolution", borrow, default)]
    storage_resolution: Option<&'a RawValue>,
}

/// Parses one document (a line over TCP, a datagram over UDP) under the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Parsed<'_>, DocumentError> {
    parse_with(bytes, &Limits::default())
}

/// Parses one document under `limits`.
pub fn parse_with<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, DocumentError> {
    let members: HashMap<Text<'_>, &RawValue> = match serde_json::from_slice(bytes) {
        Ok(m) => m,
        Err(e) => {
            return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                // Valid JSON, but not an object: not EMF.
                Ok(_) => Ok(Parsed::NotEmf),
                Err(_) => fail(LineReject::InvalidJson, format!("invalid JSON: {e}")),
            };
        }
    };
    let Some(aws) = members.get(&Text(Cow::Borrowed("_aws"))) else { return Ok(Parsed::NotEmf) };
    // `_aws` of another shape (not an object) is someone else's: not EMF either.
    if !aws.get().trim_start().starts_with('{') {
        return Ok(Parsed::NotEmf);
    }
    let aws: Aws<'_> = match serde_json::from_str(aws.get()) {
        Ok(a) => a,
        Err(e) => return fail(LineReject::Malformed, format!("_aws: {e}")),
    };
    let Some(directives) = aws.directives else { return Ok(Parsed::NotEmf) };
    let timestamp_ms = match aws.timestamp {
        None => None,
        Some(raw) => match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(serde_json::Value::Null) => None,
            Ok(serde_json::Value::Number(n)) => match n.as_i64() {
                Some(ms) => Some(ms),
                None => match n.as_f64() {
                    Some(f) if f.is_finite() && f.abs() < 1e15 => Some(f.trunc() as i64),
                    _ => return fail(LineReject::Timestamp, format!("_aws.Timestamp {n} is out of range")),
                },
            },
            _ => return fail(LineReject::Timestamp, "_aws.Timestamp must be epoch milliseconds (a number)"),
        },
    };
    let mut document = Document::default();
    for (d, directive) in directives.iter().enumerate() {
        let metrics = directive.metrics.as_deref().unwrap_or(&[]);
        if metrics.len() > MAX_METRICS {
            return fail(
                LineReject::TooManyMetrics,
                format!("directive {d} has {} metrics, at most {MAX_METRICS}", metrics.len()),
            );
        }
        let sets = directive.dimensions.as_deref().unwrap_or(&[]);
        if sets.len() > limits.max_dimension_sets {
            return fail(
                LineReject::TooManyDimensionSets,
                format!(
                    "directive {d} has {} dimension sets, at most {} (emf.max_dimension_sets)",
                    sets.len(),
                    limits.max_dimension_sets
                ),
            );
        }
        if let Some(set) = sets.iter().find(|s| s.len() > MAX_DIMENSIONS) {
            return fail(
                LineReject::TooManyDimensions,
                format!("directive {d} has a dimension set of {} dimensions, at most {MAX_DIMENSIONS}", set.len()),
            );
        }
        let sets = dimension_sets(sets, &members, &mut document.warnings);
        for metric in metrics {
            let Some(found) = self::metric(metric, &members, &mut document.warnings)? else { continue };
            let (name, unit, storage_resolution, values) = found;
            if document.datums.len() + sets.len() > limits.max_datums {
                return fail(
                    LineReject::TooManyDatums,
                    format!(
                        "the document gives more than {} datums (metrics × dimension sets; \
                         emf.max_datums_per_document)",
                        limits.max_datums
                    ),
                );
            }
            for set in &sets {
                document.datums.push(Datum {
                    namespace: directive.namespace.as_ref().map(|n| n.0.clone()),
                    name: name.clone(),
                    unit: unit.clone(),
                    storage_resolution,
                    dimensions: set.clone(),
                    timestamp_ms,
                    values: values.clone(),
                });
            }
        }
    }
    Ok(Parsed::Emf(document))
}

type Metric<'a> = (Cow<'a, str>, Option<Cow<'a, str>>, Option<u64>, Values);

/// A metric definition and its value; None (with a warning) when it is skipped.
fn metric<'a>(
    metric: &MetricDefinition<'a>,
    members: &HashMap<Text<'a>, &'a RawValue>,
    warnings: &mut Vec<(Warning, String)>,
) -> Result<Option<Metric<'a>>, DocumentError> {
    let Some(Text(name)) = metric.name.and_then(|raw| serde_json::from_str::<Text<'a>>(raw.get()).ok()) else {
        warnings.push((Warning::MetricName, "a metric definition has no Name string".into()));
        return Ok(None);
    };
    let unit = match metric.unit.map(|raw| serde_json::from_str::<Option<Text<'a>>>(raw.get())) {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(Text(unit)))) if Unit::parse(&unit).is_some() => Some(unit),
        Some(_) => {
            warnings.push((Warning::Unit, format!("metric {name}: Unit is not a CloudWatch standard unit")));
            return Ok(None);
        }
    };
    let resolution = match metric.storage_resolution.map(|raw| raw.get().trim()) {
        None | Some("null") => None,
        Some("1") => Some(1),
        Some("60") => Some(60),
        Some(other) => {
            warnings
                .push((Warning::StorageResolution, format!("metric {name}: StorageResolution {other} is not 1 or 60")));
            return Ok(None);
        }
    };
    let Some(raw) = members.get(&Text(Cow::Borrowed(name.as_ref()))) else {
        warnings.push((Warning::MetricMissing, format!("metric {name}: no member of that name")));
        return Ok(None);
    };
    match values(raw) {
        Ok(values) => Ok(Some((name, unit, resolution, values))),
        Err(Problem::TooMany(n)) => {
            fail(LineReject::TooManyValues, format!("metric {name} has {n} values, at most {MAX_VALUES}"))
        }
        Err(Problem::Warn(warning, why)) => {
            warnings.push((warning, format!("metric {name}: {why}")));
            Ok(None)
        }
    }
}

enum Problem {
    TooMany(usize),
    Warn(Warning, &'static str),
}

fn values(raw: &RawValue) -> Result<Values, Problem> {
    use serde_json::Value;
    let not_numeric = |why| Problem::Warn(Warning::MetricNotNumeric, why);
    let numbers = |v: &Value, why| match v {
        Value::Array(a) if a.len() > MAX_VALUES => Err(Problem::TooMany(a.len())),
        Value::Array(a) if a.is_empty() => Err(not_numeric("an empty array of values")),
        Value::Array(a) => a.iter().map(|v| v.as_f64().ok_or_else(|| not_numeric(why))).collect(),
        _ => Err(not_numeric(why)),
    };
    let value: Value = serde_json::from_str(raw.get()).map_err(|_| not_numeric("unreadable value"))?;
    match &value {
        Value::Number(n) => n.as_f64().map(Values::One).ok_or_else(|| not_numeric("not a number")),
        Value::Array(_) => numbers(&value, "an array holding something else than numbers").map(Values::Many),
        Value::Object(o) if o.contains_key("Values") => {
            let values = numbers(&o["Values"], "Values must be an array of numbers")?;
            let counts = match o.get("Counts") {
                None | Some(Value::Null) => vec![1.0; values.len()],
                Some(c) => numbers(c, "Counts must be an array of numbers")?,
            };
            if counts.len() != values.len() {
                return Err(not_numeric("Values and Counts differ in length"));
            }
            Ok(Values::Weighted { values, counts })
        }
        Value::Object(o) if ["Max", "Min", "Count", "Sum"].iter().any(|k| o.contains_key(*k)) => {
            let field = |k: &str| o.get(k).and_then(Value::as_f64);
            match (field("Max"), field("Min"), field("Count"), field("Sum")) {
                (Some(max), Some(min), Some(count), Some(sum)) => Ok(Values::Statistics { max, min, count, sum }),
                _ => Err(Problem::Warn(Warning::StatisticSet, "a statistic set needs numbers Max, Min, Count and Sum")),
            }
        }
        _ => Err(not_numeric("not a number, an array of numbers or a value object")),
    }
}

/// The directive's dimension sets with their values; a set naming a member that is missing,
/// not a string or empty is dropped with a warning. No set left (or none given) means one
/// set without dimensions.
fn dimension_sets<'a>(
    sets: &[Vec<Text<'a>>],
    members: &HashMap<Text<'a>, &'a RawValue>,
    warnings: &mut Vec<(Warning, String)>,
) -> Vec<GivenDimensions<'a>> {
    let mut out = Vec::with_capacity(sets.len().max(1));
    'sets: for set in sets {
        let mut dimensions = GivenDimensions::new();
        for Text(key) in set {
            let warning = match members.get(&Text(Cow::Borrowed(key.as_ref()))) {
                None => Warning::DimensionMissing,
                Some(raw) => match serde_json::from_str::<Text<'a>>(raw.get()) {
                    Ok(Text(v)) if v.is_empty() => Warning::DimensionEmpty,
                    Ok(Text(v)) => {
                        dimensions.push((key.clone(), v));
                        continue;
                    }
                    Err(_) => Warning::DimensionNotString,
                },
            };
            warnings.push((warning, format!("dimension set dropped ({}): member {key}", warning.label())));
            continue 'sets;
        }
        out.push(dimensions);
    }
    if out.is_empty() {
        out.push(GivenDimensions::new());
    }
    out
}

#[cfg(test)]
#[path = "emf_tests.rs"]
mod tests;
