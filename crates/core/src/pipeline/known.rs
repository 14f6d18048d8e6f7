//! The series a submission has already checked. Records of one submission mostly repeat a
//! few series: a record whose namespace, name, unit, resolution and dimensions are given
//! exactly as an earlier record's (in the same order) makes the same series key, so only its
//! values and timestamp are checked again, and its key is copied from the earlier one.
//! Within one submission the envelope and the defaults do not change, so the record's own
//! fields decide the outcome.

use std::collections::HashMap;
use std::ops::Range;

use crate::domain::units::Resolution;
use crate::pipeline::candidate::Candidate;

type Fast = foldhash::fast::RandomState;

/// A checked series: where its key lies in the submission's keys, its resolution, and the
/// number its records share (see `Plans::aggregate`).
#[derive(Debug, Clone)]
pub struct Known {
    pub key: Range<usize>,
    pub resolution: Resolution,
    pub group: u32,
}

/// Identities of checked series (a record's own naming fields, as given) and what they made.
#[derive(Debug, Default)]
pub struct KnownSeries {
    series: HashMap<Box<[u8]>, Known, Fast>,
    /// The identity of the record being pushed, written by [`KnownSeries::find`].
    scratch: Vec<u8>,
}

impl KnownSeries {
    /// The series of `candidate`, when an earlier record had the same identity and passed.
    /// Also notes the identity, for [`KnownSeries::remember`].
    pub fn find(&mut self, candidate: &Candidate<'_>) -> Option<&Known> {
        self.scratch.clear();
        identity(&mut self.scratch, candidate);
        self.series.get(self.scratch.as_slice())
    }

    /// Remembers what the record last given to [`KnownSeries::find`] made.
    pub fn remember(&mut self, known: Known) {
        self.series.insert(self.scratch.as_slice().into(), known);
    }
}

/// A record's naming fields, each told apart from the next (a tag for absent, a length).
fn identity(out: &mut Vec<u8>, c: &Candidate<'_>) {
    text(out, c.namespace.as_deref());
    text(out, c.name.as_deref());
    text(out, c.unit.as_deref());
    match c.storage_resolution {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    for (k, v) in &c.dimensions {
        text(out, Some(k));
        text(out, Some(v));
    }
}

fn text(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn candidate(name: &'static str, dims: &[(&'static str, &'static str)]) -> Candidate<'static> {
        Candidate {
            name: Some(Cow::Borrowed(name)),
            dimensions: dims.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))).collect(),
            ..Candidate::default()
        }
    }

    fn known(at: usize) -> Known {
        Known { key: at..at + 1, resolution: Resolution::Standard, group: 0 }
    }

    #[test]
    fn only_the_same_fields_given_the_same_way_are_the_same_series() {
        let mut memo = KnownSeries::default();
        let first = candidate("Latency", &[("a", "1"), ("b", "2")]);
        assert!(memo.find(&first).is_none());
        memo.remember(known(0));
        assert_eq!(memo.find(&first).map(|k| k.key.clone()), Some(0..1));
        // Same record with values of its own: the identity ignores them.
        let mut same = first.clone();
        same.values.value = Some(3.0);
        same.timestamp = Some(crate::domain::timestamp::GivenTime::EpochMillis(5));
        assert!(memo.find(&same).is_some());
        let others = [
            candidate("Latency", &[("b", "2"), ("a", "1")]),
            candidate("Latency", &[("a", "1")]),
            candidate("Latency", &[("a", "12")]),
            candidate("Latency", &[("a1", "")]),
            candidate("Latenc", &[("ya", "1"), ("b", "2")]),
            Candidate { unit: Some(Cow::Borrowed("Count")), ..first.clone() },
            Candidate { namespace: Some(Cow::Borrowed("App")), ..first.clone() },
            Candidate { storage_resolution: Some(60), ..first.clone() },
            Candidate { name: None, ..first.clone() },
        ];
        for other in &others {
            assert!(memo.find(other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn a_field_cannot_run_into_the_next() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        identity(&mut a, &candidate("ab", &[("c", "d")]));
        identity(&mut b, &candidate("a", &[("bc", "d")]));
        assert_ne!(a, b);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        identity(&mut a, &Candidate { unit: Some(Cow::Borrowed("")), ..candidate("x", &[]) });
        identity(&mut b, &candidate("x", &[]));
        assert_ne!(a, b, "an empty unit is not no unit");
    }
}
