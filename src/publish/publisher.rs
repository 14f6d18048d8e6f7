//! The publisher: drains the outbox into the sink, and decides what each failure means.
//!
//! A batch leaves the outbox only when CloudWatch accepted it, or when it is down to
//! single datums that CloudWatch rejected as invalid or too large (or that aged out of
//! CloudWatch's 14-day window); each such drop is counted and logged. Everything else is
//! retried with exponential backoff and jitter, at a rate that throttling lowers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{BoxSleep, SharedClock};
use crate::publish::backoff::backoff;
use crate::publish::outbox::{Attempt, Next, Outbox};
use crate::publish::rate::AdaptiveRate;
use crate::publish::sink::{ErrorClass, PutError, PutMetricData};
use crate::telemetry::Telemetry;
use cw_core::reasons::{DropReason, PutOutcome};

/// PutMetricData calls in flight at once.
pub const MAX_IN_FLIGHT: usize = 4;

/// Drains the outbox into the sink.
pub struct Publisher {
    outbox: Arc<Outbox>,
    sink: Arc<dyn PutMetricData>,
    rate: Arc<AdaptiveRate>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
}

impl Publisher {
    pub fn new(
        outbox: Arc<Outbox>,
        sink: Arc<dyn PutMetricData>,
        rate: Arc<AdaptiveRate>,
        telemetry: Arc<Telemetry>,
        clock: SharedClock,
    ) -> Publisher {
        Publisher { outbox, sink, rate, telemetry, clock }
    }

    /// Runs until `stop`, then waits for the attempts in flight (each bounded by the sink's
    /// attempt timeout) and returns once their outcome is in the outbox.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let attempts = TaskTracker::new();
        self.dispatch(&attempts, &stop).await;
        attempts.close();
        attempts.wait().await;
    }

    /// Starts attempts, at most [`MAX_IN_FLIGHT`] at once, until `stop`.
    async fn dispatch(self: &Arc<Self>, attempts: &TaskTracker, stop: &CancellationToken) {
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            // The semaphore is never closed: an error cannot come, and would end the loop.
            let permit = tokio::select! {
                p = in_flight.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = stop.cancelled() => return,
            };
            let attempt = loop {
                let wait: BoxSleep = match self.outbox.take_ready() {
                    Next::Ready(attempt) => break attempt,
                    Next::WaitUntil(at) => self.clock.sleep_until(at),
                    Next::Empty => Box::pin(std::future::pending()),
                };
                tokio::select! {
                    _ = wait => {}
                    _ = self.outbox.changed() => {}
                    _ = stop.cancelled() => return,
                }
            };
            let Some(attempt) = self.outbox.expire(attempt) else {
                continue;
            };
            tokio::select! {
                _ = self.rate.acquire() => {}
                _ = stop.cancelled() => {
                    self.outbox.put_back(attempt);
                    return;
                }
            }
            let this = self.clone();
            attempts.spawn(async move {
                let started = this.clock.elapsed();
                let result = this.sink.put(attempt.batch()).await;
                let took = this.clock.elapsed().saturating_sub(started);
                this.complete(attempt, result, took);
                drop(permit);
            });
        }
    }

    /// What an attempt's result means for its batch.
    fn complete(&self, attempt: Attempt, result: Result<(), PutError>, took: Duration) {
        let n = attempt.batch().len();
        let outcome = match &result {
            Ok(()) => PutOutcome::Success,
            Err(e) => e.class.outcome(),
        };
        self.telemetry.put_call(outcome, took.as_secs_f64());
        self.telemetry.cost.call_at(self.clock.now_ms());
        let Err(error) = result else {
            self.rate.on_success();
            self.outbox.succeeded(attempt);
            return;
        };
        let namespace = attempt.batch().namespace.clone();
        match error.class {
            ErrorClass::Invalid | ErrorClass::TooLarge if n > 1 => {
                tracing::warn!(%namespace, datums = n, error = %error, "bisecting a rejected PutMetricData request");
                self.outbox.split(attempt);
            }
            ErrorClass::Invalid | ErrorClass::TooLarge => {
                let datum = serde_json::to_string(&attempt.batch().metric_data[0]).unwrap_or_default();
                tracing::error!(%namespace, %datum, error = %error, "CloudWatch rejected a datum; dropping it");
                let reason =
                    if error.class == ErrorClass::Invalid { DropReason::Invalid } else { DropReason::TooLarge };
                self.outbox.dropped(attempt, reason);
            }
            class => {
                if class == ErrorClass::Throttled {
                    self.rate.on_throttle();
                }
                let attempts = attempt.failures() + 1;
                let delay = backoff(attempts);
                match class {
                    ErrorClass::Auth | ErrorClass::Unexpected => tracing::error!(
                        %namespace, datums = n, attempts, retry_in = ?delay, error = %error,
                        "PutMetricData failed; check credentials and IAM permissions (cloudwatch:PutMetricData). Retrying"
                    ),
                    _ => tracing::warn!(
                        %namespace, datums = n, attempts, retry_in = ?delay, error = %error,
                        "PutMetricData failed; retrying"
                    ),
                }
                self.telemetry.retry();
                self.outbox.retry_later(attempt, delay);
            }
        }
    }
}

#[cfg(test)]
#[path = "publisher_tests.rs"]
mod tests;
