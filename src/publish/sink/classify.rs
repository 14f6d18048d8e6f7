//! What a failed PutMetricData means for the batch: the classes the publisher acts on.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};

use cw_core::reasons::PutOutcome;

/// How a failed call is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// CloudWatch asked us to slow down: lower the rate and retry.
    Throttled,
    /// 5xx, timeouts, connection errors: retry with backoff.
    Transient,
    /// Credentials or permissions: retry the same way, and say so loudly.
    Auth,
    /// Some datum is invalid: bisect so only the offending datums are dropped.
    Invalid,
    /// The request is too large: split it.
    TooLarge,
    /// Anything else: retried (never dropped) and logged as an error.
    Unexpected,
}

impl ErrorClass {
    pub fn outcome(self) -> PutOutcome {
        match self {
            ErrorClass::Throttled => PutOutcome::Throttled,
            ErrorClass::Transient => PutOutcome::Transient,
            ErrorClass::Auth => PutOutcome::Auth,
            ErrorClass::Invalid => PutOutcome::Invalid,
            ErrorClass::TooLarge => PutOutcome::TooLarge,
            ErrorClass::Unexpected => PutOutcome::Unexpected,
        }
    }
}

const INVALID: &[&str] = &["InvalidParameterValue", "InvalidParameterCombination", "MissingParameter"];
const AUTH: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "NotAuthorized",
];

/// Classifies by error code first; the HTTP status only where there is no known code
/// (throttling comes as a 400, like invalid input).
pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    let code = code.unwrap_or_default();
    // The SDK's own list of throttling codes, so both agree on what throttling is.
    if THROTTLING_ERRORS.contains(&code) {
        ErrorClass::Throttled
    } else if INVALID.contains(&code) {
        ErrorClass::Invalid
    } else if code == "RequestEntityTooLarge" || status == Some(413) {
        ErrorClass::TooLarge
    } else if AUTH.contains(&code) || matches!(status, Some(401 | 403)) {
        ErrorClass::Auth
    } else if status.is_some_and(|s| s >= 500)
        || TRANSIENT_ERRORS.contains(&code)
        || code.starts_with("InternalService")
    {
        ErrorClass::Transient
    } else {
        ErrorClass::Unexpected
    }
}

/// A failed PutMetricData call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PutError {
    pub class: ErrorClass,
    pub code: Option<String>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_code_before_status() {
        assert_eq!(classify(Some("Throttling"), Some(400)), ErrorClass::Throttled);
        assert_eq!(classify(Some("ThrottlingException"), Some(400)), ErrorClass::Throttled);
        assert_eq!(classify(Some("InvalidParameterValue"), Some(400)), ErrorClass::Invalid);
        assert_eq!(classify(Some("MissingParameter"), Some(400)), ErrorClass::Invalid);
        assert_eq!(classify(Some("InvalidParameterCombination"), Some(400)), ErrorClass::Invalid);
        assert_eq!(classify(Some("AccessDenied"), Some(403)), ErrorClass::Auth);
        assert_eq!(classify(Some("ExpiredToken"), Some(400)), ErrorClass::Auth);
        assert_eq!(classify(Some("InternalServiceError"), Some(500)), ErrorClass::Transient);
        assert_eq!(classify(None, Some(503)), ErrorClass::Transient);
        assert_eq!(classify(None, Some(413)), ErrorClass::TooLarge);
        assert_eq!(classify(Some("SomethingNew"), Some(400)), ErrorClass::Unexpected);
    }

    #[test]
    fn every_class_maps_to_its_put_outcome() {
        let pairs = [
            (ErrorClass::Throttled, PutOutcome::Throttled),
            (ErrorClass::Transient, PutOutcome::Transient),
            (ErrorClass::Auth, PutOutcome::Auth),
            (ErrorClass::Invalid, PutOutcome::Invalid),
            (ErrorClass::TooLarge, PutOutcome::TooLarge),
            (ErrorClass::Unexpected, PutOutcome::Unexpected),
        ];
        for (class, outcome) in pairs {
            assert_eq!(class.outcome(), outcome);
        }
    }
}
