//! How many active series each metric (namespace and name) has, whatever input sent it: every
//! series is a billed custom metric, and one label such as a session or device id can make
//! thousands of them. A metric that crosses the configured number is logged once, with the
//! count, so that the cost is visible before the bill.

use std::collections::HashMap;
use std::sync::Mutex;

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

    /// These series are no longer active (their windows were published).
    pub fn removed<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(metric) = metrics.get_mut(metric_of(key)) {
                metric.series -= 1;
                // A metric logged once stays logged (its entry is kept); the others are
                // forgotten once they have no series.
                if metric.series == 0 && !metric.warned {
                    metrics.remove(metric_of(key));
                }
            }
        }
    }

    #[cfg(test)]
    fn series(&self, key: &[u8]) -> usize {
        self.metrics.lock().unwrap().get(metric_of(key)).map_or(0, |m| m.series)
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
        f.removed(keys.iter().map(Vec::as_slice));
        assert_eq!(f.series(&keys[0]), 0);
        keys.iter().for_each(|k| assert!(!f.added(k)));
        assert!(f.added(&key("M", "2")));
        f.removed([key("M", "0"), key("M", "1"), key("M", "2")].iter().map(Vec::as_slice));
        assert!(!(0..3).any(|i| f.added(&key("M", &i.to_string()))), "logged once only");
    }
}
