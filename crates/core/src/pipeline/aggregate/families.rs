//! How many active series each metric (namespace and name) has, whatever input sent it: every
//! series is a billed custom metric, and one label such as a session or device id can make
//! thousands of them. A metric that crosses the configured number is logged once, with the
//! count, so that the cost is visible before the bill.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use foldhash::fast::RandomState;

use super::key::{decode_series_key, metric_of};

#[derive(Default)]
struct Metric {
    series: usize,
    warned: bool,
}

pub struct Families {
    threshold: usize,
    metrics: Mutex<HashMap<Box<[u8]>, Metric, RandomState>>,
}

impl Families {
    /// Logs a metric once it has more than `threshold` active series.
    pub fn new(threshold: usize) -> Families {
        Families { threshold, metrics: Mutex::default() }
    }

    /// A series with this key became active. Returns true when this made its metric cross the
    /// threshold for the first time (and logs it).
    pub fn added(&self, key: &[u8]) -> bool {
        let mut metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        let metric = metrics.entry(metric_of(key).into()).or_default();
        metric.series += 1;
        if metric.series <= self.threshold || metric.warned {
            return false;
        }
        metric.warned = true;
        let view = decode_series_key(key);
        tracing::warn!(
            namespace = view.namespace,
            metric = view.name,
            series = metric.series,
            threshold = self.threshold,
            "metric has more active series than metric_series_warning: each is a billed custom metric; \
             drop the label that varies most (for example a session or device id) at its source, or \
             with the scrape input's drop_labels"
        );
        true
    }

    /// Counts series leaving, one at a time, under one lock: for a drain, which calls
    /// [`Departures::left`] for each series it empties while it still holds the key.
    pub fn departures(&self) -> Departures<'_> {
        Departures(self.metrics.lock().unwrap_or_else(|e| e.into_inner()))
    }

    #[cfg(test)]
    fn series(&self, key: &[u8]) -> usize {
        self.metrics.lock().unwrap().get(metric_of(key)).map_or(0, |m| m.series)
    }
}

/// Series leaving, counted under the lock [`Families::departures`] took.
pub struct Departures<'f>(MutexGuard<'f, HashMap<Box<[u8]>, Metric, RandomState>>);

impl Departures<'_> {
    /// The series with this key is no longer active (its windows were published).
    pub fn left(&mut self, key: &[u8]) {
        let metric_key = metric_of(key);
        if let Some(metric) = self.0.get_mut(metric_key) {
            metric.series -= 1;
            // A metric logged once stays logged (its entry is kept); the others are
            // forgotten once they have no series.
            if metric.series == 0 && !metric.warned {
                self.0.remove(metric_key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::units::{Resolution, Unit};
    use crate::pipeline::aggregate::encode_series_key;

    fn key(name: &str, device: &str) -> Vec<u8> {
        let mut k = Vec::new();
        encode_series_key(&mut k, "App", name, [("Device", device)].into_iter(), Unit::None, Resolution::Standard);
        k
    }

    #[test]
    fn a_metric_is_reported_once_when_it_crosses_the_threshold() {
        let f = Families::new(3);
        let crossed: Vec<bool> = (0..6).map(|i| f.added(&key("Session", &i.to_string()))).collect();
        assert_eq!(crossed, [false, false, false, true, false, false]);
        assert!(!f.added(&key("Other", "1")), "another metric counts apart");
        assert_eq!(f.series(&key("Session", "x")), 6);
        assert_eq!(f.series(&key("Other", "x")), 1);
    }

    #[test]
    fn published_series_stop_counting() {
        let f = Families::new(2);
        let keys: Vec<Vec<u8>> = (0..2).map(|i| key("M", &i.to_string())).collect();
        keys.iter().for_each(|k| assert!(!f.added(k)));
        let mut gone = f.departures();
        keys.iter().for_each(|k| gone.left(k));
        drop(gone);
        assert_eq!(f.series(&keys[0]), 0);
        keys.iter().for_each(|k| assert!(!f.added(k)));
        assert!(f.added(&key("M", "2")));
        let mut gone = f.departures();
        (0..3).for_each(|i| gone.left(&key("M", &i.to_string())));
        drop(gone);
        assert!(!(0..3).any(|i| f.added(&key("M", &i.to_string()))), "logged once only");
    }
}
