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
    assert_eq!(numbers(&metric("t:1::3|ms")), vec![1.0, 3.0]);
}

/// Issue 25, finding 11: DogStatsD's reference parser skips an empty item of a packed list
/// (`21::22`); we published nothing for these lines.
#[test]
fn an_empty_item_of_a_packed_list_is_skipped_as_dogstatsd_does() {
    assert_eq!(numbers(&metric("name:1.5::41|h")), vec![1.5, 41.0]);
    assert_eq!(numbers(&metric("name:1.5:41:|h")), vec![1.5, 41.0]);
    assert_eq!(numbers(&metric("name::1.5:41|h")), vec![1.5, 41.0]);
    assert_eq!(numbers(&metric("c:1:::2|c|#a:b")), vec![1.0, 2.0]);
    // Nothing but empty items is still no value (DogStatsD: "no value found").
    for bad in ["name:|h", "name::|h", "name:::|c", "name:1.5:x:|h"] {
        assert_eq!(reason(bad), LineReject::Value, "{bad}");
    }
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

#[test]
fn usual_numbers_read_without_the_parser_are_what_the_parser_reads() {
    let mut texts: Vec<String> = [
        "0",
        "-0",
        "+0",
        "1",
        "+5",
        "-5",
        "5.",
        ".5",
        "-.5",
        "0.1",
        "0.3",
        "123.456",
        "9007199254740992",
        "9007199254740993",
        "18446744073709551616",
        "0.0000000000000000000001",
        "0.00000000000000000000001",
        "1.7976931348623157",
        "4503599627370497.5",
        "1e3",
        "1E3",
        "inf",
        "NaN",
        "-",
        "+",
        ".",
        "",
        "1.2.3",
        "1-2",
        "--1",
        "1_000",
        " 1",
        "0x10",
    ]
    .map(String::from)
    .to_vec();
    // Digits with a point anywhere, up to 25 digits.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 1 + (x % 25) as usize;
        let mut t: String = (0..len).map(|i| char::from(b'0' + ((x >> (i % 60)) % 10) as u8)).collect();
        if !x.is_multiple_of(3) {
            t.insert((x >> 32) as usize % (len + 1), '.');
        }
        if x.is_multiple_of(5) {
            t.insert(0, '-');
        }
        texts.push(t);
    }
    let mut fast = 0;
    for t in &texts {
        match decimal(t) {
            Some(v) => {
                fast += 1;
                assert_eq!(Ok(v.to_bits()), t.parse::<f64>().map(f64::to_bits), "{t}");
            }
            None => assert!(
                t.parse::<f64>().is_err()
                    || t.chars().filter(char::is_ascii_digit).count() > 15
                    || t.contains(['e', 'E', 'n', 'N', 'i']),
                "{t} is usual but was left to the parser"
            ),
        }
    }
    assert!(fast > 10_000, "{fast}");
    assert_eq!(decimal("9007199254740993"), None, "past 2^53: the parser's");
}

#[test]
fn one_pass_splitting_agrees_with_splitting_field_by_field() {
    // What the line's parts were when each was split out separately.
    type Parts = (String, Vec<(String, String)>, String);
    fn reference(line: &str) -> Result<Parts, LineReject> {
        let (head, rest) = line.split_once('|').ok_or(LineReject::Malformed)?;
        let (name_part, _) = head.split_once(':').ok_or(LineReject::Malformed)?;
        let mut tags = Vec::new();
        let name = match name_part.split_once(',') {
            None => name_part,
            Some((name, influx)) => {
                for pair in influx.split(',') {
                    let (k, v) = pair.split_once('=').ok_or(LineReject::Malformed)?;
                    tags.push((k.to_string(), v.to_string()));
                }
                name
            }
        };
        for field in rest.split('|').skip(1) {
            if let Some(t) = field.strip_prefix('#') {
                for tag in t.split(',').filter(|t| !t.is_empty()) {
                    let (k, v) = tag.split_once(':').unwrap_or((tag, ""));
                    tags.push((k.to_string(), v.to_string()));
                }
            }
        }
        Ok((name.to_string(), tags, rest.split('|').next().unwrap_or("").to_string()))
    }
    let alphabet = [b'a', b'b', b':', b',', b'|', b'=', b'#', b'1'];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut compared = 0;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 3 + (x % 14) as usize;
        let body: String = (0..len).map(|i| char::from(alphabet[((x >> (3 * (i % 20))) % 8) as usize])).collect();
        // A valid counter value and type most of the time, so the tags are reached.
        let line = if !x.is_multiple_of(4) { body.replacen('|', ":1|c|", 1) } else { body };
        let Ok((name, mut want, _)) = reference(&line) else {
            assert!(parse(&line).is_err(), "{line}");
            continue;
        };
        match parse(&line) {
            Ok(Line::Metric(m)) => {
                // Later duplicates replace earlier ones in place.
                let mut deduped: Vec<(String, String)> = Vec::new();
                for (k, v) in want.drain(..) {
                    let v = if v.is_empty() { EMPTY_TAG_VALUE.to_string() } else { v };
                    match deduped.iter_mut().find(|(dk, _)| *dk == k) {
                        Some(slot) => slot.1 = v,
                        None => deduped.push((k, v)),
                    }
                }
                let got: Vec<(String, String)> = tags(&m).into_iter().map(|(k, v)| (k.into(), v.into())).collect();
                assert_eq!((m.name, got), (name.as_str(), deduped), "{line}");
                compared += 1;
            }
            Ok(Line::Ignored) => {}
            // Rejected for a rule past the splitting (name, type, value): not a split error.
            Err(e) => assert!(e.reason != LineReject::Malformed || name.is_empty(), "{line}: {e:?}"),
        }
    }
    assert!(compared > 1_000, "{compared}");
}

#[test]
fn a_metric_parsed_into_again_holds_only_the_last_line() {
    let lines: [&[u8]; 6] = [
        b"a,x=1:1:2:3|ms|@0.5|#env:prod,az:a|T1700000000",
        b"b:+4|g",
        b"_e{1,1}:t|x",
        b"c:1|c|#only",
        b"bad line",
        b"users:u1|s|#k:v",
    ];
    let mut reused = Metric::empty();
    for line in lines {
        let fresh = parse_bytes(line);
        match parse_bytes_into(line, &mut reused) {
            Ok(Parsed::Metric) => assert_eq!(fresh, Ok(Line::Metric(reused.clone()))),
            Ok(Parsed::Ignored) => assert_eq!(fresh, Ok(Line::Ignored)),
            Err(e) => assert_eq!(fresh, Err(e)),
        }
    }
}
