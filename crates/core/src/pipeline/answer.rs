//! The pipeline's answer to a submission: what it accepted and rejected, or why it refused
//! the whole submission.

use std::time::Duration;

use serde::Serialize;

use crate::reasons::{RefuseReason, RejectReason};

/// A record turned away, by its zero-based index in the submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub error: String,
    /// The record's metric name, when it had one (for an input's log lines; not answered).
    #[serde(skip)]
    pub name: Option<String>,
    #[serde(skip)]
    pub reason: RejectReason,
}

/// The answer to a submission that was not refused as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
}

/// Why nothing of a submission was accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("shutting down: not accepting records")]
    ShuttingDown,
    #[error("buffer full: {used} of max_buffered_datums {max} in use; nothing of this request was accepted")]
    BufferFull { used: usize, max: usize, retry_after: Duration },
    /// Even an empty buffer could not take the request's datums. `windows` counts its
    /// distinct series-windows.
    #[error(
        "the request's {windows} series-windows need more datums of the buffer than max_buffered_datums ({max}): split the request"
    )]
    NeverFits { windows: usize, max: usize },
    #[error("spool full: {used} of spool.max_bytes {max} bytes in use; nothing of this request was accepted")]
    SpoolFull { used: u64, max: u64, retry_after: Duration },
    /// Writing the records to the spool failed (logged and counted there).
    #[error("the spool could not write this request's records (see the sidecar's log); nothing of it was accepted")]
    SpoolFailed,
    /// The sidecar's resident memory is above the high mark of `max_memory`.
    #[error(
        "memory high: {rss} bytes resident, over the high mark {high} of max_memory; nothing of this request was accepted"
    )]
    MemoryHigh { rss: u64, high: u64 },
}

impl Refusal {
    pub fn reason(&self) -> RefuseReason {
        match self {
            Refusal::ShuttingDown => RefuseReason::ShuttingDown,
            Refusal::BufferFull { .. } => RefuseReason::BufferFull,
            Refusal::NeverFits { .. } => RefuseReason::TooLarge,
            Refusal::SpoolFull { .. } => RefuseReason::SpoolFull,
            Refusal::SpoolFailed => RefuseReason::SpoolError,
            Refusal::MemoryHigh { .. } => RefuseReason::MemoryHigh,
        }
    }

    /// When retrying may succeed; `None` when it never will.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::ShuttingDown => Some(Duration::from_secs(5)),
            Refusal::BufferFull { retry_after, .. } | Refusal::SpoolFull { retry_after, .. } => Some(*retry_after),
            Refusal::SpoolFailed | Refusal::MemoryHigh { .. } => Some(Duration::from_secs(1)),
            Refusal::NeverFits { .. } => None,
        }
    }
}
