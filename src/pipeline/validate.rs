//! CloudWatch's rules for a record, each stated once. A record that passes becomes a
//! [`Sample`]: CloudWatch would accept every datum made from it.

use std::collections::BTreeMap;

use serde::Serialize;
use smallvec::SmallVec;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::units::{Resolution, Unit};
use crate::ingest::http::body::{Dimensions, RawRecord, Text, Timestamp};
use crate::telemetry::reasons::RejectReason;

pub const MAX_DIMENSIONS: usize = 30;
const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
const MAX_FUTURE_MS: i64 = 2 * 3600 * 1000;
const NUMBER_RULE: &str = "must be finite, within ±2^360, and zero or at least 2^-360 in magnitude";

/// Why a record was rejected: `field: rule`, with a short reason label for `/metrics`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub reason: RejectReason,
    pub message: String,
}

fn reject(reason: RejectReason, message: impl Into<String>) -> ValidationError {
    ValidationError { reason, message: message.into() }
}

/// A statistic set; also the `StatisticValues` of a datum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatSet {
    pub sample_count: f64,
    pub sum: f64,
    #[serde(rename = "Minimum")]
    pub min: f64,
    #[serde(rename = "Maximum")]
    pub max: f64,
}

impl StatSet {
    pub fn merge(&mut self, other: &StatSet) {
        self.sample_count += other.sample_count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// What a record measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Single(f64),
    Many { values: Vec<f64>, counts: Option<Vec<f64>> },
    Statistics(StatSet),
}

/// Merged dimensions; most records have few, so they stay on the stack.
pub type Dims<'s> = SmallVec<[(&'s str, &'s str); 8]>;

/// A valid record. `dimensions` are merged with the defaults and sorted by name.
#[derive(Debug)]
pub struct Sample<'s> {
    pub namespace: &'s str,
    pub name: &'s str,
    pub dimensions: Dims<'s>,
    pub unit: Unit,
    pub resolution: Resolution,
    pub timestamp_ms: i64,
    pub payload: Payload,
}

impl Sample<'_> {
    /// Start of the aggregation window the sample falls in.
    pub fn window_start_ms(&self) -> i64 {
        self.resolution.window_start(self.timestamp_ms)
    }
}

/// What a record inherits: the envelope's namespace and dimensions, then the configured ones.
pub struct Inherited<'a, 'body> {
    pub envelope_namespace: Option<&'a str>,
    pub envelope_dimensions: Option<&'a Dimensions<'body>>,
    pub default_namespace: Option<&'a str>,
    pub default_dimensions: &'a BTreeMap<String, String>,
}

/// Checks one record, taking its values out of it.
pub fn validate<'s>(
    record: &'s mut RawRecord<'_>,
    inherited: &Inherited<'s, '_>,
    now_ms: i64,
) -> Result<Sample<'s>, ValidationError> {
    if record.name.is_none() {
        return Err(reject(RejectReason::Name, "name: required"));
    }
    let payload = take_payload(record)?;
    let record: &'s RawRecord<'_> = record;
    let name = record.name.as_ref().map(Text::as_str).unwrap_or_default();
    check_text("name", "name", name, 255).map_err(|m| reject(RejectReason::Name, m))?;

    let namespace = record
        .namespace
        .as_ref()
        .map(Text::as_str)
        .or(inherited.envelope_namespace)
        .or(inherited.default_namespace)
        .ok_or_else(|| {
            reject(
                RejectReason::Namespace,
                "namespace: required (neither the record, its envelope nor the sidecar's `namespace` setting gives one)",
            )
        })?;
    validate_namespace(namespace)?;

    let unit = match &record.unit {
        None => Unit::None,
        Some(u) => Unit::parse(u.as_str()).ok_or_else(|| {
            reject(
                RejectReason::Unit,
                format!("unit: `{}` is not a CloudWatch standard unit (for example Count, Milliseconds, Bytes/Second, None)", u.as_str()),
            )
        })?,
    };

    let resolution = match record.storage_resolution {
        None => Resolution::Standard,
        Some(s) => Resolution::from_seconds(s).ok_or_else(|| {
            reject(RejectReason::StorageResolution, format!("storage_resolution: must be 1 or 60, got {s}"))
        })?,
    };

    let timestamp_ms = match &record.timestamp {
        None => now_ms,
        Some(Timestamp::EpochMillis(ms)) => *ms,
        Some(Timestamp::Rfc3339(text)) => OffsetDateTime::parse(text.as_str(), &Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|_| {
                reject(
                    RejectReason::Timestamp,
                    format!("timestamp: `{}` is not an RFC 3339 date-time such as 2026-01-02T15:04:05Z", text.as_str()),
                )
            })?,
    };
    if resolution.window_start(timestamp_ms) < now_ms - MAX_AGE_MS {
        return Err(reject(RejectReason::Timestamp, "timestamp: must be at most 14 days old"));
    }
    if timestamp_ms > now_ms + MAX_FUTURE_MS {
        return Err(reject(RejectReason::Timestamp, "timestamp: must be at most 2 hours in the future"));
    }

    let dims = merge_dimensions(record.dimensions.as_ref(), inherited)?;

    Ok(Sample { namespace, name, dimensions: dims, unit, resolution, timestamp_ms, payload })
}

