//! StatsD and DogStatsD lines, parsed without I/O and without copying: a line becomes a
//! [`Metric`] borrowing from the datagram, is ignored (events, service checks), or is
//! rejected with a [`LineError`] naming the rule it broke.
//!
//! `name[,k=v…]:value[:value…]|type[|@rate][|#tag,k:v][|c:container][|T<secs>]`, the fields
//! after the type in any order, unknown fields ignored; an empty item of a packed value list
//! is skipped (DogStatsD's reference parser does the same).

use std::borrow::Cow;

use crate::domain::dimensions::GivenDimensions;
use crate::reasons::LineReject;

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
    pub samples: Samples<'a>,
    /// In (0, 1]: `@0` and no rate are 1, rates above 1 are clamped to 1.
    pub rate: f64,
    /// The line gave a rate above 1 (counted as a warning).
    pub rate_clamped: bool,
    /// Influx-style tags then DogStatsD tags, each key once (the last given wins).
    pub tags: GivenDimensions<'a>,
    /// `|T<secs>`, in epoch milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// The values of a line: most lines have one, kept inline.
pub type Samples<'a> = smallvec::SmallVec<[Sample<'a>; 1]>;

/// What one line is (for tests: the listeners parse into a reused [`Metric`]).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // a line is parsed and used at once: a box would cost more
pub enum Line<'a> {
    Metric(Metric<'a>),
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
#[cfg(test)]
pub fn parse_bytes(line: &[u8]) -> Result<Line<'_>, LineError> {
    let mut metric = Metric::empty();
    parse_bytes_into(line, &mut metric).map(|p| p.line(metric))
}

/// Parses one line, without its newline.
#[cfg(test)]
pub fn parse(line: &str) -> Result<Line<'_>, LineError> {
    let mut metric = Metric::empty();
    parse_into(line, &mut metric).map(|p| p.line(metric))
}

/// What a line parsed into the caller's [`Metric`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// The metric holds it.
    Metric,
    Ignored,
}

#[cfg(test)]
impl Parsed {
    fn line(self, metric: Metric<'_>) -> Line<'_> {
        match self {
            Parsed::Metric => Line::Metric(metric),
            Parsed::Ignored => Line::Ignored,
        }
    }
}

impl Metric<'_> {
    /// A metric to parse lines into ([`parse_bytes_into`]).
    pub fn empty() -> Self {
        Metric {
            name: "",
            kind: Kind::Counter,
            samples: Samples::new(),
            rate: 1.0,
            rate_clamped: false,
            tags: GivenDimensions::new(),
            timestamp_ms: None,
        }
    }
}

/// Parses one line given as bytes (not UTF-8 is malformed) into `metric`, replacing what it
/// held: a stream of lines reuses one, not moving a few hundred bytes per line.
pub fn parse_bytes_into<'a>(line: &'a [u8], metric: &mut Metric<'a>) -> Result<Parsed, LineError> {
    if line.is_ascii() {
        // SAFETY: ASCII is UTF-8 (checked this way, a short line costs a fraction of the
        // general check).
        return parse_into(unsafe { std::str::from_utf8_unchecked(line) }, metric);
    }
    match std::str::from_utf8(line) {
        Ok(s) => parse_into(s, metric),
        Err(_) => fail(LineReject::Malformed, "line is not UTF-8"),
    }
}

