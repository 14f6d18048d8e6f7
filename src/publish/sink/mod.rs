//! Where PutMetricData requests go, behind [`PutMetricData`]: CloudWatch through the AWS
//! SDK ([`cloudwatch`]), or stdout in dry-run ([`dry_run`]). Tests put a scripted fake in
//! their place.

use std::time::Duration;

use cw_core::publish::batch::Batch;

mod classify;
pub(crate) mod cloudwatch;
pub mod compat;
pub(crate) mod dry_run;
mod put;

pub use classify::{ErrorClass, PutError, classify};
pub use put::{BoxFuture, PutMetricData};

/// The sinks the binary can choose from.
pub enum Sink {
    CloudWatch(cloudwatch::CloudWatch),
    /// Prints each request as one JSON line on stdout.
    DryRun,
}

impl Sink {
    /// A CloudWatch client from the SDK's standard chain (region, credentials, endpoint).
    /// `integer_timestamps: None` turns them on exactly when a custom endpoint is set.
    pub async fn from_environment(attempt_timeout: Duration, integer_timestamps: Option<bool>) -> anyhow::Result<Sink> {
        Ok(Sink::CloudWatch(cloudwatch::CloudWatch::from_environment(attempt_timeout, integer_timestamps).await?))
    }

    /// A CloudWatch client from `builder`, with one attempt per call and a timeout on it.
    /// With `integer_timestamps`, bodies are rewritten for emulators (see [`compat`]).
    pub fn cloudwatch(
        builder: aws_sdk_cloudwatch::config::Builder,
        attempt_timeout: Duration,
        integer_timestamps: bool,
    ) -> Sink {
        Sink::CloudWatch(cloudwatch::CloudWatch::new(builder, attempt_timeout, integer_timestamps))
    }
}

impl PutMetricData for Sink {
    fn put<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PutError>> {
        match self {
            Sink::CloudWatch(client) => client.put(batch),
            // A unit struct: `&DryRun` is promoted to a `&'static`.
            Sink::DryRun => PutMetricData::put(&dry_run::DryRun, batch),
        }
    }
}
