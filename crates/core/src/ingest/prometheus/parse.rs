//! The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 → families of samples,
//! without I/O and with nothing but std (the fuzz target `fuzz/fuzz_targets/prometheus.rs`).
//!
//! - A family starts at its `# TYPE` line (`counter`, `gauge`, `histogram`, `summary`,
//!   `untyped`; OpenMetrics also `unknown`, `gaugehistogram`, `info`, `stateset`). A sample
//!   belongs to the current family when its name is the family's, or the family's plus a suffix
//!   its type allows (`_total`, `_created` for counters; `_bucket`, `_sum`, `_count`,
//!   `_created` for histograms; `_sum`, `_count`, `_created` for summaries). Any other sample
//!   opens an untyped family of its own name (0.0.4 allows samples without `# TYPE`).
//! - `# UNIT` sets the family's unit; `# HELP` and other comments are skipped.
//! - Label values take the escapes `\\`, `\"` and `\n`; values are floats (`NaN`, `+Inf`,
//!   `-Inf` included); an optional timestamp follows (milliseconds in 0.0.4, seconds in
//!   OpenMetrics); an OpenMetrics exemplar (` # {...} value [ts]`) is skipped.
//! - `# EOF` ends an OpenMetrics exposition; without it the exposition is truncated
//!   ([`Exposition::eof`] is false) and the scraper publishes nothing of it; text after it
//!   makes it invalid ([`Exposition::after_eof`]). [`parse_limited`] stops past a number of
//!   samples ([`Exposition::too_many_samples`]): what a scrape holds is bounded.
//! - A line that breaks the grammar (and a second `# TYPE` for a family) is an error of its
//!   own, with its line number; the other lines are kept.

use std::borrow::Cow;
use std::collections::HashMap;

/// Lines longer than this are errors (a sane exposition's lines are far shorter).
pub const MAX_LINE: usize = 64 * 1024;
/// Labels on one sample beyond this are an error (CloudWatch takes 30 dimensions anyway).
pub const MAX_LABELS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    /// `untyped` (0.0.4), `unknown` (OpenMetrics), or no `# TYPE` at all.
    Untyped,
    /// OpenMetrics `gaugehistogram`, `info`, `stateset`: parsed, not published.
    Other,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            "untyped" | "unknown" => Kind::Untyped,
            "gaugehistogram" | "info" | "stateset" => Kind::Other,
            _ => return None,
        })
    }

    /// The suffixes a sample name may add to the family name.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Kind::Counter => &["_total", "_created"],
            Kind::Histogram => &["_bucket", "_sum", "_count", "_created"],
            Kind::Summary => &["_sum", "_count", "_created"],
            Kind::Other => &["_bucket", "_gcount", "_gsum", "_info", "_created"],
            Kind::Gauge | Kind::Untyped => &[],
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    /// In the order given; names unique.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl Sample<'_> {
    /// The suffix after the family name (`""` for the name itself).
    pub fn suffix<'s>(&'s self, family: &str) -> &'s str {
        self.name.strip_prefix(family).unwrap_or("")
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_ref())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    pub name: &'a str,
    pub kind: Kind,
    /// From `# TYPE`; false when the samples came without one.
    pub typed: bool,
    pub unit: Option<&'a str>,
    pub samples: Vec<Sample<'a>>,
}

/// A line the grammar refused, by its 1-based number.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Default, PartialEq)]
pub struct Exposition<'a> {
    pub families: Vec<Family<'a>>,
    pub errors: Vec<LineError>,
    /// `# EOF` was seen (OpenMetrics requires it; 0.0.4 has none).
    pub eof: bool,
    /// The line of the first text after `# EOF`, if any: the exposition is invalid.
    pub after_eof: Option<usize>,
    /// More samples than [`parse_limited`] was given: parsing stopped at the limit.
    pub too_many_samples: bool,
}

impl Exposition<'_> {
    pub fn samples(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }
}

