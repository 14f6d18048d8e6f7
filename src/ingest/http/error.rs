//! Everything an HTTP input can refuse as a whole, and the one place that maps it to a status.
//! Bad input is answered with what was wrong; it is never an internal error.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use cw_core::pipeline::Refusal;
use cw_core::reasons::RefuseReason;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("missing or wrong bearer token (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("Content-Type must be application/json or application/x-ndjson (or, for OTLP, application/x-protobuf)")]
    UnsupportedMediaType,
    #[error("Content-Encoding must be gzip, x-gzip or identity, got `{0}`")]
    UnsupportedEncoding(String),
    #[error("body exceeds max_body_bytes ({max} bytes){}", if *.decoded { " after decompression" } else { "" })]
    BodyTooLarge { max: usize, decoded: bool },
    #[error("the body did not arrive within body_read_timeout ({})", humantime::format_duration(*.0))]
    BodyTimeout(Duration),
    #[error("request bodies in memory already hold max_body_bytes_in_flight ({limit} bytes); retry shortly")]
    BodiesInFlight { limit: usize },
    #[error("could not read the body: {0}")]
    UnreadableBody(String),
    #[error("{0}")]
    MalformedBody(String),
    /// Headers that say the body is not what the endpoint takes (remote-write's
    /// `Content-Encoding: snappy`, say): 400, the problem named.
    #[error("{0}")]
    BadHeaders(String),
    /// Over a bound of an input's decoded-size budget (413): retrying it unchanged never helps.
    #[error("{message}")]
    OverBudget { reason: RefuseReason, message: String },
    /// The pipeline refused the whole submission (and counted it).
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl IngestError {
    /// The reason to count, for refusals decided here rather than by the pipeline.
    pub fn uncounted_reason(&self) -> Option<RefuseReason> {
        match self {
            IngestError::Unauthorized => Some(RefuseReason::Unauthorized),
            IngestError::UnsupportedMediaType | IngestError::UnsupportedEncoding(_) => {
                Some(RefuseReason::UnsupportedMediaType)
            }
            IngestError::BodyTooLarge { .. } => Some(RefuseReason::TooLarge),
            IngestError::BodyTimeout(_) => Some(RefuseReason::BodyTimeout),
            IngestError::BodiesInFlight { .. } => Some(RefuseReason::BodyBudget),
            IngestError::UnreadableBody(_) => Some(RefuseReason::UnreadableBody),
            IngestError::MalformedBody(_) => Some(RefuseReason::MalformedBody),
            IngestError::BadHeaders(_) => Some(RefuseReason::BadHeaders),
            IngestError::OverBudget { reason, .. } => Some(*reason),
            IngestError::Refused(_) => None,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            IngestError::Unauthorized => StatusCode::UNAUTHORIZED,
            IngestError::UnsupportedMediaType | IngestError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::BodyTooLarge { .. }
            | IngestError::OverBudget { .. }
            | IngestError::Refused(Refusal::NeverFits { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            IngestError::UnreadableBody(_) | IngestError::MalformedBody(_) | IngestError::BadHeaders(_) => {
                StatusCode::BAD_REQUEST
            }
            IngestError::Refused(
                Refusal::ShuttingDown
                | Refusal::BufferFull { .. }
                | Refusal::SpoolFull { .. }
                | Refusal::SpoolFailed
                | Refusal::MemoryHigh { .. },
            )
            | IngestError::BodiesInFlight { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(json!({ "error": self.to_string() }))).into_response();
        let headers = response.headers_mut();
        match &self {
            IngestError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The rest of the body is left unread: the connection cannot carry another request.
            IngestError::BodyTimeout(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            IngestError::BodiesInFlight { .. } => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            IngestError::Refused(refusal) => {
                if let Some(after) = refusal.retry_after() {
                    headers.insert(header::RETRY_AFTER, after.as_secs().max(1).into());
                }
            }
            _ => {}
        }
        response
    }
}
