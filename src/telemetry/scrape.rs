//! The health of each Prometheus scrape target: its families in `/metrics` (labelled by target,
//! every outcome and reason pre-created when the target is configured), and the last values the
//! self metrics publish.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use cw_core::reasons::{ScrapeOutcome, ScrapeRefusal};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Target {
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetOutcome {
    target: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetReason {
    target: String,
    reason: &'static str,
}

/// A scrape target's health after its last scrape: what `/metrics` and the self metrics show.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TargetHealth {
    pub up: bool,
    pub duration_seconds: f64,
    /// Series published by the last successful scrape.
    pub series_published: u64,
    /// Series the cap refused in the last successful scrape.
    pub series_capped: u64,
}

#[derive(Default)]
pub(crate) struct Scrapes {
    up: Family<Target, Gauge>,
    duration: Family<Target, Gauge<f64, AtomicU64>>,
    series_published: Family<Target, Gauge>,
    series_capped: Family<Target, Gauge>,
    scrapes: Family<TargetOutcome, Counter>,
    series_refused: Family<TargetReason, Counter>,
    health: Mutex<BTreeMap<String, TargetHealth>>,
}

impl Scrapes {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("scrape_up", "1 when the target's last scrape succeeded, by target", self.up.clone());
        registry.register(
            "scrape_duration_seconds",
            "Duration of the target's last scrape, by target",
            self.duration.clone(),
        );
        registry.register(
            "scrape_series_published",
            "Series the target's last scrape published, by target",
            self.series_published.clone(),
        );
        registry.register(
            "scrape_series_capped",
            "Series max_series_per_target refused in the target's last scrape, by target",
            self.series_capped.clone(),
        );
        registry.register("scrapes", "Scrapes, by target and outcome", self.scrapes.clone());
        registry.register(
            "scrape_series_refused",
            "Scraped series (or lines) not published, by target and reason",
            self.series_refused.clone(),
        );
    }

    /// Makes a target's series, so that they show before its first scrape.
    pub fn target(&self, target: &str) {
        let t = || target.to_string();
        drop(self.up.get_or_create(&Target { target: t() }));
        drop(self.duration.get_or_create(&Target { target: t() }));
        drop(self.series_published.get_or_create(&Target { target: t() }));
        drop(self.series_capped.get_or_create(&Target { target: t() }));
        for o in ScrapeOutcome::ALL {
            drop(self.scrapes.get_or_create(&TargetOutcome { target: t(), outcome: o.label() }));
        }
        for r in ScrapeRefusal::ALL {
            drop(self.series_refused.get_or_create(&TargetReason { target: t(), reason: r.label() }));
        }
        self.health.lock().unwrap_or_else(|e| e.into_inner()).entry(t()).or_default();
    }

    /// One scrape ended; `series` (published, capped) when it was submitted.
    pub fn scraped(&self, target: &str, outcome: ScrapeOutcome, seconds: f64, series: Option<(usize, usize)>) {
        let t = || Target { target: target.to_string() };
        self.scrapes.get_or_create(&TargetOutcome { target: target.to_string(), outcome: outcome.label() }).inc();
        let up = outcome == ScrapeOutcome::Success;
        self.up.get_or_create(&t()).set(up as i64);
        self.duration.get_or_create(&t()).set(seconds);
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let h = health.entry(target.to_string()).or_default();
        (h.up, h.duration_seconds) = (up, seconds);
        if let Some((published, capped)) = series {
            self.series_published.get_or_create(&t()).set(published as i64);
            self.series_capped.get_or_create(&t()).set(capped as i64);
            (h.series_published, h.series_capped) = (published as u64, capped as u64);
        }
    }

    pub fn refused(&self, target: &str, reason: ScrapeRefusal, n: usize) {
        let labels = TargetReason { target: target.to_string(), reason: reason.label() };
        self.series_refused.get_or_create(&labels).inc_by(n as u64);
    }

    /// Every target's health, by target.
    pub fn health(&self) -> Vec<(String, TargetHealth)> {
        let health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        health.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}
