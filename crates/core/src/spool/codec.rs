//! What spool records hold, as bytes: a submission's accepted entries (series key, window,
//! payload) in the write-ahead log, and a PutMetricData batch in a batch file. Pure. Decoding
//! checks everything it reads (a record can pass its checksum and still be from another
//! version, or made by hand): what does not decode is damage, never a panic.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::domain::payload::{GivenValues, Measured, Payload, StatSet};
use crate::pipeline::aggregate::{encode_series_key, try_decode_series_key};
use crate::publish::batch::Batch;
use crate::publish::datum::{DatumValues, datum_of};

/// One accepted record as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'k> {
    pub key: &'k [u8],
    pub window_start_ms: i64,
    pub payload: Payload,
}

const SINGLE: u8 = 0;
const VALUES: u8 = 1;
const WEIGHTED: u8 = 2;
const STATISTICS: u8 = 3;

/// A log record in the making: each distinct series key once, then the entries, each naming
/// its key by index (records of a submission share a few series: this keeps the log small).
#[derive(Default)]
pub struct LogRecord<'k> {
    index: HashMap<&'k [u8], u32, RandomState>,
    keys: Vec<u8>,
    entries: Vec<u8>,
}

impl<'k> LogRecord<'k> {
    pub fn with_capacity(entries: usize) -> LogRecord<'k> {
        LogRecord { entries: Vec::with_capacity(entries * 20), ..Default::default() }
    }

    /// Appends one entry.
    pub fn push(&mut self, key: &'k [u8], window_start_ms: i64, payload: &Payload) {
        let next = self.index.len() as u32;
        let index = *self.index.entry(key).or_insert_with(|| {
            push_bytes(&mut self.keys, key);
            next
        });
        self.entries.extend_from_slice(&index.to_le_bytes());
        push_entry(&mut self.entries, window_start_ms, payload);
    }

    /// The record's bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.keys.len() + self.entries.len());
        out.extend_from_slice(&(self.index.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.keys);
        out.extend_from_slice(&self.entries);
        out
    }
}

fn push_entry(out: &mut Vec<u8>, window_start_ms: i64, payload: &Payload) {
    out.extend_from_slice(&window_start_ms.to_le_bytes());
    match payload.measured() {
        Measured::Single(v) => {
            out.push(SINGLE);
            out.extend_from_slice(&v.to_le_bytes());
        }
        // Read back as `values` `[value]` with `counts` `[weight]`: the same samples.
        Measured::Weighted { value, weight } => {
            out.push(WEIGHTED);
            push_floats(out, &[*value]);
            out.extend_from_slice(&weight.to_le_bytes());
        }
        Measured::Many { values, counts } => {
            out.push(if counts.is_some() { WEIGHTED } else { VALUES });
            push_floats(out, values);
            if let Some(counts) = counts {
                counts.iter().for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
            }
        }
        Measured::Statistics(s) => {
            out.push(STATISTICS);
            push_statistics(out, s);
        }
    }
}

/// The entries of a log record; `None` if any of it is not what [`LogRecord`] makes.
pub fn entries(record: &[u8]) -> Option<Vec<Entry<'_>>> {
    let mut r = Reader(record);
    let n = r.u32()?;
    // Each key takes at least its 4-byte length: a count past that is damage, not a reason
    // to allocate.
    let mut keys = Vec::with_capacity(n.min(r.0.len() / 4));
    for _ in 0..n {
        let key = r.bytes()?;
        try_decode_series_key(key)?;
        keys.push(key);
    }
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let key = *keys.get(r.u32()?)?;
        let window_start_ms = r.i64()?;
        let mut given = GivenValues::default();
        match r.u8()? {
            SINGLE => given.value = Some(r.f64()?),
            tag @ (VALUES | WEIGHTED) => {
                let values = r.floats()?;
                if tag == WEIGHTED {
                    given.counts = Some((0..values.len()).map(|_| r.f64()).collect::<Option<_>>()?);
                }
                given.values = Some(values);
            }
            STATISTICS => given.statistics = Some(r.statistics()?),
            _ => return None,
        }
        // Checked again as on ingest: only a valid payload reaches a window.
        let payload = Payload::check(&mut given).ok()?;
        out.push(Entry { key, window_start_ms, payload });
    }
    Some(out)
}

