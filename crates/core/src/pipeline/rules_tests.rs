//! CloudWatch's rules as a client of `POST /v1/metrics` meets them: JSON records through
//! the wire format and the pipeline's validation, each answer naming the field and the rule.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::dimensions::DefaultDimensions;
use crate::domain::payload::Measured;
use crate::ingest::json::{Dimensions, parse_record};
use crate::pipeline::candidate::Context;
use crate::pipeline::validate::{Defaults, validate};
use crate::reasons::RejectReason;

const NOW: i64 = 1_800_000_000_000;

/// Namespace, merged dimensions, payload and window start of a valid record.
type Checked = (String, Vec<(String, String)>, Measured, i64);

fn check(json: &str) -> Result<Checked, String> {
    check_with(json, None, &BTreeMap::from([("Host".to_string(), "h1".to_string())]))
}

fn check_with(
    json: &str,
    envelope: Option<&Dimensions<'_>>,
    defaults: &BTreeMap<String, String>,
) -> Result<Checked, String> {
    let mut candidate = parse_record(json.as_bytes())?;
    let envelope = envelope.cloned().map(|d| d.0).unwrap_or_default();
    let context = Context { namespace: None, dimensions: &envelope };
    let defaults = Defaults {
        namespace: Some("App".to_string()),
        dimensions: DefaultDimensions::new(defaults).map_err(|e| e.message)?,
    };
    let s = validate(&mut candidate, &context, &defaults, NOW).map_err(|e| e.message)?;
    let d = s.dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Ok((s.namespace.as_str().to_string(), d, s.payload.measured().clone(), s.window_start_ms()))
}

fn err(json: &str) -> String {
    check(json).expect_err(json)
}

#[test]
fn a_plain_record_takes_the_defaults() {
    let (ns, dims, payload, window) = check(r#"{"name":"Latency","value":12.5}"#).unwrap();
    assert_eq!(ns, "App");
    assert_eq!(dims, vec![("Host".into(), "h1".into())]);
    assert_eq!(payload, Measured::Single(12.5));
    assert_eq!(window, NOW - NOW % 60_000);
}

#[test]
fn own_dimensions_beat_envelope_and_defaults_and_come_out_sorted() {
    let env = Dimensions(parse_record(br#"{"dimensions":{"Service":"env","Zone":"a"}}"#).unwrap().dimensions);
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
    let mut candidate = parse_record(br#"{"name":"x","value":1}"#).unwrap();
    let e = validate(&mut candidate, &Context::default(), &Defaults::default(), NOW).unwrap_err();
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
    assert!(matches!(check(ok).unwrap().2, Measured::Statistics(s) if s.sum == 10.0));
    assert!(err(r#"{"name":"x","statistics":{"sample_count":0,"sum":0,"min":0,"max":0}}"#).contains("greater than 0"));
    assert!(err(r#"{"name":"x","statistics":{"sample_count":1,"sum":1,"min":2,"max":1}}"#).contains("must not exceed"));
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
