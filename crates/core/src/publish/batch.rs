//! Datums packed into PutMetricData requests: one namespace each, at most 1000 datums and
//! at most 1,000,000 bytes of body before compression.

use std::sync::Arc;

use serde::Serialize;

use crate::domain::limits::{MAX_DATUMS_PER_REQUEST, MAX_REQUEST_BYTES};
use crate::publish::datum::Datum;

/// Room for the request's own fields around the datums.
const REQUEST_OVERHEAD: usize = 64;

/// One PutMetricData request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Batch {
    pub namespace: Arc<str>,
    pub metric_data: Vec<Datum>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.metric_data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metric_data.is_empty()
    }

    /// Splits in two halves (to bisect an invalid or too large request).
    pub fn split(mut self) -> (Batch, Batch) {
        let back = self.metric_data.split_off(self.metric_data.len() / 2);
        let other = Batch { namespace: self.namespace.clone(), metric_data: back };
        (self, other)
    }
}

/// Packs datums greedily, namespace by namespace: with the count limit alone that gives
/// ceil(n / 1000) requests per namespace, the fewest possible.
pub fn into_batches(mut datums: Vec<Datum>) -> Vec<Batch> {
    datums.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    let mut out: Vec<Batch> = Vec::new();
    let mut bytes = 0;
    for datum in datums {
        let size = datum.encoded_size_bound();
        match out.last_mut() {
            Some(b)
                if b.namespace == datum.namespace
                    && b.len() < MAX_DATUMS_PER_REQUEST
                    && bytes + size <= MAX_REQUEST_BYTES =>
            {
                bytes += size;
                b.metric_data.push(datum);
            }
            _ => {
                bytes = REQUEST_OVERHEAD + datum.namespace.len() + size;
                out.push(Batch { namespace: datum.namespace.clone(), metric_data: vec![datum] });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::units::{Resolution, Unit};
    use crate::publish::datum::{DatumValues, Dimension};

    fn datum(ns: &str, values: usize) -> Datum {
        Datum {
            namespace: Arc::from(ns),
            metric_name: "m".into(),
            dimensions: vec![Dimension { name: "K".into(), value: "v".into() }],
            timestamp: 0,
            unit: Unit::None,
            storage_resolution: Resolution::Standard,
            values: DatumValues::Distribution { values: vec![1.0; values], counts: vec![1.0; values] },
        }
    }

    #[test]
    fn batches_reach_the_lower_bound_per_namespace() {
        let mut datums: Vec<Datum> = (0..2500).map(|_| datum("A", 1)).collect();
        datums.extend((0..1000).map(|_| datum("B", 1)));
        datums.extend((0..1).map(|_| datum("C", 1)));
        let batches = into_batches(datums);
        let sizes: Vec<(String, usize)> = batches.iter().map(|b| (b.namespace.to_string(), b.len())).collect();
        assert_eq!(
            sizes,
            vec![("A".into(), 1000), ("A".into(), 1000), ("A".into(), 500), ("B".into(), 1000), ("C".into(), 1)]
        );
    }

    #[test]
    fn the_byte_limit_forces_more_requests_and_holds() {
        let batches = into_batches((0..1000).map(|_| datum("A", 150)).collect());
        assert!(batches.len() > 1);
        for b in &batches {
            let bytes: usize = b.metric_data.iter().map(Datum::encoded_size_bound).sum::<usize>() + REQUEST_OVERHEAD;
            assert!(bytes <= MAX_REQUEST_BYTES, "{bytes}");
        }
        assert_eq!(batches.iter().map(Batch::len).sum::<usize>(), 1000);
    }

    #[test]
    fn split_halves_keep_every_datum() {
        let (a, b) = into_batches((0..7).map(|_| datum("A", 1)).collect()).remove(0).split();
        assert_eq!((a.len(), b.len()), (3, 4));
    }

    #[test]
    fn serializes_as_a_put_metric_data_request() {
        let json = serde_json::to_value(&into_batches(vec![datum("A", 1)])[0]).unwrap();
        assert_eq!(json["Namespace"], "A");
        assert_eq!(json["MetricData"][0]["MetricName"], "m");
    }
}