/// A batch as one record of a batch file.
pub fn encode_batch(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::with_capacity(batch.len() * 64);
    let mut key = Vec::new();
    for d in &batch.metric_data {
        key.clear();
        let dimensions = d.dimensions.iter().map(|d| (d.name.as_str(), d.value.as_str()));
        encode_series_key(&mut key, &d.namespace, &d.metric_name, dimensions, d.unit, d.storage_resolution);
        push_bytes(&mut out, &key);
        out.extend_from_slice(&d.timestamp.to_le_bytes());
        match &d.values {
            DatumValues::Distribution { values, counts } => {
                out.push(WEIGHTED);
                push_floats(&mut out, values);
                counts.iter().for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
            }
            DatumValues::Statistics { statistic_values } => {
                out.push(STATISTICS);
                push_statistics(&mut out, statistic_values);
            }
        }
    }
    out
}

/// A batch read back; `None` if the record is not what [`encode_batch`] makes or mixes
/// namespaces.
pub fn decode_batch(record: &[u8]) -> Option<Batch> {
    let mut r = Reader(record);
    let mut namespace: Option<Arc<str>> = None;
    let mut metric_data = Vec::new();
    while !r.0.is_empty() {
        let view = try_decode_series_key(r.bytes()?)?;
        let ns = namespace.get_or_insert_with(|| Arc::from(view.namespace));
        if &**ns != view.namespace {
            return None;
        }
        let timestamp = r.i64()?;
        let values = match r.u8()? {
            WEIGHTED => {
                let values = r.floats()?;
                let counts = (0..values.len()).map(|_| r.f64()).collect::<Option<_>>()?;
                DatumValues::Distribution { values, counts }
            }
            STATISTICS => DatumValues::Statistics { statistic_values: r.statistics()? },
            _ => return None,
        };
        metric_data.push(datum_of(&view, ns.clone(), timestamp, values));
    }
    Some(Batch { namespace: namespace?, metric_data })
}

fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn push_floats(out: &mut Vec<u8>, values: &[f64]) {
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
}