/// Parses an exposition; `openmetrics` selects OpenMetrics' timestamps (seconds) and `# EOF`.
pub fn parse(text: &str, openmetrics: bool) -> Exposition<'_> {
    parse_limited(text, openmetrics, usize::MAX)
}
/// [`parse`], holding at most `max_samples` samples.
pub fn parse_limited(text: &str, openmetrics: bool, max_samples: usize) -> Exposition<'_> {
    let mut out = Exposition::default();
    let mut samples = 0usize;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut current: Option<usize> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let number = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let fail = |message: String| LineError { line: number, message };
        if out.eof {
            if !line.is_empty() {
                out.errors.push(fail("text after `# EOF`".into()));
                out.after_eof = Some(number);
                break;
            }
            continue;
        }
        if line.len() > MAX_LINE {
            out.errors.push(fail(format!("line longer than {MAX_LINE} bytes")));
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            match comment_line(comment, openmetrics) {
                Ok(Comment::Eof) => out.eof = true,
                Ok(Comment::Other) => {}
                Ok(Comment::Help) => {}
                Ok(Comment::Type(name, kind)) => match index.get(name) {
                    Some(&f) if out.families[f].typed || !out.families[f].samples.is_empty() => {
                        out.errors.push(fail(format!("second `# TYPE` for `{name}`, or after its samples")));
                        current = Some(f);
                    }
                    Some(&f) => {
                        out.families[f].kind = kind;
                        out.families[f].typed = true;
                        current = Some(f);
                    }
                    None => current = Some(open(&mut out.families, &mut index, name, kind, true)),
                },
                Ok(Comment::Unit(name, unit)) => {
                    let f = match index.get(name) {
                        Some(&f) => f,
                        None => open(&mut out.families, &mut index, name, Kind::Untyped, false),
                    };
                    if !unit.is_empty() {
                        out.families[f].unit = Some(unit);
                    }
                }
                Err(e) => out.errors.push(fail(e)),
            }
            continue;
        }
        if samples == max_samples {
            out.too_many_samples = true;
            break;
        }
        let sample = match sample_line(line, openmetrics) {
            Ok(s) => s,
            Err(e) => {
                out.errors.push(fail(e));
                continue;
            }
        };
        let belongs = |f: &Family<'_>| {
            sample.name == f.name
                || sample.name.strip_prefix(f.name).is_some_and(|suffix| f.kind.suffixes().contains(&suffix))
        };
        let f = match current.filter(|&f| belongs(&out.families[f])) {
            Some(f) => f,
            None => match index.get(sample.name) {
                Some(&f) => f,
                None => open(&mut out.families, &mut index, sample.name, Kind::Untyped, false),
            },
        };
        current = Some(f);
        out.families[f].samples.push(sample);
        samples += 1;
    }
    out
}

fn open<'a>(
    families: &mut Vec<Family<'a>>,
    index: &mut HashMap<&'a str, usize>,
    name: &'a str,
    kind: Kind,
    typed: bool,
) -> usize {
    families.push(Family { name, kind, typed, unit: None, samples: Vec::new() });
    index.insert(name, families.len() - 1);
    families.len() - 1
}

enum Comment<'a> {
    Type(&'a str, Kind),
    Unit(&'a str, &'a str),
    Help,
    Eof,
    Other,
}

/// What follows `#`.
fn comment_line(rest: &str, openmetrics: bool) -> Result<Comment<'_>, String> {
    if rest == " EOF" {
        return Ok(if openmetrics { Comment::Eof } else { Comment::Other });
    }
    let Some(rest) = rest.strip_prefix(' ') else { return Ok(Comment::Other) };
    let rest = rest.trim_start();
    let (keyword, rest) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    let rest = rest.trim_start_matches([' ', '\t']);
    match keyword {
        "TYPE" | "UNIT" | "HELP" => {}
        _ => return Ok(Comment::Other),
    }
    let (name, value) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    if !is_metric_name(name) {
        return Err(format!("`# {keyword}` needs a metric name, found `{name}`"));
    }
    let value = value.trim_matches([' ', '\t']);
    match keyword {
        "TYPE" => Kind::parse(value).map(|k| Comment::Type(name, k)).ok_or_else(|| format!("unknown type `{value}`")),
        "UNIT" => Ok(Comment::Unit(name, value)),
        _ => Ok(Comment::Help),
    }
}

