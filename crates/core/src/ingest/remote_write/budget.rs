//! The decoded-size budget of remote-write. A `WriteRequest` decodes to far more memory than
//! its bytes: an empty `TimeSeries` is 2 bytes of protobuf and dozens once decoded, a label
//! 4 bytes and two strings. Before the decompressed bytes are decoded, its series, their
//! labels and their samples are counted by walking them, without allocating; past a bound the
//! request is refused whole (413, naming the bound) and nothing of it is decoded.

use crate::ingest::protowire::{Field, walk};
use crate::reasons::RefuseReason;

/// The bounds of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes of the body decompressed (`max_body_bytes`).
    pub max_decoded_bytes: usize,
    /// `TimeSeries` of one request (`max_series_per_request`).
    pub max_series: usize,
    /// Samples of one request, over all its series (`max_samples_per_request`).
    pub max_samples: usize,
    /// Labels of one series ([`MAX_LABELS`]).
    pub max_labels: usize,
}

/// Labels of one series beyond this refuse the request (CloudWatch takes 30 dimensions).
pub const MAX_LABELS: usize = crate::ingest::prometheus::parse::MAX_LABELS;

impl Default for Bounds {
    fn default() -> Self {
        Bounds { max_decoded_bytes: 5 * 1024 * 1024, max_series: 100_000, max_samples: 100_000, max_labels: MAX_LABELS }
    }
}

/// A request over a bound: refused whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooMuch {
    pub reason: RefuseReason,
    pub message: String,
}

/// Walks a decompressed `WriteRequest`, counting, within `bounds`. `Err(None)`: the bytes are
/// no protobuf message (the decoder says why).
pub fn check(body: &[u8], bounds: Bounds) -> Result<(), Option<TooMuch>> {
    let (mut series, mut samples) = (0usize, 0usize);
    walk(body, 0, |f| {
        let (1, Field::Bytes(ts)) = f else { return Ok(()) };
        series += 1;
        if series > bounds.max_series {
            return Err(Some(TooMuch {
                reason: RefuseReason::TooManySeries,
                message: format!(
                    "timeseries: the request has more than {} series (remote_write.max_series_per_request): \
                     send fewer per request (queue_config.max_samples_per_send)",
                    bounds.max_series
                ),
            }));
        }
        let mut labels = 0usize;
        walk(ts, 1, |f| {
            match f.0 {
                1 => {
                    labels += 1;
                    if labels > bounds.max_labels {
                        return Err(Some(TooMuch {
                            reason: RefuseReason::TooManyLabels,
                            message: format!(
                                "timeseries[{}].labels: more than {} labels in one series",
                                series - 1,
                                bounds.max_labels
                            ),
                        }));
                    }
                }
                2 => {
                    samples += 1;
                    if samples > bounds.max_samples {
                        return Err(Some(TooMuch {
                            reason: RefuseReason::TooManySamples,
                            message: format!(
                                "samples: the request has more than {} samples (remote_write.max_samples_per_request): \
                                 send fewer per request (queue_config.max_samples_per_send)",
                                bounds.max_samples
                            ),
                        }));
                    }
                }
                _ => {}
            }
            Ok(())
        })
    })
}
