//! The disk spool in `/metrics`: its size, its commits, what a start replayed, and every damaged
//! stretch, skipped byte, expired record and failed operation, by reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use cw_core::reasons::{SpoolDamage, SpoolOp, SpoolReplayed};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Op {
    op: &'static str,
}

#[derive(Default)]
pub(crate) struct Spool {
    bytes: Gauge,
    max_bytes: Gauge,
    commits: Counter,
    replayed: Family<Kind, Counter>,
    damaged: Family<Reason, Counter>,
    skipped_bytes: Counter,
    expired: Counter,
    errors: Family<Op, Counter>,
}

impl Spool {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("spool_bytes", "Bytes of the disk spool's files", self.bytes.clone());
        registry.register("spool_max_bytes", "Bound on the disk spool (spool.max_bytes)", self.max_bytes.clone());
        registry.register(
            "spool_commits",
            "Writes of the write-ahead log (each one fsync under sync = always)",
            self.commits.clone(),
        );
        registry.register("spool_replayed", "What starts replayed from the spool, by kind", self.replayed.clone());
        registry.register(
            "spool_damaged",
            "Damaged stretches of spool files skipped at start, by reason",
            self.damaged.clone(),
        );
        registry.register("spool_skipped_bytes", "Bytes of spool files skipped as damaged", self.skipped_bytes.clone());
        registry.register(
            "spool_expired",
            "Records and datums of the spool dropped at start as older than CloudWatch's 14 days",
            self.expired.clone(),
        );
        registry.register("spool_errors", "Failed spool operations, by operation", self.errors.clone());
        SpoolReplayed::ALL.iter().for_each(|k| drop(self.replayed.get_or_create(&Kind { kind: k.label() })));
        SpoolDamage::ALL.iter().for_each(|r| drop(self.damaged.get_or_create(&Reason { reason: r.label() })));
        SpoolOp::ALL.iter().for_each(|o| drop(self.errors.get_or_create(&Op { op: o.label() })));
    }

    pub fn set_bytes(&self, used: u64, max: u64) {
        self.bytes.set(used as i64);
        self.max_bytes.set(max as i64);
    }

    pub fn committed(&self) {
        self.commits.inc();
    }

    pub fn replayed(&self, kind: SpoolReplayed, n: usize) {
        self.replayed.get_or_create(&Kind { kind: kind.label() }).inc_by(n as u64);
    }

    pub fn damaged(&self, reason: SpoolDamage, bytes: usize) {
        self.damaged.get_or_create(&Reason { reason: reason.label() }).inc();
        self.skipped_bytes.inc_by(bytes as u64);
    }

    pub fn expired(&self, n: usize) {
        self.expired.inc_by(n as u64);
    }

    pub fn failed(&self, op: SpoolOp) {
        self.errors.get_or_create(&Op { op: op.label() }).inc();
    }
}
