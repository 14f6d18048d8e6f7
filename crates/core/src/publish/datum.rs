//! Closed windows become CloudWatch datums, in the API's own field names so that dry-run
//! output reads like a PutMetricData request.

use std::sync::Arc;

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::limits::MAX_VALUES_PER_DATUM;
use crate::domain::payload::StatSet;
use crate::domain::units::{Resolution, Unit};
use crate::pipeline::aggregate::{ClosedWindow, SeriesView, decode_series_key};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// One MetricDatum. Values and statistic sets never share a datum.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Datum {
    #[serde(skip)]
    pub namespace: Arc<str>,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    #[serde(serialize_with = "rfc3339_millis")]
    pub timestamp: i64,
    pub unit: Unit,
    pub storage_resolution: Resolution,
    #[serde(flatten)]
    pub values: DatumValues,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DatumValues {
    Distribution {
        #[serde(rename = "Values")]
        values: Vec<f64>,
        #[serde(rename = "Counts")]
        counts: Vec<f64>,
    },
    Statistics {
        #[serde(rename = "StatisticValues")]
        statistic_values: StatSet,
    },
}

impl Datum {
    /// An upper bound on this datum's size in the SDK's CBOR request body.
    pub fn encoded_size_bound(&self) -> usize {
        let dims: usize = self.dimensions.iter().map(|d| 24 + d.name.len() + d.value.len()).sum();
        let values = match &self.values {
            DatumValues::Distribution { values, counts } => 24 + 9 * (values.len() + counts.len()),
            DatumValues::Statistics { .. } => 96,
        };
        128 + self.metric_name.len() + dims + values
    }
}

fn rfc3339_millis<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(*ms as i128 * 1_000_000).map_err(serde::ser::Error::custom)?;
    s.serialize_str(&t.format(&Rfc3339).map_err(serde::ser::Error::custom)?)
}

/// The datums of a closed window: each segment's values split into datums of at most 150
/// entries, and each statistic set in a datum of its own. CloudWatch adds up the datums of a
/// period, and every segment and set is within its range, so every number here is too.
pub fn datums_for(closed: &ClosedWindow) -> Vec<Datum> {
    let view = decode_series_key(&closed.key);
    let namespace: Arc<str> = Arc::from(view.namespace);
    let make = |values: DatumValues| datum_of(&view, namespace.clone(), closed.start_ms, values);
    let mut out = Vec::new();
    for dist in &closed.window.values {
        for chunk in dist.entries().chunks(MAX_VALUES_PER_DATUM) {
            out.push(make(DatumValues::Distribution {
                values: chunk.iter().map(|e| e.0).collect(),
                counts: chunk.iter().map(|e| e.1).collect(),
            }));
        }
    }
    for stats in &closed.window.statistics {
        out.push(make(DatumValues::Statistics { statistic_values: *stats }));
    }
    out
}

/// The datum of a series (its key read back) at `timestamp`.
pub fn datum_of(view: &SeriesView<'_>, namespace: Arc<str>, timestamp: i64, values: DatumValues) -> Datum {
    Datum {
        namespace,
        metric_name: view.name.to_string(),
        dimensions: view
            .dimensions
            .iter()
            .map(|(k, v)| Dimension { name: k.to_string(), value: v.to_string() })
            .collect(),
        timestamp,
        unit: view.unit,
        storage_resolution: view.resolution,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payload::{GivenValues, Payload};
    use crate::pipeline::aggregate::plan::Plan;
    use crate::pipeline::aggregate::{Aggregator, encode_series_key};

    fn many(values: Vec<f64>) -> Payload {
        Payload::check(&mut GivenValues { values: Some(values), ..GivenValues::default() }).unwrap()
    }

    fn stats(s: StatSet) -> Payload {
        Payload::check(&mut GivenValues { statistics: Some(s), ..GivenValues::default() }).unwrap()
    }

    fn closed(payloads: Vec<Payload>) -> ClosedWindow {
        let agg = Aggregator::default();
        let mut key = Vec::new();
        let dims = [("Service", "api")];
        encode_series_key(&mut key, "App", "Latency", dims.into_iter(), Unit::Milliseconds, Resolution::Standard);
        for p in payloads {
            agg.add(&key, 120_000, Plan::of(p));
        }
        agg.drain(None, 0).pop().unwrap()
    }

    #[test]
    fn a_wide_window_splits_into_datums_of_at_most_150_values() {
        let values: Vec<f64> = (1..=2000).map(|i| i as f64 * 1.7).collect();
        let datums = datums_for(&closed(vec![many(values.clone())]));
        assert!(datums.len() > 1);
        let mut count = 0.0;
        let mut sum = 0.0;
        for d in &datums {
            let DatumValues::Distribution { values, counts } = &d.values else { panic!() };
            assert!(values.len() <= 150 && values.len() == counts.len());
            count += counts.iter().sum::<f64>();
            sum += values.iter().zip(counts).map(|(v, c)| v * c).sum::<f64>();
        }
        let want: f64 = values.iter().sum();
        assert_eq!(count, 2000.0);
        assert!(((sum - want) / want).abs() < 1e-9);
    }

    #[test]
    fn statistic_sets_get_a_datum_of_their_own() {
        let stats = StatSet { sample_count: 3.0, sum: 6.0, min: 1.0, max: 3.0 };
        let datums = datums_for(&closed(vec![Payload::single(5.0).unwrap(), self::stats(stats), self::stats(stats)]));
        assert_eq!(datums.len(), 2);
        assert_eq!(
            datums[1].values,
            DatumValues::Statistics { statistic_values: StatSet { sample_count: 6.0, sum: 12.0, min: 1.0, max: 3.0 } }
        );
    }

    #[test]
    fn serializes_in_the_api_field_names() {
        let datums = datums_for(&closed(vec![Payload::single(5.0).unwrap()]));
        let json = serde_json::to_value(&datums[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Service", "Value": "api"}],
                "Timestamp": "1970-01-01T00:02:00Z",
                "Unit": "Milliseconds",
                "StorageResolution": 60,
                "Values": [5.0],
                "Counts": [1.0]
            })
        );
    }
}
