use super::*;

fn metric(line: &str) -> Metric<'_> {
    match parse(line) {
        Ok(Line::Metric(m)) => m,
        other => panic!("{line}: {other:?}"),
    }
}

fn reason(line: &str) -> LineReject {
    parse(line).unwrap_err().reason
}

fn tags<'a>(m: &'a Metric<'_>) -> Vec<(&'a str, &'a str)> {
    m.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect()
}

fn numbers(m: &Metric<'_>) -> Vec<f64> {
    m.samples
        .iter()
        .map(|s| match s {
            Sample::Number(v) | Sample::Delta(v) => *v,
            Sample::Member(_) => panic!("member"),
        })
        .collect()
}

#[test]
fn every_type_and_its_default_unit() {
    for (t, kind, unit) in [
        ("c", Kind::Counter, Some("Count")),
        ("g", Kind::Gauge, None),
        ("ms", Kind::Timer, Some("Milliseconds")),
        ("h", Kind::Histogram, None),
        ("d", Kind::Distribution, None),
        ("s", Kind::Set, None),
    ] {
        let line = format!("x:1|{t}");
        let m = metric(&line);
        assert_eq!(m.kind, kind);
        assert_eq!(m.kind.default_unit(), unit);
        assert_eq!(m.name, "x");
        assert_eq!(m.rate, 1.0);
    }
}

#[test]
fn unknown_types_and_missing_parts_are_rejected() {
    assert_eq!(reason("x:1|q"), LineReject::UnknownType);
    assert_eq!(reason("x:1|"), LineReject::UnknownType);
    assert_eq!(reason("x:1|C"), LineReject::UnknownType);
    assert_eq!(reason("x:1"), LineReject::Malformed);
    assert_eq!(reason("x|c"), LineReject::Malformed);
    assert_eq!(reason(":1|c"), LineReject::Name);
    assert_eq!(parse_bytes(b"x:\xff|c").unwrap_err().reason, LineReject::Malformed);
}

#[test]
fn fields_after_the_type_come_in_any_order() {
    let a = metric("x:1|c|@0.5|#a:1|T1700000000");
    let b = metric("x:1|c|T1700000000|#a:1|@0.5");
    let c = metric("x:1|c|#a:1|c:abc123|@0.5|T1700000000|zz:unknown");
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.rate, 0.5);
    assert_eq!(a.timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(tags(&a), vec![("a", "1")]);
}

#[test]
fn sample_rates_in_floating_point() {
    assert_eq!(metric("x:1|c|@0.3").rate, 0.3);
    let zero = metric("x:1|c|@0");
    assert_eq!((zero.rate, zero.rate_clamped), (1.0, false));
    let above = metric("x:1|c|@2");
    assert_eq!((above.rate, above.rate_clamped), (1.0, true));
    assert_eq!(reason("x:1|c|@-0.5"), LineReject::SampleRate);
    assert_eq!(reason("x:1|c|@abc"), LineReject::SampleRate);
    assert_eq!(reason("x:1|c|@"), LineReject::SampleRate);
    assert_eq!(reason("x:1|c|@NaN"), LineReject::SampleRate);
    assert_eq!(metric("x:1|ms|@1e-1").rate, 0.1);
}

#[test]
fn gauge_deltas_and_plain_values() {
    let m = metric("g:+4|g");
    assert_eq!(m.samples.to_vec(), vec![Sample::Delta(4.0)]);
    let m = metric("g:-10|g");
    assert_eq!(m.samples.to_vec(), vec![Sample::Delta(-10.0)]);
    let m = metric("g:333|g");
    assert_eq!(m.samples.to_vec(), vec![Sample::Number(333.0)]);
    // Not a gauge: a sign is just a sign.
    assert_eq!(metric("c:-3|c").samples.to_vec(), vec![Sample::Number(-3.0)]);
}

#[test]
fn packed_values_are_several_samples() {
    assert_eq!(numbers(&metric("t:1:2:3|ms")), vec![1.0, 2.0, 3.0]);
    assert_eq!(numbers(&metric("c:1:2|c|@0.5")), vec![1.0, 2.0]);
    assert_eq!(reason("t:1::3|ms"), LineReject::Value);
}

