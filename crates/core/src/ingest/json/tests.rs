use std::borrow::Cow;

use super::*;
use crate::pipeline::candidate::Candidate;

#[test]
fn an_array_splits_into_items_and_strings_borrow() {
    let body = br#"[{"name":"a","value":1,"dimensions":{"K":"v"}}, {"name":"b\u0041","value":2}]"#;
    let b = split_body(body, BodyKind::Json).unwrap();
    assert_eq!(b.items.len(), 2);
    let first = parse_record(b.items[0]).unwrap();
    assert!(matches!(first.name.unwrap(), Cow::Borrowed("a")));
    assert!(matches!(first.dimensions[0].0, Cow::Borrowed("K")));
    let second = parse_record(b.items[1]).unwrap();
    assert_eq!(second.name.unwrap(), "bA");
}

#[test]
fn an_envelope_carries_namespace_and_dimensions() {
    let body = br#"{"namespace":"App","dimensions":{"Service":"api"},"metrics":[{"name":"x","value":1}]}"#;
    let b = split_body(body, BodyKind::Json).unwrap();
    assert_eq!(b.namespace.unwrap().as_str(), "App");
    assert_eq!(b.dimensions.unwrap().0.len(), 1);
    assert_eq!(b.items.len(), 1);
}

#[test]
fn ndjson_skips_blank_lines_and_keeps_bad_lines_as_items() {
    let body = b"{\"name\":\"a\",\"value\":1}\n\nnot json\n{\"name\":\"b\",\"value\":2}\n";
    let b = split_body(body, BodyKind::NdJson).unwrap();
    assert_eq!(b.items.len(), 3);
    assert!(parse_record(b.items[1]).is_err());
    assert!(parse_record(b"{\"name\":\"\xff\",\"value\":1}").unwrap_err().contains("not UTF-8"));
}

#[test]
fn type_errors_name_the_field() {
    let err = parse_record(br#"{"name":"a","values":[1,"x"]}"#).unwrap_err();
    assert!(err.starts_with("values[1]: invalid type: string"), "{err}");
    let err = parse_record(br#"{"name":"a","value":1,"dimension":{}}"#).unwrap_err();
    assert!(err.contains("unknown field `dimension`"), "{err}");
    let err = parse_record(br#"{"name":"a","timestamp":1.5}"#).unwrap_err();
    assert!(err.starts_with("timestamp: invalid type"), "{err}");
}

#[test]
fn records_and_statistics_must_be_objects_not_positional_arrays() {
    let err = parse_record(br#"["Latency", 12]"#).unwrap_err();
    assert!(err.starts_with("invalid type: sequence, expected a record object"), "{err}");
    let err = parse_record(br#"{"name":"x","statistics":[1,1,1,1]}"#).unwrap_err();
    assert!(err.starts_with("statistics: invalid type: sequence, expected an object"), "{err}");
    let ok = parse_record(br#"{"name":"x","statistics":{"sample_count":1,"sum":1,"min":1,"max":1}}"#).unwrap();
    assert_eq!(ok.values.statistics.unwrap().sum, 1.0);
}

#[test]
fn repeated_fields_and_null_values() {
    let err = parse_record(br#"{"name":"a","name":"b","value":1}"#).unwrap_err();
    assert!(err.starts_with("duplicate field `name`"), "{err}");
    let r = parse_record(br#"{"name":"a","value":1,"unit":null,"dimensions":null}"#).unwrap();
    assert_eq!((r.unit, r.dimensions.len()), (None, 0));
    let err = parse_record(br#"{"name":"a","value":1,"dimensions":[1]}"#).unwrap_err();
    assert_eq!(err, "dimensions: invalid type: sequence, expected an object of dimension name to string value");
    let err = parse_record(br#"{"name":"a","value":1,"dimensions":{"K":2}}"#).unwrap_err();
    assert!(err.starts_with("dimensions.K: invalid type: integer `2`"), "{err}");
    let mut slot = Candidate::default();
    records_into(r#"[{"name":"a","value":1,"dimensions":{"K":"v"}},{"name":"b","value":2}]"#, |c| {
        slot = std::mem::take(c)
    })
    .unwrap();
    assert!(slot.dimensions.is_empty(), "each record starts from an empty candidate");
}

#[test]
fn whole_body_errors_say_what_was_expected() {
    assert!(split_body(b"42", BodyKind::Json).unwrap_err().contains("JSON array"));
    assert!(split_body(b"[1,", BodyKind::Json).is_err());
    assert!(split_body(b"{\"metrics\": 3}", BodyKind::Json).unwrap_err().contains("envelope"));
}
