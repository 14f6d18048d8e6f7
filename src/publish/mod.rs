//! From closed windows to CloudWatch: datums, batches, the outbox and the sink.

pub mod batch;
pub mod datum;
pub mod outbox;
pub mod rate;
pub mod sink;
