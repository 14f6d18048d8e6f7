//! StatsD and DogStatsD lines, parsed without I/O and without copying: a line becomes a
//! [`Metric`] borrowing from the datagram, is ignored (events, service checks), or is
//! rejected with a [`LineError`] naming the rule it broke.
//!
//! `name[,k=v…]:value[:value…]|type[|@rate][|#tag,k:v][|c:container][|T<secs>]`, the fields
//! after the type in any order, unknown fields ignored.

use std::borrow::Cow;

use crate::domain::dimensions::GivenDimensions;
use crate::telemetry::reasons::LineReject;

/// The value of a bare tag (`#canary`): CloudWatch refuses empty dimension values, and
/// dropping the tag would merge series.
pub const EMPTY_TAG_VALUE: &str = "<empty>";

/// More tags than this on one line are refused before deduplicating them (CloudWatch takes 30).
const MAX_TAGS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Counter,
    Gauge,
    Timer,
    Histogram,
    Distribution,
    Set,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "c" => Kind::Counter,
            "g" => Kind::Gauge,
            "ms" => Kind::Timer,
            "h" => Kind::Histogram,
            "d" => Kind::Distribution,
            "s" => Kind::Set,
            _ => return None,
        })
    }

    /// The CloudWatch unit unless configured otherwise: timers stay in milliseconds.
    pub fn default_unit(self) -> Option<&'static str> {
        match self {
            Kind::Timer => Some("Milliseconds"),
            Kind::Counter => Some("Count"),
            _ => None,
        }
    }
}

/// One value of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample<'a> {
    Number(f64),
    /// A gauge's `+N` / `-N`: an adjustment of the last value.
    Delta(f64),
    /// A set's member, verbatim (it may contain `:`).
    Member(&'a str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric<'a> {
    pub name: &'a str,
    pub kind: Kind,
    /// In the order given; one for sets.
    pub samples: Vec<Sample<'a>>,
    /// In (0, 1]: `@0` and no rate are 1, rates above 1 are clamped to 1.
    pub rate: f64,
    /// The line gave a rate above 1 (counted as a warning).
    pub rate_clamped: bool,
    /// Influx-style tags then DogStatsD tags, each key once (the last given wins).
    pub tags: GivenDimensions<'a>,
    /// `|T<secs>`, in epoch milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// What one line is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    Metric(Box<Metric<'a>>),
    /// A DogStatsD event or service check: accepted and not published.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LineError {
    pub reason: LineReject,
    pub message: String,
}

fn fail<T>(reason: LineReject, message: impl Into<String>) -> Result<T, LineError> {
    Err(LineError { reason, message: message.into() })
}

/// The non-blank lines of a datagram or stream chunk: `\n`-separated, `\r\n` tolerated,
/// no final newline needed.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).filter(|l| !l.is_empty())
}

/// Parses one line given as bytes (not UTF-8 is malformed).
pub fn parse_bytes(line: &[u8]) -> Result<Line<'_>, LineError> {
    match std::str::from_utf8(line) {
        Ok(s) => parse(s),
        Err(_) => fail(LineReject::Malformed, "line is not UTF-8"),
    }
}

/// Parses one line, without its newline.
pub fn parse(line: &str) -> Result<Line<'_>, LineError> {
    if line.starts_with("_e{") || line.starts_with("_sc|") {
        return Ok(Line::Ignored);
    }
    let Some((head, rest)) = line.split_once('|') else {
        return fail(LineReject::Malformed, "expected `name:value|type`");
    };
    let Some((name_part, value_part)) = head.split_once(':') else {
        return fail(LineReject::Malformed, "expected `name:value` before the first `|`");
    };
    let mut fields = rest.split('|');
    let type_text = fields.next().unwrap_or("");
    let Some(kind) = Kind::parse(type_text) else {
        return fail(LineReject::UnknownType, format!("unknown type `{}`", clip(type_text)));
    };

    let mut tags = GivenDimensions::new();
    let name = match name_part.split_once(',') {
        None => name_part,
        Some((name, influx)) => {
            for pair in influx.split(',') {
                let Some((k, v)) = pair.split_once('=') else {
                    return fail(LineReject::Malformed, format!("Influx-style tag `{}` has no `=`", clip(pair)));
                };
                push_tag(&mut tags, k, v)?;
            }
            name
        }
    };
    if name.is_empty() {
        return fail(LineReject::Name, "name: required");
    }

    let mut rate = 1.0;
    let mut rate_clamped = false;
    let mut timestamp_ms = None;
    for field in fields {
        if let Some(r) = field.strip_prefix('@') {
            (rate, rate_clamped) = sample_rate(r)?;
        } else if let Some(t) = field.strip_prefix('#') {
            for tag in t.split(',').filter(|t| !t.is_empty()) {
                match tag.split_once(':') {
                    Some((k, v)) => push_tag(&mut tags, k, v)?,
                    None => push_tag(&mut tags, tag, "")?,
                }
            }
        } else if let Some(t) = field.strip_prefix('T') {
            timestamp_ms = Some(timestamp(t)?);
        }
        // `c:<container id>` (DogStatsD 1.2) and unknown fields are ignored.
    }

    let samples = match kind {
        Kind::Set => {
            if value_part.is_empty() {
                return fail(LineReject::Value, "value: a set member is required");
            }
            vec![Sample::Member(value_part)]
        }
        _ => {
            let mut samples = Vec::with_capacity(1);
            for text in value_part.split(':') {
                samples.push(sample(kind, text)?);
            }
            samples
        }
    };
    Ok(Line::Metric(Box::new(Metric { name, kind, samples, rate, rate_clamped, tags, timestamp_ms })))
}

