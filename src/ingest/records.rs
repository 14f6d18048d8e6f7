//! Our own records over HTTP: a JSON or NDJSON body of `POST /v1/metrics` is read into the
//! pipeline (in one pass when every record can be read, the core's
//! `ingest::json::submit`), and the pipeline's answer is 202 with what was accepted and
//! rejected by index, or 400 when nothing was.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use cw_core::ingest::json::BodyKind;
use cw_core::ingest::json::submit::submit_body;
use cw_core::pipeline::{Accepted, Input};

use crate::ingest::http::{Http, IngestError, off_the_workers};

/// The body formats of our records, by the request's media type.
pub fn kind(media: Option<crate::ingest::http::MediaType>) -> Option<BodyKind> {
    use crate::ingest::http::MediaType;
    match media {
        Some(MediaType::Json) => Some(BodyKind::Json),
        Some(MediaType::NdJson) => Some(BodyKind::NdJson),
        _ => None,
    }
}

/// Submits a body of our format; with a spool, answers once its records are durable there.
pub async fn submit(http: &Http, bytes: &[u8], kind: BodyKind) -> Result<Accepted, IngestError> {
    let finished = off_the_workers(bytes.len(), || submit_body(&http.pipeline, Input::HTTP, bytes, kind));
    Ok(finished.map_err(IngestError::MalformedBody)?.durable().await?)
}

/// 202 with what was accepted and rejected (400 when nothing was accepted). The usual answer,
/// nothing rejected, is written directly: the same bytes serde_json would write.
pub fn answer(report: &Accepted) -> Response {
    let status = if report.accepted > 0 { StatusCode::ACCEPTED } else { StatusCode::BAD_REQUEST };
    if !report.rejected.is_empty() {
        return (status, axum::Json(report)).into_response();
    }
    const HEAD: &str = "{\"accepted\":";
    let mut body = String::with_capacity(HEAD.len() + 20 + 16);
    body.push_str(HEAD);
    body.push_str(itoa::Buffer::new().format(report.accepted));
    body.push_str(",\"rejected\":[]}");
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_written_answer_is_what_serde_json_writes() {
        for accepted in [0, 1, 17, 1000, usize::MAX] {
            let report = Accepted { accepted, rejected: vec![] };
            let response = answer(&report);
            let want = if accepted > 0 { StatusCode::ACCEPTED } else { StatusCode::BAD_REQUEST };
            assert_eq!(response.status(), want);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(body, serde_json::to_vec(&report).unwrap());
        }
    }
}
