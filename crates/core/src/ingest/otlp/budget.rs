//! The decoded-size budget of OTLP. A request decodes to far more memory than its bytes on
//! the wire: an empty data point is 2 bytes of protobuf (3 of JSON) and over a hundred once
//! decoded, so the body budget alone (which counts wire bytes) does not bound what a request
//! holds. Before a body is decoded, its data points and each point's buckets are counted by
//! walking its bytes, without allocating; past `max_points_per_request` points, or a point with
//! more than `max_buckets_per_point` bucket counts (both sides of an exponential histogram
//! together), explicit bounds or quantiles, the request is refused whole (413, naming the
//! bound) and nothing of it is decoded. This module holds the bounds and the protobuf walk;
//! [`super::json`] walks OTLP JSON.

use crate::ingest::protowire::{Field, walk};
use crate::reasons::RefuseReason;

/// The bounds of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Data points of one request (`max_points_per_request`).
    pub max_points: usize,
    /// Bucket counts, explicit bounds or quantiles of one point (`max_buckets_per_point`).
    pub max_buckets_per_point: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { max_points: 100_000, max_buckets_per_point: 1_000 }
    }
}

/// A request over a bound: refused whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooMuch {
    pub reason: RefuseReason,
    pub message: String,
}

/// Why a body was not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an `ExportMetricsServiceRequest` (400).
    Malformed(String),
    /// Over a bound (413).
    TooMuch(TooMuch),
}

/// Counts of the request so far, and of the point being walked.
#[derive(Debug)]
pub(super) struct Tally {
    bounds: Bounds,
    points: usize,
}

/// What a point's buckets are, for the count and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lists {
    Counts,
    Bounds,
    Quantiles,
}

impl Tally {
    pub fn new(bounds: Bounds) -> Tally {
        Tally { bounds, points: 0 }
    }

    /// One more data point.
    pub fn point(&mut self) -> Result<(), TooMuch> {
        self.points += 1;
        if self.points > self.bounds.max_points {
            return Err(TooMuch {
                reason: RefuseReason::TooManyPoints,
                message: format!(
                    "dataPoints: the request has more than {} data points (max_points_per_request): \
                     send fewer per request",
                    self.bounds.max_points
                ),
            });
        }
        Ok(())
    }

    /// `n` entries of one of the point's lists at `path` (e.g.
    /// `resourceMetrics[0].scopeMetrics[0].metrics[2].histogram.dataPoints[5]`).
    pub fn buckets(&self, n: usize, list: Lists, path: impl FnOnce() -> String) -> Result<(), TooMuch> {
        if n <= self.bounds.max_buckets_per_point {
            return Ok(());
        }
        let what = match list {
            Lists::Counts => "bucketCounts: bucket counts (both sides of an exponential histogram together)",
            Lists::Bounds => "explicitBounds: bounds",
            Lists::Quantiles => "quantileValues: quantiles",
        };
        Err(TooMuch {
            reason: RefuseReason::TooManyBuckets,
            message: format!(
                "{}.{what}: more than {} in one point (max_buckets_per_point)",
                path(),
                self.bounds.max_buckets_per_point
            ),
        })
    }
}

/// Where the walk is, for messages.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Path {
    pub resource: usize,
    pub scope: usize,
    pub metric: usize,
    pub kind: &'static str,
    pub index: usize,
}

impl Path {
    pub fn describe(&self) -> String {
        format!(
            "resourceMetrics[{}].scopeMetrics[{}].metrics[{}].{}.dataPoints[{}]",
            self.resource, self.scope, self.metric, self.kind, self.index
        )
    }
}

/// Walks a protobuf `ExportMetricsServiceRequest`, counting, within `bounds`. `Err(None)`:
/// the bytes are no protobuf message (the decoder says why).
pub fn check_protobuf(body: &[u8], bounds: Bounds) -> Result<(), Option<TooMuch>> {
    let mut tally = Tally::new(bounds);
    let mut path = Path::default();
    walk(body, 0, |f| {
        if let (1, Field::Bytes(rm)) = f {
            walk(rm, 1, |f| {
                if let (2, Field::Bytes(sm)) = f {
                    walk(sm, 2, |f| {
                        if let (2, Field::Bytes(m)) = f {
                            metric(m, &mut tally, &mut path)?;
                            path.metric += 1;
                        }
                        Ok(())
                    })?;
                    path.scope += 1;
                    path.metric = 0;
                }
                Ok(())
            })?;
            path.resource += 1;
            path.scope = 0;
        }
        Ok(())
    })
}

fn metric(m: &[u8], tally: &mut Tally, path: &mut Path) -> Result<(), Option<TooMuch>> {
    walk(m, 3, |f| {
        let kind = match f.0 {
            5 => "gauge",
            7 => "sum",
            9 => "histogram",
            10 => "exponentialHistogram",
            11 => "summary",
            _ => return Ok(()),
        };
        let Field::Bytes(data) = f.1 else { return Ok(()) };
        path.kind = kind;
        path.index = 0;
        walk(data, 4, |f| {
            if let (1, Field::Bytes(p)) = f {
                tally.point().map_err(Some)?;
                point(p, kind, tally, path)?;
                path.index += 1;
            }
            Ok(())
        })
    })
}

/// A point's lists: repeated `fixed64`/`double` (8 bytes each, packed or not), repeated
/// `uint64` varints in an exponential histogram's `Buckets`, messages for a summary's quantiles.
fn point(p: &[u8], kind: &'static str, tally: &Tally, path: &Path) -> Result<(), Option<TooMuch>> {
    let (mut counts, mut bounds, mut quantiles) = (0usize, 0usize, 0usize);
    let fixed = |f: &Field<'_>| match f {
        Field::Bytes(b) => b.len().div_ceil(8),
        _ => 1,
    };
    walk(p, 5, |f| {
        match (kind, f.0) {
            ("histogram", 6) => counts += fixed(&f.1),
            ("histogram", 7) => bounds += fixed(&f.1),
            ("summary", 6) => quantiles += 1,
            ("exponentialHistogram", 8 | 9) => {
                if let Field::Bytes(b) = f.1 {
                    walk(b, 6, |f| {
                        match f {
                            (2, Field::Bytes(packed)) => counts += packed.iter().filter(|&&x| x < 0x80).count(),
                            (2, _) => counts += 1,
                            _ => {}
                        }
                        Ok(())
                    })?;
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let at = || path.describe();
    tally.buckets(counts, Lists::Counts, at).map_err(Some)?;
    tally.buckets(bounds, Lists::Bounds, at).map_err(Some)?;
    tally.buckets(quantiles, Lists::Quantiles, at).map_err(Some)
}
