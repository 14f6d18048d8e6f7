//! From closed windows to CloudWatch: datums, batches, the outbox and the sink.
//!
//! - the core's `publish::datum` and `publish::batch`: closed windows become datums, datums
//!   become requests.
//! - [`outbox`]: the unpublished batches, and every change to them as a named operation
//!   (buffer release and flush tracking happen there and nowhere else); [`store`]: the
//!   trait of where it keeps batches out of memory (the disk spool).
//! - [`tracker`]: what `/v1/flush` and shutdown wait on.
//! - [`publisher`]: the loop that takes batches out, calls the sink, and decides what
//!   each failure means; [`backoff`] and [`rate`] pace it.
//! - [`sink`]: the [`sink::PutMetricData`] trait and its implementations.

pub(crate) mod backoff;
pub(crate) mod outbox;
pub(crate) mod publisher;
pub(crate) mod rate;
pub mod sink;
pub(crate) mod store;
pub(crate) mod tracker;
