//! The real sink: PutMetricData through the AWS SDK.
//!
//! The SDK's own retries are off and every attempt has a timeout: the publisher owns
//! retries, so rate limiting and backoff apply to each attempt.

use std::time::Duration;

use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};

use super::classify::{ErrorClass, PutError, classify};
use super::put::{BoxFuture, PutMetricData};
use cw_core::publish::batch::Batch;
use cw_core::publish::datum::{Datum, DatumValues};

/// A CloudWatch client with one attempt per call and a timeout on it.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatch {
    /// A client from the SDK's standard chain (region, credentials, endpoint).
    /// `integer_timestamps: None` turns them on exactly when a custom endpoint is set.
    pub async fn from_environment(
        attempt_timeout: Duration,
        integer_timestamps: Option<bool>,
    ) -> anyhow::Result<CloudWatch> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if sdk.region().is_none() {
            anyhow::bail!(
                "no AWS region configured (none in AWS_REGION, the profile or the instance metadata): set AWS_REGION (or a profile's region), or run with --dry-run to print requests instead"
            );
        }
        let integer_timestamps = integer_timestamps.unwrap_or(sdk.endpoint_url().is_some());
        if let Some(endpoint) = sdk.endpoint_url() {
            tracing::info!(endpoint, integer_timestamps, "using a custom CloudWatch endpoint");
        }
        let builder = aws_sdk_cloudwatch::config::Builder::from(&sdk);
        Ok(CloudWatch::new(builder, attempt_timeout, integer_timestamps))
    }

    /// A client from `builder`, with one attempt per call and a timeout on it. With
    /// `integer_timestamps`, bodies are rewritten for emulators (see [`super::compat`]).
    pub fn new(
        mut builder: aws_sdk_cloudwatch::config::Builder,
        attempt_timeout: Duration,
        integer_timestamps: bool,
    ) -> CloudWatch {
        if integer_timestamps {
            builder = builder.disable_request_compression(true).interceptor(super::compat::IntegerTimestamps);
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
        CloudWatch { client: aws_sdk_cloudwatch::Client::from_conf(config) }
    }
}

impl PutMetricData for CloudWatch {
    fn put<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PutError>> {
        Box::pin(async move {
            self.client
                .put_metric_data()
                .namespace(batch.namespace.as_ref())
                .set_metric_data(Some(batch.metric_data.iter().map(to_sdk).collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(from_sdk_error)
        })
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
