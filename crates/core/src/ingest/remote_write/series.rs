//! One `TimeSeries` of a request made ready to convert: its name (`__name__`), what its name
//! says it is (remote-write 1.0 carries no type), its dimensions under the rules of scrape,
//! and its keys. Pure.
//!
//! - `x_bucket` with an `le` label: a part of histogram `x` (the series' labels but `le`).
//! - `x_count`, `x_sum`: parts of histogram `x` when it has buckets (in this request, or known
//!   from an earlier one); otherwise cumulative series of their own, as a summary's are.
//! - `x_total` (and a `_bucket` without `le`): cumulative.
//! - A series with a `quantile` label: a summary's quantile, not published.
//! - Anything else: a gauge.

use std::borrow::Cow;

use super::state::{Key, State};
use super::wire::TimeSeries;
use crate::domain::limits::MAX_DIMENSIONS;
use crate::domain::units::Unit;
use crate::ingest::prometheus::parse::{Kind, parse_value};
use crate::ingest::prometheus::rules::{self, Rules};
use crate::reasons::{RemoteWriteIgnored, RemoteWriteReject};

/// What a series' name says it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Class {
    Gauge,
    Counter,
    /// A histogram's bucket, with its `le`.
    Bucket(f64),
    /// `_count` or `_sum`: of a histogram when it has buckets, else a counter.
    Count,
    Sum,
}

/// A series ready to convert.
#[derive(Debug)]
pub(super) struct Prepared<'a> {
    pub class: Class,
    /// Its own name (what a gauge or counter publishes).
    pub name: &'a str,
    /// The name without its suffix (`_bucket`, `_count`, `_sum`, `_total`): a histogram's.
    pub base: &'a str,
    pub dims: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The series' identity: its name and every label.
    pub key: Key,
    /// The identity of the histogram it may be part of: its base and labels but `le`.
    pub histogram: Key,
}

impl Prepared<'_> {
    /// Whether it is a part of a histogram, given the histograms with buckets.
    pub fn in_histogram(&self, has_buckets: impl Fn(Key) -> bool) -> bool {
        match self.class {
            Class::Bucket(_) => true,
            Class::Count | Class::Sum => has_buckets(self.histogram),
            _ => false,
        }
    }

    /// The unit it is published with: as a histogram's part, or as a series of its own.
    pub fn unit(&self, histogram: bool) -> Unit {
        match (histogram, self.class) {
            (true, _) => rules::unit(self.base, None, Kind::Histogram),
            (false, Class::Gauge) => rules::unit(self.name, None, Kind::Gauge),
            (false, Class::Count) => Unit::Count,
            (false, Class::Sum) => rules::unit(self.base, None, Kind::Summary),
            (false, _) => rules::unit(self.name, None, Kind::Counter),
        }
    }
}

/// What becomes of a series.
#[derive(Debug)]
pub(super) enum Verdict<'a> {
    Take(Prepared<'a>),
    Ignore(RemoteWriteIgnored),
    Reject(RemoteWriteReject, String),
}

/// Makes one series ready, or says why its samples are not published.
pub(super) fn prepare<'a>(series: &'a TimeSeries, rules: &Rules, state: &State) -> Verdict<'a> {
    let mut name = None;
    // Labels with an empty value are absent, as in Prometheus.
    let mut labels: Vec<(&'a str, &'a str)> = Vec::with_capacity(series.labels.len());
    for l in &series.labels {
        if l.name == "__name__" {
            name = Some(l.value.as_str()).filter(|n| !n.is_empty());
        } else if !l.value.is_empty() {
            labels.push((l.name.as_str(), l.value.as_str()));
        }
    }
    let Some(name) = name else {
        let what = readable(&labels);
        return Verdict::Reject(RemoteWriteReject::NoName, format!("{{{what}}}: a series without __name__"));
    };
    labels.sort_unstable();
    if let Some(w) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
        return Verdict::Reject(RemoteWriteReject::Malformed, format!("{name}: label `{}` given twice", w[0].0));
    }
    let label = |k: &str| labels.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    let (class, base) = match suffixed(name) {
        Some(("_bucket", base)) => match label("le") {
            Some(le) => match parse_value(le) {
                Some(le) if !le.is_nan() => (Class::Bucket(le), base),
                _ => {
                    let why = format!("{name}: bucket bound le=\"{le}\" is not a number");
                    return Verdict::Reject(RemoteWriteReject::Malformed, why);
                }
            },
            None => (Class::Counter, base),
        },
        Some(("_count", base)) => (Class::Count, base),
        Some(("_sum", base)) => (Class::Sum, base),
        Some((_, base)) => (Class::Counter, base),
        None if label("quantile").is_some() => return Verdict::Ignore(RemoteWriteIgnored::Quantile),
        None => (Class::Gauge, name),
    };
    if !rules.wants_any(&[base, name]) {
        return Verdict::Ignore(RemoteWriteIgnored::Excluded);
    }
    let skip = matches!(class, Class::Bucket(_)).then_some("le");
    let cows: Vec<(&'a str, Cow<'a, str>)> = labels.iter().map(|(k, v)| (*k, Cow::Borrowed(*v))).collect();
    let dims = rules::dimensions(rules, &cows, skip);
    if dims.len() > MAX_DIMENSIONS {
        let why = format!("{name}: {} labels, CloudWatch takes at most {MAX_DIMENSIONS}", dims.len());
        return Verdict::Reject(RemoteWriteReject::TooManyDimensions, why);
    }
    let flat = |skip: &'static str| labels.iter().filter(move |(k, _)| *k != skip).flat_map(|(k, v)| [*k, *v]);
    let key = state.key(std::iter::once(name).chain(flat("")));
    let histogram = state.key(["\u{0}histogram", base].into_iter().chain(flat("le")));
    Verdict::Take(Prepared { class, name, base, dims, key, histogram })
}

/// The cumulative suffix of a name and the name without it.
fn suffixed(name: &str) -> Option<(&'static str, &str)> {
    ["_bucket", "_count", "_sum", "_total"]
        .into_iter()
        .find_map(|s| name.strip_suffix(s).filter(|b| !b.is_empty()).map(|b| (s, b)))
}

/// Labels as `k="v",...`, for messages.
pub(super) fn readable(labels: &[(&str, &str)]) -> String {
    labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect::<Vec<_>>().join(",")
}