fn push_statistics(out: &mut Vec<u8>, s: &StatSet) {
    [s.sample_count, s.sum, s.min, s.max].iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()?;
        self.take(n)
    }

    fn floats(&mut self) -> Option<Vec<f64>> {
        let n = self.u32()?;
        // The length is checked against what is there before anything is allocated.
        let bytes = self.take(n.checked_mul(8)?)?;
        Some(bytes.as_chunks::<8>().0.iter().map(|b| f64::from_le_bytes(*b)).collect())
    }

    fn statistics(&mut self) -> Option<StatSet> {
        Some(StatSet { sample_count: self.f64()?, sum: self.f64()?, min: self.f64()?, max: self.f64()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::units::{Resolution, Unit};

    fn key(name: &str) -> Vec<u8> {
        let mut k = Vec::new();
        encode_series_key(&mut k, "App", name, [("Host", "a")].into_iter(), Unit::Milliseconds, Resolution::High);
        k
    }

    fn payloads() -> Vec<Payload> {
        let mut many = GivenValues { values: Some(vec![1.0, 2.5]), counts: Some(vec![3.0, 1.0]), ..Default::default() };
        let mut plain = GivenValues { values: Some(vec![-4.0]), ..Default::default() };
        let mut stats = GivenValues {
            statistics: Some(StatSet { sample_count: 4.0, sum: 10.0, min: 1.0, max: 4.0 }),
            ..Default::default()
        };
        vec![
            Payload::single(7.25).unwrap(),
            Payload::check(&mut many).unwrap(),
            Payload::check(&mut plain).unwrap(),
            Payload::check(&mut stats).unwrap(),
        ]
    }

    #[test]
    fn entries_read_back_as_written() {
        let (a, b) = (key("a"), key("b"));
        let mut record = LogRecord::default();
        for (i, p) in payloads().iter().enumerate() {
            record.push(if i % 2 == 0 { &a } else { &b }, 1_000 * i as i64, p);
        }
        let record = record.finish();
        // The key table, then per entry its key index, window and tag, then the payloads: a
        // value, two weighted values, one value, a statistic set.
        let payload_bytes = 8 + (4 + 2 * 16) + (4 + 8) + 4 * 8;
        assert_eq!(record.len(), 4 + 2 * (4 + a.len()) + 4 * 13 + payload_bytes, "keys once");
        let read = entries(&record).unwrap();
        assert_eq!(read.len(), 4);
        assert_eq!(read[1], Entry { key: &b, window_start_ms: 1_000, payload: payloads()[1].clone() });
        assert_eq!(read.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(), payloads());
        assert_eq!(entries(&LogRecord::default().finish()), Some(vec![]));
        assert_eq!(entries(&[]), None);
    }

    #[test]
    fn a_weighted_value_is_written_and_read_as_one_value_with_one_count() {
        let mut record = LogRecord::default();
        let k = key("a");
        record.push(&k, 0, &Payload::weighted(5.5, 2.0).unwrap());
        let record = record.finish();
        let read = entries(&record).unwrap();
        let mut as_values = GivenValues { values: Some(vec![5.5]), counts: Some(vec![2.0]), ..Default::default() };
        assert_eq!(read[0].payload, Payload::check(&mut as_values).unwrap());
    }

    #[test]
    fn anything_short_of_a_whole_valid_record_is_refused() {
        let one = |key: &[u8], payload: &Payload| {
            let mut r = LogRecord::default();
            r.push(key, 0, payload);
            r.finish()
        };
        let (k, p) = (key("a"), payloads());
        let record = one(&k, &p[1]);
        for cut in 0..record.len() - 1 {
            // A cut at the end of the key table is a whole record of no entries.
            let want = if cut + 1 == 8 + k.len() { Some(0) } else { None };
            assert_eq!(entries(&record[..cut + 1]).map(|e| e.len()), want, "cut at {}", cut + 1);
        }
        assert_eq!(entries(&record).map(|e| e.len()), Some(1));
        assert_eq!(entries(&one(b"\x07\x00", &p[0])), None, "not a series key");
        let mut nan = one(&k, &p[0]);
        let at = nan.len() - 8;
        nan[at..].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(entries(&nan), None, "a value ingest would refuse");
        let mut huge = one(&k, &p[0]);
        huge.truncate(huge.len() - 9);
        huge.push(VALUES);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(entries(&huge), None, "a length past the end allocates nothing");
        let mut bad_index = one(&k, &p[0]);
        let at = 8 + k.len();
        bad_index[at] = 1;
        assert_eq!(entries(&bad_index), None, "a key index past the table");
        assert_eq!(entries(&u32::MAX.to_le_bytes()), None, "a key count past the end allocates nothing");
    }

    #[test]
    fn batches_read_back_as_written() {
        let ns: Arc<str> = Arc::from("App");
        let view_key = key("lat");
        let view = try_decode_series_key(&view_key).unwrap();
        let batch = Batch {
            namespace: ns.clone(),
            metric_data: vec![
                datum_of(
                    &view,
                    ns.clone(),
                    60_000,
                    DatumValues::Distribution { values: vec![1.0, 2.0], counts: vec![1.0, 5.0] },
                ),
                datum_of(
                    &view,
                    ns.clone(),
                    120_000,
                    DatumValues::Statistics {
                        statistic_values: StatSet { sample_count: 2.0, sum: 3.0, min: 1.0, max: 2.0 },
                    },
                ),
            ],
        };
        let record = encode_batch(&batch);
        assert_eq!(decode_batch(&record), Some(batch));
        assert_eq!(decode_batch(&record[..record.len() - 1]), None);
        assert_eq!(decode_batch(&[]), None, "a batch has a namespace");
    }

    #[test]
    fn arbitrary_and_mutated_records_never_panic() {
        let mut rng = fastrand::Rng::with_seed(11);
        let keys: Vec<Vec<u8>> = (0..4).map(|i| key(&format!("m{i}"))).collect();
        let mut valid = LogRecord::default();
        for (i, p) in payloads().iter().enumerate() {
            valid.push(&keys[i % 2], i as i64, p);
        }
        let valid = valid.finish();
        let (ns, k): (Arc<str>, _) = (Arc::from("App"), key("x"));
        let view = try_decode_series_key(&k).unwrap();
        let d = datum_of(&view, ns.clone(), 0, DatumValues::Distribution { values: vec![1.0], counts: vec![2.0] });
        let batch = encode_batch(&Batch { namespace: ns, metric_data: vec![d.clone(), d] });
        for _ in 0..20_000 {
            let base = if rng.bool() { &valid } else { &batch };
            let mut bytes =
                if rng.u8(..4) == 0 { (0..rng.usize(..64)).map(|_| rng.u8(..)).collect() } else { base.clone() };
            for _ in 0..rng.usize(1..4) {
                if bytes.is_empty() {
                    break;
                }
                let i = rng.usize(..bytes.len());
                match rng.u8(..3) {
                    0 => bytes[i] = rng.u8(..),
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, rng.u8(..)),
                }
            }
            let _ = entries(&bytes);
            let _ = decode_batch(&bytes);
        }
    }
}