/// Record dimensions beat the envelope's, which beat the defaults; the result is sorted.
fn merge_dimensions<'s>(
    own: Option<&'s Dimensions<'_>>,
    inherited: &Inherited<'s, '_>,
) -> Result<Dims<'s>, ValidationError> {
    let mut dims = Dims::new();
    if let Some(own) = own {
        dims.extend(own.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    let own_len = dims.len();
    if let Some(envelope) = inherited.envelope_dimensions {
        for (k, v) in &envelope.0 {
            if !dims[..own_len].iter().any(|(n, _)| *n == k.as_str()) {
                dims.push((k.as_str(), v.as_str()));
            }
        }
    }
    let given_len = dims.len();
    for (k, v) in inherited.default_dimensions {
        if !dims[..given_len].iter().any(|(n, _)| n == k) {
            dims.push((k.as_str(), v.as_str()));
        }
    }
    dims.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = dims.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(reject(RejectReason::Dimensions, format!("dimensions: `{}` is given more than once", w[0].0)));
    }
    if dims.len() > MAX_DIMENSIONS {
        return Err(reject(
            RejectReason::Dimensions,
            format!("dimensions: at most {MAX_DIMENSIONS} after the default dimensions are merged, got {}", dims.len()),
        ));
    }
    for (k, v) in dims.iter() {
        validate_dimension(k, v)?;
    }
    Ok(dims)
}

fn take_payload(record: &mut RawRecord<'_>) -> Result<Payload, ValidationError> {
    let given = record.value.is_some() as u8 + record.values.is_some() as u8 + record.statistics.is_some() as u8;
    if given != 1 {
        return Err(reject(
            RejectReason::Value,
            format!("exactly one of `value`, `values` or `statistics` is required, got {given}"),
        ));
    }
    if record.counts.is_some() && record.values.is_none() {
        return Err(reject(RejectReason::Value, "counts: only allowed together with `values`"));
    }
    if let Some(v) = record.value {
        check_number("value", v)?;
        return Ok(Payload::Single(v));
    }
    if let Some(s) = record.statistics {
        return Ok(Payload::Statistics(check_statistics(s)?));
    }
    let values = record.values.take().unwrap_or_default();
    if values.is_empty() {
        return Err(reject(RejectReason::Value, "values: must not be empty"));
    }
    for (i, v) in values.iter().enumerate() {
        if !valid_number(*v) {
            return Err(reject(RejectReason::Value, format!("values[{i}]: {NUMBER_RULE}, got {v}")));
        }
    }
    let counts = record.counts.take();
    if let Some(counts) = &counts {
        if counts.len() != values.len() {
            return Err(reject(
                RejectReason::Value,
                format!("counts: must have as many entries as values ({}), got {}", values.len(), counts.len()),
            ));
        }
        for (i, c) in counts.iter().enumerate() {
            if !(valid_number(*c) && *c > 0.0) {
                return Err(reject(
                    RejectReason::Value,
                    format!("counts[{i}]: must be finite and greater than 0, got {c}"),
                ));
            }
        }
    }
    Ok(Payload::Many { values, counts })
}

