//! Where PutMetricData requests go: CloudWatch through the AWS SDK, or stdout in dry-run.
//!
//! The SDK's own retries are off and every attempt has a timeout: the publisher owns
//! retries, so rate limiting and backoff apply to each attempt.

use std::io::Write;
use std::time::Duration;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};

use crate::publish::batch::Batch;
use crate::publish::datum::{Datum, DatumValues};
use crate::telemetry::reasons::PutOutcome;

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

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PutError {
    pub class: ErrorClass,
    pub code: Option<String>,
    pub message: String,
}

pub mod compat;

pub enum Sink {
    CloudWatch(aws_sdk_cloudwatch::Client),
    /// Prints each request as one JSON line on stdout.
    DryRun,
}

impl Sink {
    /// A CloudWatch client from the SDK's standard chain (region, credentials, endpoint).
    /// `integer_timestamps: None` turns them on exactly when a custom endpoint is set.
    pub async fn from_environment(attempt_timeout: Duration, integer_timestamps: Option<bool>) -> anyhow::Result<Sink> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if sdk.region().is_none() {
            anyhow::bail!(
                "no AWS region configured: set AWS_REGION (or a profile's region), or run with --dry-run to print requests instead"
            );
        }
        let integer_timestamps = integer_timestamps.unwrap_or(sdk.endpoint_url().is_some());
        if let Some(endpoint) = sdk.endpoint_url() {
            tracing::info!(endpoint, integer_timestamps, "using a custom CloudWatch endpoint");
        }
        let builder = aws_sdk_cloudwatch::config::Builder::from(&sdk);
        Ok(Sink::cloudwatch(builder, attempt_timeout, integer_timestamps))
    }

    /// A CloudWatch client from `builder`, with one attempt per call and a timeout on it.
    /// With `integer_timestamps`, bodies are rewritten for emulators (see [`crate::compat`]).
    pub fn cloudwatch(
        mut builder: aws_sdk_cloudwatch::config::Builder,
        attempt_timeout: Duration,
        integer_timestamps: bool,
    ) -> Sink {
        if integer_timestamps {
            builder =
                builder.disable_request_compression(true).interceptor(crate::publish::sink::compat::IntegerTimestamps);
        }
        let config = builder
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(attempt_timeout.min(Duration::from_secs(3)))
                    .operation_attempt_timeout(attempt_timeout)
                    .operation_timeout(attempt_timeout)
                    .build(),
            )
            .build();
        Sink::CloudWatch(aws_sdk_cloudwatch::Client::from_conf(config))
    }

    pub async fn put(&self, batch: &Batch) -> Result<(), PutError> {
        match self {
            Sink::DryRun => {
                let line = serde_json::to_string(batch).expect("batches serialize");
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").and_then(|_| out.flush()).map_err(|e| PutError {
                    class: ErrorClass::Transient,
                    code: None,
                    message: format!("writing to stdout: {e}"),
                })
            }
            Sink::CloudWatch(client) => client
                .put_metric_data()
                .namespace(batch.namespace.as_ref())
                .set_metric_data(Some(batch.metric_data.iter().map(to_sdk).collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(from_sdk_error),
        }
    }
}

fn to_sdk(d: &Datum) -> MetricDatum {
    let builder = MetricDatum::builder()
        .metric_name(&d.metric_name)
        .set_dimensions(Some(
            d.dimensions.iter().map(|x| Dimension::builder().name(&x.name).value(&x.value).build()).collect(),
        ))
        .timestamp(DateTime::from_millis(d.timestamp))
        .unit(StandardUnit::from(d.unit.as_str()))
        .storage_resolution(d.storage_resolution.seconds() as i32);
    match &d.values {
        DatumValues::Distribution { values, counts } => {
            builder.set_values(Some(values.clone())).set_counts(Some(counts.clone())).build()
        }
        DatumValues::Statistics { statistic_values: s } => builder
            .statistic_values(
                StatisticSet::builder().sample_count(s.sample_count).sum(s.sum).minimum(s.min).maximum(s.max).build(),
            )
            .build(),
    }
}

fn from_sdk_error(err: SdkError<PutMetricDataError, HttpResponse>) -> PutError {
    match &err {
        SdkError::ServiceError(e) => {
            let code = e.err().code().map(str::to_string);
            let status = e.raw().status().as_u16();
            let message = format!(
                "{} (HTTP {status}): {}",
                code.as_deref().unwrap_or("unknown error"),
                e.err().message().unwrap_or("no message")
            );
            PutError { class: classify(code.as_deref(), Some(status)), code, message }
        }
        SdkError::ResponseError(e) => PutError {
            class: classify(None, Some(e.raw().status().as_u16())),
            code: None,
            message: format!("unreadable response (HTTP {})", e.raw().status().as_u16()),
        },
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            PutError { class: ErrorClass::Transient, code: None, message: DisplayErrorContext(&err).to_string() }
        }
        _ => PutError { class: ErrorClass::Unexpected, code: None, message: DisplayErrorContext(&err).to_string() },
    }
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
}
