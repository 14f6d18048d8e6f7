//! Cost control in `/metrics`: records sent to an overflow series or refused for the series
//! budget, by bound; rollups a rule could not make, by rule; records the metric catalog does
//! not declare, by reason and mode; and the PutMetricData calls of
//! the last hour, for the bill's estimate.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use cw_core::reasons::{CatalogReason, SeriesBound};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Bound {
    bound: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Undeclared {
    reason: &'static str,
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rule {
    rule: String,
}

/// Calls per minute over the last hour: minute number and count, one slot per minute.
struct Minutes([(i64, u64); 60]);

impl Default for Minutes {
    fn default() -> Minutes {
        Minutes([(i64::MIN, 0); 60])
    }
}

impl Minutes {
    fn add(&mut self, now_ms: i64) {
        let minute = now_ms.div_euclid(60_000);
        let slot = &mut self.0[minute.rem_euclid(60) as usize];
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 += 1;
    }

    /// Calls in the 60 minutes up to `now_ms`.
    fn last_hour(&self, now_ms: i64) -> u64 {
        let minute = now_ms.div_euclid(60_000);
        self.0.iter().filter(|(m, _)| *m <= minute && minute.saturating_sub(*m) < 60).map(|(_, n)| n).sum()
    }
}

#[derive(Default)]
pub(crate) struct Cost {
    overflow: Family<Bound, Counter>,
    refused: Family<Bound, Counter>,
    rollups_skipped: Family<Rule, Counter>,
    undeclared: Family<Undeclared, Counter>,
    calls: Mutex<Minutes>,
}

impl Cost {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "series_overflow_records",
            "Records that joined their metric's AllOther series, by the series budget's bound they met",
            self.overflow.clone(),
        );
        registry.register(
            "series_refused_records",
            "Records refused for the series budget (overflow = \"refuse\", or no overflow series left), by bound",
            self.refused.clone(),
        );
        registry.register(
            "rule_rollups_skipped",
            "Rollups a metric rule could not make: the record lacked one of the rollup's dimensions",
            self.rollups_skipped.clone(),
        );
        registry.register(
            "catalog_undeclared_records",
            "Records the metric catalog does not declare, by reason (metric, dimension, unit) and catalog_mode (strict: rejected; lenient: published)",
            self.undeclared.clone(),
        );
        for b in SeriesBound::ALL {
            drop(self.overflow.get_or_create(&Bound { bound: b.label() }));
            drop(self.refused.get_or_create(&Bound { bound: b.label() }));
        }
    }

    /// The rules' labels, so that their counters show before the first skip.
    pub fn rules(&self, labels: impl IntoIterator<Item = String>) {
        for rule in labels {
            drop(self.rollups_skipped.get_or_create(&Rule { rule }));
        }
    }

    pub fn overflowed(&self, bound: SeriesBound, n: usize) {
        self.overflow.get_or_create(&Bound { bound: bound.label() }).inc_by(n as u64);
    }

    pub fn refused(&self, bound: SeriesBound, n: usize) {
        self.refused.get_or_create(&Bound { bound: bound.label() }).inc_by(n as u64);
    }

    /// With a catalog: its counters at zero, for every reason.
    pub fn catalog(&self, mode: &'static str) {
        for r in CatalogReason::ALL {
            drop(self.undeclared.get_or_create(&Undeclared { reason: r.label(), mode }));
        }
    }

    pub fn undeclared(&self, reason: CatalogReason, mode: &'static str) {
        self.undeclared.get_or_create(&Undeclared { reason: reason.label(), mode }).inc();
    }

    pub fn rollup_skipped(&self, rule: &str) {
        self.rollups_skipped.get_or_create(&Rule { rule: rule.to_string() }).inc();
    }

    /// Records overflowed and refused, over every bound.
    pub fn totals(&self) -> (u64, u64) {
        let sum = |f: &Family<Bound, Counter>| {
            SeriesBound::ALL.iter().map(|b| f.get_or_create(&Bound { bound: b.label() }).get()).sum()
        };
        (sum(&self.overflow), sum(&self.refused))
    }

    /// A PutMetricData call made at `now_ms`.
    pub fn call_at(&self, now_ms: i64) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).add(now_ms);
    }

    pub fn calls_last_hour(&self, now_ms: i64) -> u64 {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).last_hour(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_hour_of_calls_forgets_what_came_before() {
        let mut m = Minutes::default();
        let t0 = 1_800_000_000_000;
        for i in 0..120 {
            m.add(t0 + i * 60_000);
            m.add(t0 + i * 60_000 + 1);
        }
        assert_eq!(m.last_hour(t0 + 119 * 60_000), 120);
        assert_eq!(m.last_hour(t0 + 200 * 60_000), 0);
        // The ring holds minutes 60..=119; an hour up to minute 150 reaches back to 91.
        assert_eq!(m.last_hour(t0 + 150 * 60_000), 58);
    }
}
