//! The walk over an OTLP JSON body before it is decoded: the decoded-size budget of
//! [`super::budget`] (points, and each point's buckets, counted as they come), and what the
//! OTLP JSON mapping allows that the decoder would get wrong, point by point:
//! - a number beyond the range of a double (`1e400`) anywhere in a point fails that point
//!   alone (`value`), not the whole request: the literal is blanked to `0` for the decoder and
//!   the point is refused;
//! - `"asDouble"` as a string (`"NaN"`, `"Infinity"`, `"-Infinity"`, or a number in quotes, as
//!   proto3 JSON writes them) is that value, not "no value": the decoder drops the string, and
//!   the value is put back once the request is decoded.
//!
//! Nothing is allocated per element. The walk is lenient where the decoder is strict (number
//! syntax, control characters): the decoder says what is wrong there.

use std::ops::Range;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};

use super::budget::{Lists, Path, Tally, TooMuch};
use super::convert::{Faults, PointAt, refuse};
use crate::reasons::OtlpReject;

/// Deeper than this is refused (the decoder's own limit is lower).
const MAX_DEPTH: usize = 256;

/// What the walk found.
#[derive(Debug, Default)]
pub struct Found {
    /// Points refused before decoding.
    pub faults: Faults,
    /// Number literals to blank (beyond the range of a double, in a refused point).
    pub blanks: Vec<Range<usize>>,
    /// `asDouble` strings, as the values they are.
    pub doubles: Vec<(PointAt, f64)>,
}

/// Why the walk stopped.
#[derive(Debug)]
pub enum Stop {
    /// Not JSON (the decoder will say where).
    Syntax(String),
    TooMuch(TooMuch),
}

impl From<TooMuch> for Stop {
    fn from(t: TooMuch) -> Stop {
        Stop::TooMuch(t)
    }
}

/// Where in the OTLP schema a value is.
#[derive(Debug, Clone, Copy)]
enum At {
    Root,
    Resources,
    Resource,
    Scopes,
    Scope,
    Metrics,
    Metric,
    Data,
    Points,
    Point,
    /// `positive` or `negative` of an exponential histogram point.
    Side,
    /// A list of the point's buckets.
    List(Lists),
    /// A point's `asDouble`.
    AsDouble,
    /// Anywhere else inside a point.
    InPoint,
    Other,
}

struct Walk<'b> {
    b: &'b [u8],
    i: usize,
    tally: Tally,
    path: Path,
    /// The point's buckets so far: counts, bounds, quantiles.
    lists: [usize; 3],
    /// The point's field being walked, for messages.
    field: String,
    found: Found,
}

pub fn walk(body: &[u8], bounds: super::budget::Bounds) -> Result<Found, Stop> {
    let mut w = Walk {
        b: body,
        i: 0,
        tally: Tally::new(bounds),
        path: Path::default(),
        lists: [0; 3],
        field: String::new(),
        found: Found::default(),
    };
    w.value(At::Root, 0)?;
    w.space();
    if w.i < body.len() {
        return Err(Stop::Syntax(format!("trailing characters after the OTLP JSON document at byte {}", w.i)));
    }
    Ok(w.found)
}

fn syntax(what: &str, at: usize) -> Stop {
    Stop::Syntax(format!("{what} at byte {at}"))
}

