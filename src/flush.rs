//! The step from the pipeline to publishing: closed windows become datums, datums become
//! batches, batches go into the outbox. Runs on the flush timer, on `/v1/flush` and at
//! shutdown (then with open windows too).

use std::sync::Arc;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::ingest::self_metrics;
use crate::publish::outbox::Outbox;
use crate::publish::rate::AdaptiveRate;
use crate::publish::tracker::{FlushCounts, FlushTracker};
use crate::spool::Spool;
use crate::telemetry::Telemetry;
use cw_core::pipeline::Pipeline;
use cw_core::publish::batch::into_batches;
use cw_core::publish::datum::{Datum, datums_for};

pub struct Flusher {
    pub pipeline: Arc<Pipeline>,
    pub outbox: Arc<Outbox>,
    pub telemetry: Arc<Telemetry>,
    pub rate: Arc<AdaptiveRate>,
    /// The disk spool, when there is one: its log is sealed and trimmed around each drain.
    pub spool: Option<Arc<Spool>>,
    pub self_metrics_namespace: String,
    /// The self metrics published (`self_metrics`).
    pub self_metrics: Vec<String>,
    /// How long `flush_and_wait` waits for publishing.
    pub wait: Duration,
    pub clock: SharedClock,
}

impl Flusher {
    /// Moves windows into the outbox: closed ones, or all with `include_open`. Records the
    /// self metrics of this flush first, so they go out with the windows they describe.
    ///
    /// With a spool, the log's segment is sealed before the drain, and once the drained
    /// windows are in batch files, the sealed segments they cover are deleted: each record is
    /// in one or the other (both, for a moment) until CloudWatch has it.
    pub fn flush(&self, include_open: bool, tracker: Option<&Arc<FlushTracker>>) {
        self_metrics::record(&self.pipeline, &self.telemetry, &self.self_metrics_namespace, &self.self_metrics);
        let spool = self.spool.as_ref();
        let sealed = spool.and_then(|s| s.seal());
        let (closed, ended) = self.pipeline.drain_ended(include_open);
        let datums: Vec<Datum> = closed.iter().flat_map(datums_for).collect();
        let slots = closed.iter().map(|c| c.window.slots()).sum();
        self.pipeline.buffer().windows_to_datums(slots, datums.len());
        let stored = self.outbox.push(into_batches(datums), tracker);
        // A batch whose file could not be written is in memory only: the log keeps its
        // records until a flush finds every batch on disk.
        if let (Some(spool), Some(below), true) = (spool, sealed, stored && self.outbox.unstored() == 0) {
            spool.covered(below, ended);
        }
        self.update_gauges();
    }

    /// Publishes everything now, open windows included, and waits up to `wait`.
    pub async fn flush_and_wait(&self) -> FlushCounts {
        let deadline = self.clock.elapsed() + self.wait;
        let tracker = Arc::new(FlushTracker::new(self.clock.clone()));
        self.outbox.track_all(&tracker);
        self.flush(true, Some(&tracker));
        tracker.wait(deadline).await
    }

    pub fn update_gauges(&self) {
        self.telemetry.set_gauges(self.pipeline.buffer().used(), self.pipeline.active_series(), self.rate.current());
    }
}
