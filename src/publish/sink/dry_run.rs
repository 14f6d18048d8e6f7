//! The dry-run sink: each request as one JSON line on stdout, nothing sent to AWS.

use std::io::Write;

use crate::publish::batch::Batch;
use crate::publish::sink::{BoxFuture, ErrorClass, PutError, PutMetricData};

/// Prints each request as one JSON line on stdout.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRun;

impl PutMetricData for DryRun {
    fn put<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PutError>> {
        Box::pin(async move {
            let line = serde_json::to_string(batch).expect("batches serialize");
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").and_then(|_| out.flush()).map_err(|e| PutError {
                class: ErrorClass::Transient,
                code: None,
                message: format!("writing to stdout: {e}"),
            })
        })
    }
}