fn check_statistics(s: crate::ingest::http::body::RawStatistics) -> Result<StatSet, ValidationError> {
    for (field, v) in [("sample_count", s.sample_count), ("sum", s.sum), ("min", s.min), ("max", s.max)] {
        if !valid_number(v) {
            return Err(reject(RejectReason::Statistics, format!("statistics.{field}: {NUMBER_RULE}, got {v}")));
        }
    }
    if s.sample_count <= 0.0 {
        return Err(reject(
            RejectReason::Statistics,
            format!("statistics.sample_count: must be greater than 0, got {}", s.sample_count),
        ));
    }
    if s.min > s.max {
        return Err(reject(
            RejectReason::Statistics,
            format!("statistics: min ({}) must not exceed max ({})", s.min, s.max),
        ));
    }
    let mean = s.sum / s.sample_count;
    let slack = 1e-9 * mean.abs().max(s.min.abs()).max(s.max.abs());
    if mean < s.min - slack || mean > s.max + slack {
        return Err(reject(
            RejectReason::Statistics,
            format!("statistics: sum / sample_count ({mean}) must lie between min ({}) and max ({})", s.min, s.max),
        ));
    }
    Ok(StatSet { sample_count: s.sample_count, sum: s.sum, min: s.min, max: s.max })
}

/// CloudWatch accepts 0 and magnitudes in [2^-360, 2^360]; NaN and infinities never.
pub fn valid_number(v: f64) -> bool {
    let a = v.abs();
    v.is_finite() && (a == 0.0 || (a >= 2f64.powi(-360) && a <= 2f64.powi(360)))
}

fn check_number(field: &str, v: f64) -> Result<(), ValidationError> {
    if valid_number(v) { Ok(()) } else { Err(reject(RejectReason::Value, format!("{field}: {NUMBER_RULE}, got {v}"))) }
}

/// Length in characters within 1..=max, and not only whitespace.
fn check_text(field: &str, what: &str, s: &str, max: usize) -> Result<(), String> {
    let len = s.chars().count();
    if len == 0 || len > max {
        return Err(format!("{field}: {what} must be 1-{max} characters, got {len}"));
    }
    if s.chars().all(char::is_whitespace) {
        return Err(format!("{field}: {what} must not be only whitespace"));
    }
    Ok(())
}

fn check_ascii(field: &str, what: &str, s: &str) -> Result<(), String> {
    match s.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        Some(c) => Err(format!("{field}: {what} must be ASCII without control characters, found {c:?}")),
        None => Ok(()),
    }
}

pub fn validate_namespace(ns: &str) -> Result<(), ValidationError> {
    let fail = |m: String| reject(RejectReason::Namespace, m);
    check_text("namespace", "namespace", ns, 255).map_err(fail)?;
    check_ascii("namespace", "namespace", ns).map_err(fail)?;
    if ns.starts_with("AWS/") {
        return Err(fail(format!("namespace: `{ns}` must not start with AWS/ (reserved for AWS services)")));
    }
    if ns.starts_with(':') {
        return Err(fail(format!("namespace: `{ns}` must not start with `:`")));
    }
    Ok(())
}

