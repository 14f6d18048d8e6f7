use super::*;

fn emf(text: &str) -> Document<'_> {
    match parse(text.as_bytes()) {
        Ok(Parsed::Emf(d)) => d,
        other => panic!("not EMF: {other:?}"),
    }
}

fn rejected(text: &str) -> LineReject {
    parse(text.as_bytes()).unwrap_err().reason
}

fn dims(d: &Datum<'_>) -> Vec<(String, String)> {
    d.dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn reasons(d: &Document<'_>) -> Vec<Warning> {
    d.warnings.iter().map(|(w, _)| *w).collect()
}

const DIRECTIVE: &str = r#""_aws":{"Timestamp":1700000000123,"CloudWatchMetrics":[{"Namespace":"Shop","#;

#[test]
fn a_document_of_the_official_clients() {
    let text = r#"{"_aws":{"Timestamp":1700000000123,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["Service","Op"]],"Metrics":[{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"Service":"cart","Op":"add","Latency":12.5,"RequestId":"x"}"#;
    let d = emf(text);
    assert!(d.warnings.is_empty());
    assert_eq!(d.datums.len(), 1);
    let datum = &d.datums[0];
    assert_eq!(datum.namespace.as_deref(), Some("Shop"));
    assert_eq!(datum.name, "Latency");
    assert_eq!(datum.unit.as_deref(), Some("Milliseconds"));
    assert_eq!(datum.storage_resolution, Some(1));
    assert_eq!(datum.timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(datum.values, Values::One(12.5));
    assert_eq!(dims(datum), vec![("Service".into(), "cart".into()), ("Op".into(), "add".into())]);
    // Borrowed from the document.
    assert!(matches!(datum.name, Cow::Borrowed(_)) && matches!(datum.dimensions[0].1, Cow::Borrowed(_)));
}

#[test]
fn each_dimension_set_gives_its_own_datum() {
    let text = format!(
        r#"{{{DIRECTIVE}"Dimensions":[["Service"],["Service","Op"],[]],"Metrics":[{{"Name":"Hits"}},{{"Name":"Errors"}}]}}]}},"Service":"cart","Op":"add","Hits":1,"Errors":0}}"#
    );
    let d = emf(&text);
    let got: Vec<(String, usize)> = d.datums.iter().map(|d| (d.name.to_string(), d.dimensions.len())).collect();
    let expected = [("Hits", 1), ("Hits", 2), ("Hits", 0), ("Errors", 1), ("Errors", 2), ("Errors", 0)];
    assert_eq!(got, expected.map(|(n, k)| (n.to_string(), k)).to_vec());
    // No dimensions at all, or an empty list: dimensionless.
    let text = r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Metrics":[{"Name":"M"}]},{"Namespace":"O","Dimensions":[],"Metrics":[{"Name":"M"}]}]},"M":3}"#;
    let d = emf(text);
    assert_eq!(d.datums.len(), 2);
    assert!(d.datums.iter().all(|d| d.dimensions.is_empty() && d.timestamp_ms.is_none()));
    assert_eq!(d.datums[1].namespace.as_deref(), Some("O"));
}

#[test]
fn values_arrays_and_value_objects() {
    let text = format!(
        r#"{{{DIRECTIVE}"Metrics":[{{"Name":"A"}},{{"Name":"B"}},{{"Name":"C"}},{{"Name":"D"}}]}}]}},"A":[1,2,3],"B":{{"Max":9,"Min":1,"Count":3,"Sum":12}},"C":{{"Values":[1.5,2.5],"Counts":[2,1]}},"D":{{"Values":[4]}}}}"#
    );
    let values: Vec<Values> = emf(&text).datums.into_iter().map(|d| d.values).collect();
    assert_eq!(
        values,
        vec![
            Values::Many(vec![1.0, 2.0, 3.0]),
            Values::Statistics { max: 9.0, min: 1.0, count: 3.0, sum: 12.0 },
            Values::Weighted { values: vec![1.5, 2.5], counts: vec![2.0, 1.0] },
            Values::Weighted { values: vec![4.0], counts: vec![1.0] },
        ]
    );
}

#[test]
fn json_that_is_not_emf_is_ignored() {
    for text in [
        r#"{"level":"info","msg":"hello"}"#,
        r#"{"_aws":{"Timestamp":1}}"#,
        r#"{"_aws":"something else"}"#,
        r#"[1,2,3]"#,
        r#""text""#,
    ] {
        assert_eq!(parse(text.as_bytes()), Ok(Parsed::NotEmf), "{text}");
    }
}

#[test]
fn whole_document_rejections() {
    assert_eq!(rejected("{not json"), LineReject::InvalidJson);
    assert_eq!(rejected(r#"{"a":1"#), LineReject::InvalidJson);
    let metrics: Vec<String> = (0..101).map(|i| format!(r#"{{"Name":"m{i}"}}"#)).collect();
    let text = format!(r#"{{{DIRECTIVE}"Metrics":[{}]}}]}}}}"#, metrics.join(","));
    assert_eq!(rejected(&text), LineReject::TooManyMetrics);
    let keys: Vec<String> = (0..31).map(|i| format!(r#""d{i}""#)).collect();
    let text = format!(r#"{{{DIRECTIVE}"Dimensions":[[{}]],"Metrics":[]}}]}}}}"#, keys.join(","));
    assert_eq!(rejected(&text), LineReject::TooManyDimensions);
    let values: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let text = format!(r#"{{{DIRECTIVE}"Metrics":[{{"Name":"M"}}]}}]}},"M":[{}]}}"#, values.join(","));
    assert_eq!(rejected(&text), LineReject::TooManyValues);
    let text = format!(r#"{{{DIRECTIVE}"Metrics":[{{"Name":"M"}}]}}]}},"M":{{"Values":[{}]}}}}"#, values.join(","));
    assert_eq!(rejected(&text), LineReject::TooManyValues);
    // At the limits: fine.
    let text = format!(r#"{{{DIRECTIVE}"Metrics":[{{"Name":"M"}}]}}]}},"M":[{}]}}"#, values[..100].join(","));
    assert_eq!(emf(&text).datums.len(), 1);
    // A `_aws` not shaped as the schema says.
    assert_eq!(rejected(r#"{"_aws":{"CloudWatchMetrics":{}}}"#), LineReject::Malformed);
    assert_eq!(rejected(r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":3}]}}"#), LineReject::Malformed);
    assert_eq!(rejected(r#"{"_aws":{"CloudWatchMetrics":[],"Timestamp":"now"}}"#), LineReject::Timestamp);
}

#[test]
fn a_bad_metric_is_skipped_and_the_rest_published() {
    let text = format!(
        r#"{{{DIRECTIVE}"Metrics":[{{"Name":"Gone"}},{{"Name":"Text"}},{{"Name":"Ok","Unit":"Parsecs"}},{{"Name":"Ok","StorageResolution":5}},{{"Name":"Half"}},{{"Name":"Mixed"}},{{"Unit":"Count"}},{{"Name":"Ok"}}]}}]}},"Text":"12","Ok":1,"Half":{{"Max":1}},"Mixed":[1,"2"]}}"#
    );
    let d = emf(&text);
    assert_eq!(d.datums.iter().map(|d| d.name.as_ref()).collect::<Vec<_>>(), vec!["Ok"]);
    assert_eq!(
        reasons(&d),
        vec![
            Warning::MetricMissing,
            Warning::MetricNotNumeric,
            Warning::Unit,
            Warning::StorageResolution,
            Warning::StatisticSet,
            Warning::MetricNotNumeric,
            Warning::MetricName,
        ]
    );
}

#[test]
fn malformed_values_skip_their_metric() {
    for (value, warning) in [
        ("[]", Warning::MetricNotNumeric),
        ("null", Warning::MetricNotNumeric),
        ("true", Warning::MetricNotNumeric),
        (r#"{"Values":[1,2],"Counts":[1]}"#, Warning::MetricNotNumeric),
        (r#"{"Values":"1"}"#, Warning::MetricNotNumeric),
        (r#"{"Other":1}"#, Warning::MetricNotNumeric),
        (r#"{"Max":1,"Min":1,"Count":"1","Sum":1}"#, Warning::StatisticSet),
        (r#"{"Max":1,"Min":1,"Sum":1}"#, Warning::StatisticSet),
    ] {
        let text = format!(r#"{{{DIRECTIVE}"Metrics":[{{"Name":"M"}},{{"Name":"Ok"}}]}}]}},"M":{value},"Ok":1}}"#);
        let d = emf(&text);
        assert_eq!(reasons(&d), vec![warning], "{value}");
        assert_eq!(d.datums.iter().map(|d| d.name.as_ref()).collect::<Vec<_>>(), vec!["Ok"], "{value}");
    }
    // Resolutions and units as CloudWatch has them, null as absent.
    let text = format!(
        r#"{{{DIRECTIVE}"Metrics":[{{"Name":"A","StorageResolution":60,"Unit":"Count/Second"}},{{"Name":"B","StorageResolution":null,"Unit":null}},{{"Name":"C","StorageResolution":"1"}},{{"Name":"D","Unit":3}}]}}]}},"A":1,"B":1,"C":1,"D":1}}"#
    );
    let d = emf(&text);
    assert_eq!(reasons(&d), vec![Warning::StorageResolution, Warning::Unit]);
    assert_eq!((d.datums[0].storage_resolution, d.datums[0].unit.as_deref()), (Some(60), Some("Count/Second")));
    assert_eq!((d.datums[1].storage_resolution, d.datums[1].unit.as_deref()), (None, None));
}

#[test]
fn a_dimension_set_with_a_bad_member_is_dropped() {
    let text = format!(
        r#"{{{DIRECTIVE}"Dimensions":[["Service"],["Nope"],["Count"],["Empty"]],"Metrics":[{{"Name":"M"}}]}}]}},"Service":"cart","Count":3,"Empty":"","M":1}}"#
    );
    let d = emf(&text);
    assert_eq!(d.datums.len(), 1);
    assert_eq!(dims(&d.datums[0]), vec![("Service".into(), "cart".into())]);
    assert_eq!(reasons(&d), vec![Warning::DimensionMissing, Warning::DimensionNotString, Warning::DimensionEmpty]);
    // Its only set dropped: the metric publishes without dimensions.
    let text = format!(r#"{{{DIRECTIVE}"Dimensions":[["Nope"]],"Metrics":[{{"Name":"M"}}]}}]}},"M":1}}"#);
    let d = emf(&text);
    assert_eq!(d.datums.len(), 1);
    assert!(d.datums[0].dimensions.is_empty());
}

#[test]
fn escapes_and_the_timestamp() {
    let text = r#"{"_aws":{"Timestamp":1700000000123.9,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["k\u00e9y"]],"Metrics":[{"Name":"a\"b"}]}]},"a\"b":2,"k\u00e9y":"v\n"}"#;
    let d = emf(text);
    assert_eq!(d.datums[0].name, "a\"b");
    assert_eq!(dims(&d.datums[0]), vec![("kéy".into(), "v\n".into())]);
    assert_eq!(d.datums[0].timestamp_ms, Some(1_700_000_000_123));
}

/// A document of `directives` directives, each with `sets` dimension sets (each naming one of
/// the document's members) and `metrics` metrics.
fn wide(directives: usize, sets: usize, metrics: usize) -> String {
    let set_list = (0..sets).map(|i| format!("[\"D{}\"]", i % 500)).collect::<Vec<_>>().join(",");
    let metric_list = (0..metrics).map(|i| format!("{{\"Name\":\"M{i}\"}}")).collect::<Vec<_>>().join(",");
    let directive = format!("{{\"Namespace\":\"N\",\"Dimensions\":[{set_list}],\"Metrics\":[{metric_list}]}}");
    let directives = vec![directive; directives].join(",");
    let members = (0..sets.min(500)).map(|i| format!("\"D{i}\":\"v\"")).collect::<Vec<_>>().join(",");
    let values = (0..metrics).map(|i| format!("\"M{i}\":1")).collect::<Vec<_>>().join(",");
    format!("{{\"_aws\":{{\"CloudWatchMetrics\":[{directives}]}},{members},{values}}}")
}

/// Issue 25, finding 4: one 15 KB line with 435 (or 829) dimension sets × 100 metrics gave
/// 43,500 (82,900) datums, and two such lines filled the 100,000-datum buffer.
#[test]
fn a_directive_with_hundreds_of_dimension_sets_is_rejected() {
    for sets in [435, 829] {
        let text = wide(1, sets, 100);
        assert!(text.len() < 16_000, "a line of the issue's size: {}", text.len());
        let e = parse(text.as_bytes()).unwrap_err();
        assert_eq!(e.reason, LineReject::TooManyDimensionSets, "{sets}");
        assert!(e.message.contains(&format!("{sets} dimension sets, at most 30")), "{}", e.message);
        assert!(e.message.contains("emf.max_dimension_sets"), "{}", e.message);
    }
    // At the bounds: 30 sets × 100 metrics is 3,000 datums, taken.
    assert_eq!(emf(&wide(1, 30, 100)).datums.len(), 3000);
    assert_eq!(rejected(&wide(1, 31, 1)), LineReject::TooManyDimensionSets);
}

#[test]
fn a_document_over_its_datums_is_rejected_whatever_its_directives() {
    // Two directives at the bounds: 6,000 datums.
    let e = parse(wide(2, 30, 100).as_bytes()).unwrap_err();
    assert_eq!(e.reason, LineReject::TooManyDatums);
    assert!(e.message.contains("3000 datums") && e.message.contains("emf.max_datums_per_document"), "{}", e.message);
    // Configured bounds.
    let limits = Limits { max_dimension_sets: 5, max_datums: 40 };
    assert!(matches!(parse_with(wide(1, 5, 8).as_bytes(), &limits), Ok(Parsed::Emf(d)) if d.datums.len() == 40));
    let e = parse_with(wide(1, 5, 9).as_bytes(), &limits).unwrap_err();
    assert_eq!(e.reason, LineReject::TooManyDatums);
    let e = parse_with(wide(1, 6, 1).as_bytes(), &limits).unwrap_err();
    assert_eq!(e.reason, LineReject::TooManyDimensionSets);
}
