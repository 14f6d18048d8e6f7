use std::borrow::Cow;

use super::parse::{Kind, parse, parse_value};

const TEXT_004: &str = r#"# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="GET",path="/a",status="200"} 3
http_requests_total{method="POST",path="/a",status="500"} 1 1700000000123
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 1
latency_seconds_bucket{le="1"} 3
latency_seconds_bucket{le="+Inf"} 4
latency_seconds_sum 5.5
latency_seconds_count 4
# TYPE rpc summary
rpc{quantile="0.5"} 0.2
rpc_sum 10
rpc_count 7
no_type_at_all 42
"#;

#[test]
fn text_0_0_4_families_types_and_samples() {
    let e = parse(TEXT_004, false);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    let names: Vec<(&str, Kind, usize)> = e.families.iter().map(|f| (f.name, f.kind, f.samples.len())).collect();
    assert_eq!(
        names,
        [
            ("http_requests_total", Kind::Counter, 2),
            ("latency_seconds", Kind::Histogram, 5),
            ("rpc", Kind::Summary, 3),
            ("no_type_at_all", Kind::Untyped, 1),
        ]
    );
    let s = &e.families[0].samples[1];
    assert_eq!(s.label("status"), Some("500"));
    assert_eq!((s.value, s.timestamp_ms), (1.0, Some(1_700_000_000_123)));
    assert_eq!(e.families[1].samples[2].label("le"), Some("+Inf"));
    assert!(!e.families[3].typed);
    assert!(!e.eof);
}

#[test]
fn openmetrics_units_created_exemplars_timestamps_and_eof() {
    let text = "# TYPE http_requests counter\n# UNIT http_requests \n# HELP http_requests Requests.\n\
                http_requests_total{path=\"/\"} 5 # {trace_id=\"abc\"} 1 1700000000.5\n\
                http_requests_created{path=\"/\"} 1700000000.25\n\
                # TYPE d_seconds histogram\n# UNIT d_seconds seconds\n\
                d_seconds_bucket{le=\"1.0\"} 2 1700000001.5\nd_seconds_bucket{le=\"+Inf\"} 2\nd_seconds_sum 1.0\n\
                d_seconds_count 2\nd_seconds_created 1700000000\n# EOF\n";
    let e = parse(text, true);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert!(e.eof);
    let c = &e.families[0];
    assert_eq!((c.name, c.kind, c.unit), ("http_requests", Kind::Counter, None));
    assert_eq!(c.samples[0].name, "http_requests_total");
    assert_eq!(c.samples[0].value, 5.0, "the exemplar is not the value");
    assert_eq!(c.samples[1].suffix(c.name), "_created");
    let h = &e.families[1];
    assert_eq!(h.unit, Some("seconds"));
    assert_eq!(h.samples[0].timestamp_ms, Some(1_700_000_001_500), "OpenMetrics timestamps are seconds");
    assert_eq!(h.samples.len(), 5);
}

/// Issue 25, finding 11: text after `# EOF` was skipped and the scrape counted a success; it
/// makes the exposition invalid (the scraper fails the scrape on `after_eof`).
#[test]
fn text_after_eof_is_an_error_and_eof_means_nothing_in_0_0_4() {
    let e = parse("a 1\n# EOF\nb 2\nc 3\n", true);
    assert!(e.eof);
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].line, 3);
    assert_eq!(e.after_eof, Some(3));
    assert_eq!(e.samples(), 1);
    let e = parse("a 1\n# EOF\n", true);
    assert_eq!((e.eof, e.after_eof), (true, None), "one final newline is no text");
    let e = parse("a 1\n# EOF\nb 2\n", false);
    assert!(!e.eof && e.errors.is_empty() && e.after_eof.is_none());
    assert_eq!(e.samples(), 2);
}

/// Issue 25, finding 9: what one scrape holds is bounded: parsing stops at the limit.
#[test]
fn parsing_stops_at_the_sample_limit() {
    let text: String = (0..300_000).map(|i| format!("s{{id=\"{i}\"}} 1\n")).collect();
    let e = super::parse::parse_limited(&text, false, 100_000);
    assert!(e.too_many_samples);
    assert_eq!(e.samples(), 100_000);
    let e = super::parse::parse_limited(&text, false, 300_000);
    assert!(!e.too_many_samples);
    assert_eq!(e.samples(), 300_000);
}