impl<'b> Walk<'b> {
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), Stop> {
        if self.peek() != Some(c) {
            return Err(syntax(&format!("expected `{}`", c as char), self.i));
        }
        self.i += 1;
        Ok(())
    }

    fn point_at(&self) -> PointAt {
        let p = &self.path;
        PointAt { resource: p.resource, scope: p.scope, metric: p.metric, kind: p.kind, index: p.index }
    }

    fn value(&mut self, at: At, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(syntax("nested too deeply", self.i));
        }
        match self.peek() {
            Some(b'{') => self.object(at, depth),
            Some(b'[') => self.array(at, depth),
            Some(b'"') => {
                let raw = self.string()?;
                if let At::AsDouble = at
                    && let Some(v) = unescape(raw).as_deref().and_then(double_text)
                {
                    self.found.doubles.push((self.point_at(), v));
                }
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number(at),
            Some(b't' | b'f' | b'n') => {
                while self.b.get(self.i).is_some_and(u8::is_ascii_alphabetic) {
                    self.i += 1;
                }
                Ok(())
            }
            _ => Err(syntax("expected a value", self.i)),
        }
    }

    /// A string's raw bytes, between its quotes.
    fn string(&mut self) -> Result<&'b [u8], Stop> {
        let start = self.i + 1;
        let mut i = start;
        loop {
            match self.b.get(i) {
                None => return Err(syntax("unterminated string", start - 1)),
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
            }
        }
        self.i = i + 1;
        let b = self.b;
        Ok(&b[start..i])
    }

    fn number(&mut self, at: At) -> Result<(), Stop> {
        let start = self.i;
        while self.b.get(self.i).is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default();
        let out_of_range = text.parse::<f64>().is_ok_and(f64::is_infinite);
        if out_of_range && matches!(at, At::AsDouble | At::List(_) | At::InPoint | At::Point) {
            let shown: String = text.chars().take(40).collect();
            let refused = refuse(OtlpReject::Value, format!("{}: {shown} is beyond the range of a double", self.field));
            self.found.faults.entry(self.point_at()).or_insert(refused);
            self.found.blanks.push(start..self.i);
        }
        Ok(())
    }

    fn object(&mut self, at: At, depth: usize) -> Result<(), Stop> {
        self.i += 1;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(syntax("expected a key", self.i));
            }
            let raw = self.string()?;
            let key = if raw.len() <= 256 { unescape(raw) } else { None };
            let key = key.as_deref().unwrap_or("");
            let child = match (at, key) {
                (At::Root, "resourceMetrics") => At::Resources,
                (At::Resource, "scopeMetrics") => At::Scopes,
                (At::Scope, "metrics") => At::Metrics,
                (At::Metric, "gauge" | "sum" | "histogram" | "exponentialHistogram" | "summary") => {
                    self.path.kind = match key {
                        "gauge" => "gauge",
                        "sum" => "sum",
                        "histogram" => "histogram",
                        "exponentialHistogram" => "exponentialHistogram",
                        _ => "summary",
                    };
                    At::Data
                }
                (At::Data, "dataPoints") => At::Points,
                (At::Point, _) => {
                    self.field.clear();
                    self.field.push_str(key);
                    match key {
                        "asDouble" => At::AsDouble,
                        "bucketCounts" => At::List(Lists::Counts),
                        "explicitBounds" => At::List(Lists::Bounds),
                        "quantileValues" => At::List(Lists::Quantiles),
                        "positive" | "negative" => At::Side,
                        _ => At::InPoint,
                    }
                }
                (At::Side, "bucketCounts") => At::List(Lists::Counts),
                (At::Side | At::List(_) | At::AsDouble | At::InPoint, _) => At::InPoint,
                _ => At::Other,
            };
            self.expect(b':')?;
            self.value(child, depth + 1)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(syntax("expected `,` or `}`", self.i)),
            }
        }
    }

    fn array(&mut self, at: At, depth: usize) -> Result<(), Stop> {
        self.i += 1;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            let element = match at {
                At::Resources => {
                    (self.path.resource, self.path.scope) = (index, 0);
                    At::Resource
                }
                At::Scopes => {
                    (self.path.scope, self.path.metric) = (index, 0);
                    At::Scope
                }
                At::Metrics => {
                    self.path.metric = index;
                    At::Metric
                }
                At::Points => {
                    self.tally.point()?;
                    self.path.index = index;
                    self.lists = [0; 3];
                    At::Point
                }
                At::List(list) => {
                    let n = &mut self.lists[list as usize];
                    *n += 1;
                    let (n, path) = (*n, self.path);
                    self.tally.buckets(n, list, || path.describe())?;
                    At::InPoint
                }
                At::Side | At::AsDouble | At::InPoint | At::Point => At::InPoint,
                _ => At::Other,
            };
            self.value(element, depth + 1)?;
            index += 1;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(syntax("expected `,` or `]`", self.i)),
            }
        }
    }
}

/// A JSON string's text, escapes resolved; `None` when an escape is invalid.
fn unescape(raw: &[u8]) -> Option<String> {
    if !raw.contains(&b'\\') {
        return std::str::from_utf8(raw).ok().map(String::from);
    }
    let mut out: Vec<u16> = Vec::new();
    let text = std::str::from_utf8(raw).ok()?;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            out.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let unit = match chars.next()? {
            '"' => u16::from(b'"'),
            '\\' => u16::from(b'\\'),
            '/' => u16::from(b'/'),
            'b' => 8,
            'f' => 12,
            'n' => u16::from(b'\n'),
            'r' => u16::from(b'\r'),
            't' => u16::from(b'\t'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == 4)?
            }
            _ => return None,
        };
        out.push(unit);
    }
    String::from_utf16(&out).ok()
}

/// The value of an `asDouble` given as a string, as proto3 JSON writes it.
fn double_text(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ if !s.is_empty() && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// `body` with each range of `blanks` made a `0` padded with spaces.
pub fn blanked(body: &[u8], blanks: &[Range<usize>]) -> Vec<u8> {
    let mut out = body.to_vec();
    for r in blanks {
        out[r.clone()].fill(b' ');
        out[r.start] = b'0';
    }
    out
}

/// Puts the `asDouble` strings the decoder dropped back into their points, as values.
pub fn put_back(request: &mut ExportMetricsServiceRequest, doubles: &[(PointAt, f64)]) {
    for (at, v) in doubles {
        let metric = request
            .resource_metrics
            .get_mut(at.resource)
            .and_then(|r| r.scope_metrics.get_mut(at.scope))
            .and_then(|s| s.metrics.get_mut(at.metric));
        let points = match metric.and_then(|m| m.data.as_mut()) {
            Some(Data::Gauge(g)) if at.kind == "gauge" => &mut g.data_points,
            Some(Data::Sum(s)) if at.kind == "sum" => &mut s.data_points,
            _ => continue,
        };
        if let Some(p) = points.get_mut(at.index).filter(|p| p.value.is_none()) {
            p.value = Some(number_data_point::Value::AsDouble(*v));
        }
    }
}
