//! What CloudWatch bills for custom metrics and PutMetricData calls, from the prices of
//! `[cost]`: a series is billed for the hours it is sent, in tiers by the account's count.

use serde::Serialize;

/// The prices: custom-metric tiers (series up to a count, USD per series-month) and the
/// price of 1,000 PutMetricData calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    /// `(up_to, usd)`, in order; the last tier takes every series beyond the one before.
    pub tiers: Vec<(u64, f64)>,
    pub usd_per_1000_requests: f64,
}

impl Default for Prices {
    /// us-east-1's list prices.
    fn default() -> Prices {
        Prices {
            tiers: vec![(10_000, 0.30), (250_000, 0.10), (1_000_000, 0.05), (u64::MAX, 0.02)],
            usd_per_1000_requests: 0.01,
        }
    }
}

/// Hours in the month CloudWatch bills by.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// A month's bill at today's rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Estimate {
    pub metrics_usd_per_month: f64,
    pub requests_usd_per_month: f64,
    pub total_usd_per_month: f64,
    /// The part of `metrics_usd_per_month` that the sidecar's own self metrics cost.
    pub self_metrics_usd_per_month: f64,
}

impl Prices {
    /// `series` custom metrics for a whole month, through the tiers.
    pub fn metrics(&self, series: u64) -> f64 {
        let (mut usd, mut below) = (0.0, 0u64);
        for &(up_to, price) in &self.tiers {
            if series <= below {
                break;
            }
            usd += (series.min(up_to) - below) as f64 * price;
            below = up_to;
        }
        usd
    }

    /// The month's bill for `series` application series and `own` self-metric series
    /// (priced after them), at `calls_per_hour` PutMetricData calls.
    pub fn estimate(&self, series: u64, own: u64, calls_per_hour: u64) -> Estimate {
        let all = self.metrics(series + own);
        let requests = calls_per_hour as f64 * HOURS_PER_MONTH * self.usd_per_1000_requests / 1000.0;
        Estimate {
            metrics_usd_per_month: round(all),
            requests_usd_per_month: round(requests),
            total_usd_per_month: round(all + requests),
            self_metrics_usd_per_month: round(all - self.metrics(series)),
        }
    }
}

/// To the cent's hundredth: figures a person reads.
fn round(usd: f64) -> f64 {
    (usd * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_priced_through_the_tiers() {
        let p = Prices::default();
        assert_eq!(p.metrics(0), 0.0);
        assert!((p.metrics(100) - 30.0).abs() < 1e-9);
        assert!((p.metrics(10_000) - 3_000.0).abs() < 1e-9);
        // 10,000 at 0.30, then 240,000 at 0.10, then 750,000 at 0.05, then 0.02.
        assert!((p.metrics(250_000) - (3_000.0 + 24_000.0)).abs() < 1e-6);
        assert!((p.metrics(1_000_000) - (3_000.0 + 24_000.0 + 37_500.0)).abs() < 1e-6);
        assert!((p.metrics(1_000_100) - (64_500.0 + 2.0)).abs() < 1e-6);
    }

    #[test]
    fn the_estimate_adds_the_calls_and_shows_the_self_metrics_apart() {
        let e = Prices::default().estimate(9_995, 10, 120);
        // 10,005 series: 10,000 at 0.30 and 5 at 0.10; the self metrics are the last 10.
        assert!((e.metrics_usd_per_month - 3_000.5).abs() < 1e-9, "{e:?}");
        assert!((e.self_metrics_usd_per_month - (1.5 + 0.5)).abs() < 1e-9, "{e:?}");
        assert!((e.requests_usd_per_month - 0.876).abs() < 1e-9, "{e:?}");
        assert!((e.total_usd_per_month - 3_001.376).abs() < 1e-9, "{e:?}");
    }
}