#[test]
fn label_values_take_escapes_and_any_text() {
    let e = parse(r#"m{a="x\"y",b="back\\slash",c="new\nline",d="{},= #"} 1"#, false);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    let s = &e.families[0].samples[0];
    assert_eq!(s.labels[0], ("a", Cow::Owned("x\"y".to_string())));
    assert_eq!(s.label("b"), Some("back\\slash"));
    assert_eq!(s.label("c"), Some("new\nline"));
    assert_eq!(s.label("d"), Some("{},= #"));
    assert!(matches!(s.labels[3].1, Cow::Borrowed(_)), "no escape, no copy");
    // A trailing comma and blanks are allowed, as Prometheus allows them.
    let e = parse("m{ a = \"1\" , } 2\r\n", false);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(e.families[0].samples[0].label("a"), Some("1"));
}

#[test]
fn garbage_lines_are_errors_of_their_own_and_the_rest_is_kept() {
    let text = "good 1\n<html>\nm{a=\"unterminated} 1\nm{a=\"\\x\"} 1\nm{1a=\"v\"} 1\nm{a=\"v\",a=\"w\"} 1\n\
                m{a=\"v\"}\nm 1 2 3\nm one\nm 1 notatime\n# TYPE t nonsense\nalso_good -2.5e3\n";
    let e = parse(text, false);
    let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, (2..=11).collect::<Vec<_>>(), "{:?}", e.errors);
    let kept: Vec<(&str, f64)> = e.families.iter().flat_map(|f| f.samples.iter().map(|s| (s.name, s.value))).collect();
    assert_eq!(kept, [("good", 1.0), ("also_good", -2500.0)]);
    assert!(e.errors[4].message.contains("twice"), "{}", e.errors[4].message);
}

#[test]
fn duplicate_and_missing_type() {
    // A second TYPE for a family is an error; its samples stay with the first.
    let e = parse("# TYPE c counter\nc 1\n# TYPE c gauge\nc 2\n", false);
    assert_eq!(e.errors.len(), 1);
    assert_eq!((e.families.len(), e.families[0].kind, e.families[0].samples.len()), (1, Kind::Counter, 2));
    // Without TYPE, every name is an untyped family of its own, `_bucket` and `_sum` included.
    let e = parse("h_bucket{le=\"1\"} 1\nh_sum 2\n", false);
    let kinds: Vec<(&str, Kind)> = e.families.iter().map(|f| (f.name, f.kind)).collect();
    assert_eq!(kinds, [("h_bucket", Kind::Untyped), ("h_sum", Kind::Untyped)]);
    // A sample of another family ends the current one; coming back to it later joins it again.
    let e = parse("# TYPE a gauge\na 1\nb 2\na 3\n", false);
    assert_eq!(e.families[0].samples.len(), 2);
}

#[test]
fn nan_and_infinities_are_values_and_nothing_else_is() {
    let e = parse("a NaN\nb +Inf\nc -Inf\nd Inf\ne 1e-3\n", false);
    let v: Vec<f64> = e.families.iter().map(|f| f.samples[0].value).collect();
    assert!(v[0].is_nan());
    assert_eq!(&v[1..], &[f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, 0.001]);
    for bad in ["x inf", "x nan", "x infinity", "x 0x10", "x 1_000", "x ", "x +"] {
        assert_eq!(parse(bad, false).errors.len(), 1, "{bad}");
    }
    assert_eq!(parse_value("-0"), Some(-0.0));
}

#[test]
fn openmetrics_info_and_stateset_and_unknown_are_recognised() {
    let e = parse("# TYPE b info\nb_info{v=\"1\"} 1\n# TYPE u unknown\nu 3\n# EOF\n", true);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!((e.families[0].kind, e.families[1].kind), (Kind::Other, Kind::Untyped));
}

#[test]
fn overlong_lines_and_unknown_comments() {
    let long = format!("m{{a=\"{}\"}} 1\n# just a comment\n#no space\nok 1\n", "x".repeat(super::parse::MAX_LINE));
    let e = parse(&long, false);
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.samples(), 1);
}