pub fn validate_dimension(name: &str, value: &str) -> Result<(), ValidationError> {
    let fail = |m: String| reject(RejectReason::Dimensions, m);
    let field = format!("dimensions.{name}");
    check_text(&field, "the name", name, 255).map_err(fail)?;
    check_ascii(&field, "the name", name).map_err(fail)?;
    if name.starts_with(':') {
        return Err(fail(format!("{field}: the name must not start with `:`")));
    }
    check_text(&field, "the value", value, 1024).map_err(fail)?;
    check_ascii(&field, "the value", value).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::http::body::parse_record;

    const NOW: i64 = 1_800_000_000_000;

    /// Namespace, merged dimensions, payload and window start of a valid record.
    type Checked = (String, Vec<(String, String)>, Payload, i64);

    fn check(json: &str) -> Result<Checked, String> {
        check_with(json, None, &BTreeMap::from([("Host".to_string(), "h1".to_string())]))
    }

    fn check_with(
        json: &str,
        envelope: Option<&Dimensions<'_>>,
        defaults: &BTreeMap<String, String>,
    ) -> Result<Checked, String> {
        let mut record = parse_record(json.as_bytes())?;
        let inherited = Inherited {
            envelope_namespace: None,
            envelope_dimensions: envelope,
            default_namespace: Some("App"),
            default_dimensions: defaults,
        };
        let s = validate(&mut record, &inherited, NOW).map_err(|e| e.message)?;
        let d = s.dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Ok((s.namespace.to_string(), d, s.payload.clone(), s.window_start_ms()))
    }

    fn err(json: &str) -> String {
        check(json).expect_err(json)
    }

    #[test]
    fn a_plain_record_takes_the_defaults() {
        let (ns, dims, payload, window) = check(r#"{"name":"Latency","value":12.5}"#).unwrap();
        assert_eq!(ns, "App");
        assert_eq!(dims, vec![("Host".into(), "h1".into())]);
        assert_eq!(payload, Payload::Single(12.5));
        assert_eq!(window, NOW - NOW % 60_000);
    }

    #[test]
    fn own_dimensions_beat_envelope_and_defaults_and_come_out_sorted() {
        let env = parse_record(br#"{"dimensions":{"Service":"env","Zone":"a"}}"#).unwrap().dimensions.unwrap();
        let defaults = BTreeMap::from([("Service".into(), "default".into()), ("Host".into(), "h".into())]);
        let (_, dims, _, _) =
            check_with(r#"{"name":"x","value":1,"dimensions":{"Zone":"b"}}"#, Some(&env), &defaults).unwrap();
        let want: Vec<(String, String)> = [("Host", "h"), ("Service", "env"), ("Zone", "b")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(dims, want);
    }

    #[test]
    fn names_and_namespaces() {
        assert!(err(r#"{"value":1}"#).starts_with("name: required"));
        assert!(err(r#"{"name":"","value":1}"#).contains("1-255 characters"));
        assert!(err(r#"{"name":"   ","value":1}"#).contains("whitespace"));
        let long = "n".repeat(256);
        assert!(err(&format!(r#"{{"name":"{long}","value":1}}"#)).contains("got 256"));
        assert!(check(&format!(r#"{{"name":"{}","value":1}}"#, "n".repeat(255))).is_ok());
        assert!(err(r#"{"name":"x","value":1,"namespace":"AWS/EC2"}"#).contains("AWS/"));
        assert!(err(r#"{"name":"x","value":1,"namespace":":x"}"#).contains("must not start with `:`"));
        assert!(err(r#"{"name":"x","value":1,"namespace":" "}"#).contains("whitespace"));
    }

    #[test]
    fn a_missing_namespace_is_rejected() {
        let mut record = parse_record(br#"{"name":"x","value":1}"#).unwrap();
        let defaults = BTreeMap::new();
        let inherited = Inherited {
            envelope_namespace: None,
            envelope_dimensions: None,
            default_namespace: None,
            default_dimensions: &defaults,
        };
        let e = validate(&mut record, &inherited, NOW).unwrap_err();
        assert_eq!(e.reason, RejectReason::Namespace);
        assert!(e.message.starts_with("namespace: required"));
    }

    #[test]
    fn dimension_rules() {
        assert!(err(r#"{"name":"x","value":1,"dimensions":{":a":"v"}}"#).contains("must not start with `:`"));
        assert!(err(r#"{"name":"x","value":1,"dimensions":{"a":""}}"#).contains("1-1024"));
        assert!(err(r#"{"name":"x","value":1,"dimensions":{"a":"  "}}"#).contains("whitespace"));
        assert!(err(r#"{"name":"x","value":1,"dimensions":{"a":"caf\u00e9"}}"#).contains("ASCII"));
        assert!(err(r#"{"name":"x","value":1,"dimensions":{"a":"x\ty"}}"#).contains("control"));
        assert!(err(r#"{"name":"x","value":1,"dimensions":{"a":"1","a":"2"}}"#).contains("more than once"));
        let v = "v".repeat(1025);
        assert!(err(&format!(r#"{{"name":"x","value":1,"dimensions":{{"a":"{v}"}}}}"#)).contains("got 1025"));
        let many: Vec<String> = (0..30).map(|i| format!("\"d{i}\":\"v\"")).collect();
        let e = err(&format!(r#"{{"name":"x","value":1,"dimensions":{{{}}}}}"#, many.join(",")));
        assert!(e.contains("at most 30") && e.contains("got 31"), "{e}");
        // The record's own value for a default's name does not count twice.
        let own: Vec<String> = (0..29).map(|i| format!("\"d{i}\":\"v\"")).collect();
        let json = format!(r#"{{"name":"x","value":1,"dimensions":{{{},"Host":"mine"}}}}"#, own.join(","));
        assert_eq!(check(&json).unwrap().1.len(), 30);
    }

    #[test]
    fn number_rules() {
        assert!(err(r#"{"name":"x","value":1e300}"#).contains("2^360"));
        assert!(err(r#"{"name":"x","value":1e-300}"#).contains("2^-360"));
        assert!(check(r#"{"name":"x","value":0}"#).is_ok());
        assert!(check(r#"{"name":"x","value":-5.5}"#).is_ok());
        assert!(err(r#"{"name":"x"}"#).contains("exactly one"));
        assert!(err(r#"{"name":"x","value":1,"values":[1]}"#).contains("got 2"));
        assert!(err(r#"{"name":"x","values":[]}"#).contains("must not be empty"));
        assert!(err(r#"{"name":"x","values":[1,2],"counts":[1]}"#).contains("as many entries"));
        assert!(err(r#"{"name":"x","values":[1,2],"counts":[1,0]}"#).starts_with("counts[1]"));
        assert!(err(r#"{"name":"x","values":[1,1e-320]}"#).starts_with("values[1]"));
        assert!(err(r#"{"name":"x","value":1,"counts":[1]}"#).contains("only allowed"));
    }

    #[test]
    fn statistics_must_be_consistent() {
        let ok = r#"{"name":"x","statistics":{"sample_count":4,"sum":10,"min":1,"max":4}}"#;
        assert!(matches!(check(ok).unwrap().2, Payload::Statistics(s) if s.sum == 10.0));
        assert!(
            err(r#"{"name":"x","statistics":{"sample_count":0,"sum":0,"min":0,"max":0}}"#).contains("greater than 0")
        );
        assert!(
            err(r#"{"name":"x","statistics":{"sample_count":1,"sum":1,"min":2,"max":1}}"#).contains("must not exceed")
        );
        assert!(err(r#"{"name":"x","statistics":{"sample_count":2,"sum":100,"min":1,"max":4}}"#).contains("between"));
    }

    #[test]
    fn unit_resolution_and_timestamp() {
        assert!(err(r#"{"name":"x","value":1,"unit":"ms"}"#).contains("`ms` is not a CloudWatch standard unit"));
        assert!(check(r#"{"name":"x","value":1,"unit":"Count/Second"}"#).is_ok());
        assert!(err(r#"{"name":"x","value":1,"storage_resolution":5}"#).contains("must be 1 or 60, got 5"));
        let (_, _, _, w) =
            check(&format!(r#"{{"name":"x","value":1,"storage_resolution":1,"timestamp":{}}}"#, NOW + 1500)).unwrap();
        assert_eq!(w, NOW + 1000);
        let old = NOW - 15 * 24 * 3600 * 1000;
        assert!(err(&format!(r#"{{"name":"x","value":1,"timestamp":{old}}}"#)).contains("14 days"));
        let future = NOW + 3 * 3600 * 1000;
        assert!(err(&format!(r#"{{"name":"x","value":1,"timestamp":{future}}}"#)).contains("2 hours"));
        assert!(err(r#"{"name":"x","value":1,"timestamp":"yesterday"}"#).contains("RFC 3339"));
        let rfc = OffsetDateTime::from_unix_timestamp(NOW / 1000).unwrap().to_offset(time::macros::offset!(+2));
        let text = rfc.format(&Rfc3339).unwrap();
        let (_, _, _, w) = check(&format!(r#"{{"name":"x","value":1,"timestamp":"{text}"}}"#)).unwrap();
        assert_eq!(w, NOW - NOW % 60_000);
    }
}
