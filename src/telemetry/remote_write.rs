//! Remote-write in `/metrics`: its samples by outcome, why samples were ignored or rejected
//! (every label pre-created), and the series state against its bounds. Its requests refused
//! as a whole are in `requests_refused_total{reason}` with every HTTP input's.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use cw_core::reasons::{RemoteWriteIgnored, RemoteWriteOutcome, RemoteWriteReject};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Default)]
pub(crate) struct RemoteWrite {
    samples: Family<Outcome, Counter>,
    ignored: Family<Reason, Counter>,
    rejected: Family<Reason, Counter>,
    series: Gauge,
    state_bytes: Gauge,
}

impl RemoteWrite {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("remote_write_samples", "Remote-write samples, by outcome", self.samples.clone());
        registry.register(
            "remote_write_samples_ignored",
            "Remote-write samples not published without being an error (old_timestamp: a sender's retry), by reason",
            self.ignored.clone(),
        );
        registry.register(
            "remote_write_samples_rejected",
            "Remote-write samples rejected, by reason",
            self.rejected.clone(),
        );
        registry.register(
            "remote_write_series",
            "Remote-write series remembered (bounded by remote_write.max_series)",
            self.series.clone(),
        );
        registry.register(
            "remote_write_state_bytes",
            "Bytes the remote-write series state is charged (bounded by remote_write.max_state_bytes)",
            self.state_bytes.clone(),
        );
        for o in RemoteWriteOutcome::ALL {
            drop(self.samples.get_or_create(&Outcome { outcome: o.label() }));
        }
        for r in RemoteWriteIgnored::ALL {
            drop(self.ignored.get_or_create(&Reason { reason: r.label() }));
        }
        for r in RemoteWriteReject::ALL {
            drop(self.rejected.get_or_create(&Reason { reason: r.label() }));
        }
    }

    pub fn samples(&self, outcome: RemoteWriteOutcome, n: usize) {
        if n > 0 {
            self.samples.get_or_create(&Outcome { outcome: outcome.label() }).inc_by(n as u64);
        }
    }

    pub fn ignored(&self, reason: RemoteWriteIgnored, n: usize) {
        if n > 0 {
            self.ignored.get_or_create(&Reason { reason: reason.label() }).inc_by(n as u64);
        }
    }

    pub fn rejected(&self, reason: RemoteWriteReject, n: usize) {
        if n > 0 {
            self.rejected.get_or_create(&Reason { reason: reason.label() }).inc_by(n as u64);
        }
    }

    pub fn state(&self, series: usize, bytes: usize) {
        self.series.set(series as i64);
        self.state_bytes.set(bytes as i64);
    }
}