#[test]
fn values_must_be_finite_and_timers_not_negative() {
    for bad in ["x:abc|c", "x:|c", "x:inf|g", "x:NaN|ms", "x:-1|ms", "x:-0.5|h", "x:-2|d", "x:1e400|c"] {
        assert_eq!(reason(bad), LineReject::Value, "{bad}");
    }
    assert_eq!(numbers(&metric("x:1.5e3|ms")), vec![1500.0]);
}

#[test]
fn set_members_are_verbatim_and_may_hold_colons() {
    assert_eq!(metric("users:alice|s").samples.to_vec(), vec![Sample::Member("alice")]);
    assert_eq!(metric("conns:10.0.0.1:443|s|@0.5").samples.to_vec(), vec![Sample::Member("10.0.0.1:443")]);
    assert_eq!(reason("users:|s"), LineReject::Value);
}

#[test]
fn tags_become_dimensions() {
    let m = metric("x:1|c|#env:prod,region:eu:west-1,canary");
    assert_eq!(tags(&m), vec![("env", "prod"), ("region", "eu:west-1"), ("canary", EMPTY_TAG_VALUE)]);
    // The last duplicate wins, in place.
    let m = metric("x:1|c|#env:prod,az:a,env:dev");
    assert_eq!(tags(&m), vec![("env", "dev"), ("az", "a")]);
    // `#` alone: no tags; empty entries skipped; an empty value becomes `<empty>`.
    assert!(metric("x:1|c|#").tags.is_empty());
    assert_eq!(tags(&metric("x:1|c|#a:1,,b:")), vec![("a", "1"), ("b", EMPTY_TAG_VALUE)]);
    // Two tag fields add up.
    assert_eq!(tags(&metric("x:1|c|#a:1|#b:2")), vec![("a", "1"), ("b", "2")]);
    let many = format!("x:1|c|#{}", (0..300).map(|i| format!("t{i}:v")).collect::<Vec<_>>().join(","));
    assert_eq!(reason(&many), LineReject::Malformed);
}

#[test]
fn influx_style_tags_in_the_name() {
    let m = metric("requests,service=api,code=200:1|c|#env:prod,code=ignored");
    assert_eq!(m.name, "requests");
    assert_eq!(tags(&m), vec![("service", "api"), ("code", "200"), ("env", "prod"), ("code=ignored", EMPTY_TAG_VALUE)]);
    let m = metric("requests,code=200:1|c|#code:500");
    assert_eq!(tags(&m), vec![("code", "500")]);
    assert_eq!(reason("requests,bad:1|c"), LineReject::Malformed);
}

#[test]
fn timestamps_are_unix_seconds() {
    assert_eq!(metric("x:1|g|T1700000000").timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(reason("x:1|g|Tsoon"), LineReject::Timestamp);
    assert_eq!(reason("x:1|g|T"), LineReject::Timestamp);
    assert_eq!(reason("x:1|g|T99999999999999999"), LineReject::Timestamp);
}

#[test]
fn events_and_service_checks_are_ignored() {
    assert_eq!(parse("_e{5,4}:title|text|#a:b"), Ok(Line::Ignored));
    assert_eq!(parse("_sc|my.check|0|#a:b"), Ok(Line::Ignored));
}

#[test]
fn names_are_verbatim() {
    assert_eq!(metric("api.requests-total/Ok:1|c").name, "api.requests-total/Ok");
    assert_eq!(metric("ünïcode:1|c").name, "ünïcode");
}

#[test]
fn lines_split_on_newlines_tolerating_crlf_and_blanks() {
    let got: Vec<&[u8]> = lines(b"a:1|c\r\n\n\r\nb:2|c\nc:3|c").collect();
    assert_eq!(got, vec![&b"a:1|c"[..], b"b:2|c", b"c:3|c"]);
    assert_eq!(lines(b"").count(), 0);
    assert_eq!(lines(b"\n\n").count(), 0);
}

#[test]
fn borrows_from_the_line() {
    let text = String::from("x,k=v:1|c|#a:b");
    let m = metric(&text);
    assert!(matches!(m.tags[0].0, Cow::Borrowed(_)));
    assert!(matches!(m.tags[1].1, Cow::Borrowed(_)));
}