fn parse_into<'a>(line: &'a str, m: &mut Metric<'a>) -> Result<Parsed, LineError> {
    m.tags.clear();
    m.samples.clear();
    if line.starts_with("_e{") || line.starts_with("_sc|") {
        return Ok(Parsed::Ignored);
    }
    // One pass to the first `|`, noting the first `:` and a `,` before it.
    let bytes = line.as_bytes();
    let find = |from: usize, stop: fn(u8) -> bool| bytes[from..].iter().position(|&b| stop(b)).map(|at| from + at);
    let mut at = find(0, |b| matches!(b, b':' | b',' | b'|'));
    let comma = at.filter(|&i| bytes[i] == b',');
    if let Some(i) = comma {
        at = find(i + 1, |b| matches!(b, b':' | b'|'));
    }
    let colon = at.filter(|&i| bytes[i] == b':');
    let bar = match colon {
        Some(i) => find(i + 1, |b| b == b'|'),
        None => at,
    };
    let Some(bar) = bar else {
        return fail(LineReject::Malformed, "expected `name:value|type`");
    };
    let Some(colon) = colon else {
        return fail(LineReject::Malformed, "expected `name:value` before the first `|`");
    };
    // The separators are ASCII: every slice below starts and ends at a character boundary.
    let (name_part, value_part, rest) = (&line[..colon], &line[colon + 1..bar], &line[bar + 1..]);
    let mut fields = split(rest, b'|');
    let type_text = fields.next().unwrap_or("");
    let Some(kind) = Kind::parse(type_text) else {
        return fail(LineReject::UnknownType, format!("unknown type `{}`", clip(type_text)));
    };

    let tags = &mut m.tags;
    let name = match comma.map(|at| (&name_part[..at], &name_part[at + 1..])) {
        None => name_part,
        Some((name, influx)) => {
            for pair in split(influx, b',') {
                let Some((k, v)) = split_once(pair, b'=') else {
                    return fail(LineReject::Malformed, format!("Influx-style tag `{}` has no `=`", clip(pair)));
                };
                push_tag(tags, k, v)?;
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
            dog_tags(t, tags)?;
        } else if let Some(t) = field.strip_prefix('T') {
            timestamp_ms = Some(timestamp(t)?);
        }
        // `c:<container id>` (DogStatsD 1.2) and unknown fields are ignored.
    }

    match kind {
        Kind::Set => {
            if value_part.is_empty() {
                return fail(LineReject::Value, "value: a set member is required");
            }
            m.samples.push(Sample::Member(value_part));
        }
        _ => {
            for text in split(value_part, b':') {
                match sample(kind, text) {
                    Ok(s) => m.samples.push(s),
                    // An empty item of a packed list (`1.5::41`, `1.5:41:`) is skipped, as
                    // DogStatsD's parser does; only a list of nothing but empty items is
                    // refused. Looked at on the error path only: the hot path pays nothing.
                    Err(_) if text.is_empty() && value_part.bytes().any(|b| b != b':') => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    (m.name, m.kind, m.rate, m.rate_clamped, m.timestamp_ms) = (name, kind, rate, rate_clamped, timestamp_ms);
    Ok(Parsed::Metric)
}

fn sample(kind: Kind, text: &str) -> Result<Sample<'_>, LineError> {
    let number = |t: &str| match decimal(t).map_or_else(|| t.parse::<f64>(), Ok) {
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
    match decimal(text).map_or_else(|| text.parse::<f64>(), Ok) {
        Ok(r) if r.is_nan() || r < 0.0 => {
            fail(LineReject::SampleRate, format!("sample rate `{}` is negative", clip(text)))
        }
        Ok(0.0) => Ok((1.0, false)),
        Ok(r) if r > 1.0 => Ok((1.0, true)),
        Ok(r) => Ok((r, false)),
        Err(_) => fail(LineReject::SampleRate, format!("sample rate `{}` is not a number", clip(text))),
    }
}

/// Powers of ten that an `f64` holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The usual StatsD number, `[+-]digits[.digits]` with at most 2^53 as its digits and at most
/// 22 after the point, read without the general parser; `None` for anything else (which
/// `str::parse` then reads). The same `f64` as `str::parse`: both the digits and the power of
/// ten are exact, and one division rounds correctly (the parser's own fast path).
pub fn decimal(text: &str) -> Option<f64> {
    let (negative, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    let (mut mantissa, mut fraction, mut point, mut seen) = (0u64, 0usize, false, 0usize);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                fraction += point as usize;
                seen += 1;
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    if seen == 0 || mantissa > 1 << 53 || fraction >= POWERS_OF_TEN.len() {
        return None;
    }
    let v = mantissa as f64 / POWERS_OF_TEN[fraction];
    Some(if negative { -v } else { v })
}

fn timestamp(text: &str) -> Result<i64, LineError> {
    match text.parse::<i64>().ok().and_then(|s| s.checked_mul(1000)) {
        Some(ms) => Ok(ms),
        None => fail(LineReject::Timestamp, format!("timestamp `T{}` is not unix seconds", clip(text))),
    }
}

/// DogStatsD tags, `k:v,k2:v2,bare`: each split at its first `:`, empty ones skipped, a tag
/// without `:` has an empty value.
fn dog_tags<'a>(text: &'a str, tags: &mut GivenDimensions<'a>) -> Result<(), LineError> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start <= bytes.len() {
        let end = bytes[start..].iter().position(|&b| b == b',').map_or(bytes.len(), |at| start + at);
        let tag = &text[start..end];
        match tag.bytes().position(|b| b == b':') {
            Some(at) => push_tag(tags, &tag[..at], &tag[at + 1..])?,
            None if !tag.is_empty() => push_tag(tags, tag, "")?,
            None => {}
        }
        start = end + 1;
    }
    Ok(())
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

/// `s` split at the first `sep` (an ASCII byte, so both sides are whole characters).
fn split_once(s: &str, sep: u8) -> Option<(&str, &str)> {
    let at = s.bytes().position(|b| b == sep)?;
    Some((&s[..at], &s[at + 1..]))
}

/// `s` split at every `sep` (an ASCII byte), like `str::split` without decoding characters.
fn split(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match split_once(r, sep) {
            Some((field, after)) => {
                rest = Some(after);
                Some(field)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// At most 64 characters of a field, for messages.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
#[path = "statsd_tests.rs"]
mod tests;
