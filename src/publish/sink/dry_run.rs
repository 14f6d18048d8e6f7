//! The dry-run sink: each request as one JSON line on stdout, nothing sent to AWS.

use std::io::Write;

use super::classify::{ErrorClass, PutError};
use super::put::{BoxFuture, PutMetricData};
use cw_core::publish::batch::Batch;

/// Prints each request as one JSON line on stdout.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRun;

impl PutMetricData for DryRun {
    fn put<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PutError>> {
        Box::pin(async move {
            // A datum that cannot be written (a timestamp no calendar holds) is invalid: the
            // publisher bisects it out and drops it alone, never its batch-mates.
            let line = serde_json::to_string(batch).map_err(|e| PutError {
                class: ErrorClass::Invalid,
                code: None,
                message: format!("cannot write the request: {e}"),
            })?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").and_then(|_| out.flush()).map_err(|e| PutError {
                class: ErrorClass::Transient,
                code: None,
                message: format!("writing to stdout: {e}"),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use cw_core::domain::units::{Resolution, Unit};
    use cw_core::publish::datum::{Datum, DatumValues};

    #[tokio::test]
    async fn a_timestamp_no_calendar_holds_is_invalid_not_a_panic() {
        let datum = Datum {
            namespace: Arc::from("App"),
            metric_name: "Evil".into(),
            dimensions: vec![],
            timestamp: i64::MAX,
            unit: Unit::None,
            storage_resolution: Resolution::Standard,
            values: DatumValues::Distribution { values: vec![1.0], counts: vec![1.0] },
        };
        let batch = Batch { namespace: Arc::from("App"), metric_data: vec![datum] };
        let error = DryRun.put(&batch).await.unwrap_err();
        assert_eq!(error.class, ErrorClass::Invalid, "{error}");
    }
}