pub fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `name{labels} value [timestamp] [# exemplar]`.
fn sample_line(line: &str, openmetrics: bool) -> Result<Sample<'_>, String> {
    let line = line.trim_start_matches([' ', '\t']);
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(line.len());
    let name = &line[..end];
    if !is_metric_name(name) {
        return Err(format!("expected a metric name, found `{}`", snippet(line)));
    }
    let mut rest = line[end..].trim_start_matches([' ', '\t']);
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
        // Held until the exposition is converted: no room for labels that never come (a
        // vector grows to 4 at its first push).
        labels.shrink_to_fit();
    }
    // An exemplar starts at ` # `: what follows is not the sample's.
    let main = match rest.find(" #") {
        Some(at) if openmetrics => &rest[..at],
        _ => rest,
    };
    let mut fields = main.split([' ', '\t']).filter(|f| !f.is_empty());
    let value = fields.next().ok_or_else(|| format!("`{name}`: no value"))?;
    let value = parse_value(value).ok_or_else(|| format!("`{name}`: `{}` is not a number", snippet(value)))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => {
            Some(parse_timestamp(t, openmetrics).ok_or_else(|| format!("`{name}`: bad timestamp `{}`", snippet(t)))?)
        }
    };
    if let Some(extra) = fields.next() {
        return Err(format!("`{name}`: unexpected `{}` after the value", snippet(extra)));
    }
    Ok(Sample { name, labels, value, timestamp_ms })
}

/// Labels after `{`, up to and including `}`; returns what follows.
fn parse_labels<'a>(mut s: &'a str, labels: &mut Vec<(&'a str, Cow<'a, str>)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
        let name = &s[..end];
        if !is_label_name(name) {
            return Err(format!("expected a label name, found `{}`", snippet(s)));
        }
        s = s[end..].trim_start_matches([' ', '\t']);
        s = s.strip_prefix('=').ok_or_else(|| format!("label `{name}`: expected `=`"))?;
        s = s.trim_start_matches([' ', '\t']);
        s = s.strip_prefix('"').ok_or_else(|| format!("label `{name}`: expected a quoted value"))?;
        let (value, after) = quoted(s).ok_or_else(|| format!("label `{name}`: bad escape or unterminated value"))?;
        if labels.iter().any(|(k, _)| *k == name) {
            return Err(format!("label `{name}` given twice"));
        }
        if labels.len() >= MAX_LABELS {
            return Err(format!("more than {MAX_LABELS} labels"));
        }
        labels.push((name, value));
        s = after.trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err(format!("label `{name}`: expected `,` or `}}`"));
        }
    }
}

/// A label value after its opening quote: the value, and what follows the closing quote.
fn quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let bytes = s.as_bytes();
    let mut owned: Option<String> = None;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    Some(mut o) => {
                        o.push_str(&s[start..i]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&s[..i]),
                };
                return Some((value, &s[i + 1..]));
            }
            b'\\' => {
                let o = owned.get_or_insert_with(String::new);
                o.push_str(&s[start..i]);
                match bytes.get(i + 1)? {
                    b'\\' => o.push('\\'),
                    b'"' => o.push('"'),
                    b'n' => o.push('\n'),
                    _ => return None,
                }
                i += 2;
                start = i;
            }
            _ => i += 1,
        }
    }
    None
}

/// A float as Prometheus writes them: decimal, exponent, `NaN`, `+Inf`, `-Inf`.
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Rust's parser also takes `inf`, `infinity`, `nan` in any case: not Prometheus'.
        _ if s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) => s.parse().ok(),
        _ => None,
    }
}

fn parse_timestamp(s: &str, openmetrics: bool) -> Option<i64> {
    if openmetrics {
        let seconds = parse_value(s).filter(|v| v.is_finite())?;
        let ms = (seconds * 1000.0).round();
        (ms.abs() < 9.0e18).then_some(ms as i64)
    } else {
        s.parse::<i64>().ok()
    }
}

fn snippet(s: &str) -> &str {
    s.char_indices().nth(40).map_or(s, |(at, _)| &s[..at])
}
