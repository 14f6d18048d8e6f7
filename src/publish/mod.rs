//! From closed windows to CloudWatch: datums, batches, the outbox and the sink.
//!
//! - [`datum`], [`batch`]: closed windows become datums, datums become requests.
//! - [`outbox`]: the unpublished batches, and every change to them as a named operation
//!   (budget release and flush tracking happen there and nowhere else).
//! - [`tracker`]: what `/v1/flush` and shutdown wait on.
//! - [`publisher`]: the loop that takes batches out, calls the sink, and decides what
//!   each failure means; [`backoff`] and [`rate`] pace it.
//! - [`sink`]: the [`sink::PutMetricData`] trait and its implementations.

pub(crate) mod backoff;
pub(crate) mod outbox;
pub(crate) mod publisher;
pub(crate) mod rate;
pub mod sink;
pub(crate) mod tracker;