fn sample(kind: Kind, text: &str) -> Result<Sample<'_>, LineError> {
    let number = |t: &str| match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => fail(LineReject::Value, format!("value: `{}` is not a finite number", clip(t))),
    };
    match kind {
        Kind::Gauge if text.starts_with('+') || text.starts_with('-') => Ok(Sample::Delta(number(text)?)),
        Kind::Timer | Kind::Histogram | Kind::Distribution => {
            let v = number(text)?;
            if v < 0.0 {
                return fail(LineReject::Value, format!("value: `{}` is negative", clip(text)));
            }
            Ok(Sample::Number(v))
        }
        _ => Ok(Sample::Number(number(text)?)),
    }
}

/// `@0` counts as 1 (Vector, the CloudWatch agent); above 1 is clamped and reported.
fn sample_rate(text: &str) -> Result<(f64, bool), LineError> {
    match text.parse::<f64>() {
        Ok(r) if r.is_nan() || r < 0.0 => {
            fail(LineReject::SampleRate, format!("sample rate `{}` is negative", clip(text)))
        }
        Ok(0.0) => Ok((1.0, false)),
        Ok(r) if r > 1.0 => Ok((1.0, true)),
        Ok(r) => Ok((r, false)),
        Err(_) => fail(LineReject::SampleRate, format!("sample rate `{}` is not a number", clip(text))),
    }
}

fn timestamp(text: &str) -> Result<i64, LineError> {
    match text.parse::<i64>().ok().and_then(|s| s.checked_mul(1000)) {
        Some(ms) => Ok(ms),
        None => fail(LineReject::Timestamp, format!("timestamp `T{}` is not unix seconds", clip(text))),
    }
}

/// Adds a tag; a key given again replaces the earlier value (CloudWatch forbids duplicates).
fn push_tag<'a>(tags: &mut GivenDimensions<'a>, key: &'a str, value: &'a str) -> Result<(), LineError> {
    let value = if value.is_empty() { EMPTY_TAG_VALUE } else { value };
    if let Some(slot) = tags.iter_mut().find(|(k, _)| k == key) {
        slot.1 = Cow::Borrowed(value);
        return Ok(());
    }
    if tags.len() >= MAX_TAGS {
        return fail(LineReject::Malformed, format!("more than {MAX_TAGS} tags"));
    }
    tags.push((Cow::Borrowed(key), Cow::Borrowed(value)));
    Ok(())
}

/// At most 64 characters of a field, for messages.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(line: &str) -> Metric<'_> {
        match parse(line) {
            Ok(Line::Metric(m)) => *m,
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
        assert_eq!(m.samples, vec![Sample::Delta(4.0)]);
        let m = metric("g:-10|g");
        assert_eq!(m.samples, vec![Sample::Delta(-10.0)]);
        let m = metric("g:333|g");
        assert_eq!(m.samples, vec![Sample::Number(333.0)]);
        // Not a gauge: a sign is just a sign.
        assert_eq!(metric("c:-3|c").samples, vec![Sample::Number(-3.0)]);
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
        assert_eq!(metric("users:alice|s").samples, vec![Sample::Member("alice")]);
        assert_eq!(metric("conns:10.0.0.1:443|s|@0.5").samples, vec![Sample::Member("10.0.0.1:443")]);
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
        assert_eq!(
            tags(&m),
            vec![("service", "api"), ("code", "200"), ("env", "prod"), ("code=ignored", EMPTY_TAG_VALUE)]
        );
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
}
