//! Why a record cannot be accepted: `field: rule`, with the reason label for `/metrics`.

use crate::reasons::RejectReason;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub reason: RejectReason,
    pub message: String,
}

pub fn reject(reason: RejectReason, message: impl Into<String>) -> ValidationError {
    ValidationError { reason, message: message.into() }
}
