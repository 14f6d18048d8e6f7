//! The one operation every sink has: a PutMetricData call.

use std::future::Future;
use std::pin::Pin;

use cw_core::publish::batch::Batch;

use super::classify::PutError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One PutMetricData call: the batch is accepted whole, or the error says why not.
pub trait PutMetricData: Send + Sync {
    fn put<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PutError>>;
}
