//! What the pipeline counts: a trait of its own, which the sidecar's telemetry implements, so
//! that the pipeline imports none of it.

use crate::reasons::{CatalogReason, RefuseReason, RejectReason, SeriesBound};

/// What the pipeline counts, as the sidecar's telemetry takes it.
pub trait Counters: Send + Sync + 'static {
    /// Records of a counted input that reached the pipeline.
    fn received(&self, n: usize);
    /// One record turned away, for `reason`.
    fn rejected(&self, reason: RejectReason);
    /// Records of a counted input in their windows (durable first, with a journal).
    fn accepted(&self, n: usize);
    /// A submission refused as a whole.
    fn refused(&self, reason: RefuseReason);
    /// A rollup a metric rule (`rule`, its label) could not make: the record lacks one of
    /// its dimensions.
    fn rollup_skipped(&self, _rule: &str) {}
    /// Records that went to their metric's overflow series, over `bound`.
    fn series_overflow(&self, _bound: SeriesBound, _n: usize) {}
    /// Records refused for the series budget, over `bound` (derived ones included).
    fn series_refused(&self, _bound: SeriesBound, _n: usize) {}
    /// A record the metric catalog does not declare, for `reason`; `refused` in strict mode.
    fn catalog_undeclared(&self, _reason: CatalogReason, _refused: bool) {}
}

/// Counts nothing: for tests and benches of the pure pipeline.
pub struct Uncounted;

impl Counters for Uncounted {
    fn received(&self, _: usize) {}
    fn rejected(&self, _: RejectReason) {}
    fn accepted(&self, _: usize) {}
    fn refused(&self, _: RefuseReason) {}
}
