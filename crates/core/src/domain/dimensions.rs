//! Dimensions as CloudWatch takes them: merged from the record, its envelope and the
//! configured defaults (in that order of precedence), sorted by name, at most 30, each valid.

use std::borrow::Cow;
use std::collections::BTreeMap;

use smallvec::SmallVec;

use crate::domain::error::{ValidationError, reject};
use crate::domain::limits::MAX_DIMENSIONS;
use crate::domain::names::check_dimension;
use crate::reasons::RejectReason;

/// Dimensions as an input gave them, in order; duplicates are kept so validation can name them.
pub type GivenDimensions<'a> = SmallVec<[(Cow<'a, str>, Cow<'a, str>); 4]>;

/// The configured default dimensions, checked once at startup and kept sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefaultDimensions(Vec<(String, String)>);

impl DefaultDimensions {
    pub fn new(map: &BTreeMap<String, String>) -> Result<DefaultDimensions, ValidationError> {
        if map.len() > MAX_DIMENSIONS {
            return Err(reject(
                RejectReason::Dimensions,
                format!("at most {MAX_DIMENSIONS} dimensions, got {}", map.len()),
            ));
        }
        for (name, value) in map {
            check_dimension(name, value)?;
        }
        // A BTreeMap iterates in name order: the list is sorted.
        Ok(DefaultDimensions(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Merged, sorted, unique and valid; most records have few, so they stay on the stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dimensions<'a>(SmallVec<[(&'a str, &'a str); 8]>);

impl<'a> Dimensions<'a> {
    /// A record's own dimensions beat its envelope's, which beat the defaults.
    pub fn merge(
        own: &'a [(Cow<'a, str>, Cow<'a, str>)],
        envelope: &'a [(Cow<'a, str>, Cow<'a, str>)],
        defaults: &'a DefaultDimensions,
    ) -> Result<Dimensions<'a>, ValidationError> {
        // Built in place (a collect would build each vector aside and move it in).
        let mut given: SmallVec<[(&'a str, &'a str); 8]> = SmallVec::new();
        given.extend(own.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
        let own_len = given.len();
        for (k, v) in envelope {
            if !given[..own_len].iter().any(|(n, _)| *n == k.as_ref()) {
                given.push((k.as_ref(), v.as_ref()));
            }
        }
        given.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = given.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(reject(RejectReason::Dimensions, format!("dimensions: `{}` is given more than once", w[0].0)));
        }
        // The defaults the record does not override go after its own (sorted) ones.
        let checked = given.len();
        for (k, v) in defaults.iter() {
            if given[..checked].binary_search_by(|g| g.0.cmp(k)).is_err() {
                given.push((k, v));
            }
        }
        let total = given.len();
        if total > MAX_DIMENSIONS {
            return Err(reject(
                RejectReason::Dimensions,
                format!("dimensions: at most {MAX_DIMENSIONS} after the default dimensions are merged, got {total}"),
            ));
        }
        for (k, v) in &given[..checked] {
            check_dimension(k, v)?;
        }
        if total > checked {
            given.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        Ok(Dimensions(given))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&'static str, &'static str)]) -> GivenDimensions<'static> {
        pairs.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))).collect()
    }

    fn defaults(pairs: &[(&str, &str)]) -> DefaultDimensions {
        DefaultDimensions::new(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn own_beat_envelope_beat_defaults_and_come_out_sorted() {
        let own = given(&[("Zone", "b")]);
        let envelope = given(&[("Service", "env"), ("Zone", "a")]);
        let d = defaults(&[("Service", "default"), ("Host", "h")]);
        let merged = Dimensions::merge(&own, &envelope, &d).unwrap();
        assert_eq!(merged.iter().collect::<Vec<_>>(), vec![("Host", "h"), ("Service", "env"), ("Zone", "b")]);
    }

    #[test]
    fn duplicates_counts_and_rules() {
        let d = defaults(&[("Host", "h1")]);
        let e = Dimensions::merge(&given(&[("a", "1"), ("a", "2")]), &[], &d).unwrap_err();
        assert_eq!(e.message, "dimensions: `a` is given more than once");
        let names: Vec<String> = (0..30).map(|i| format!("d{i}")).collect();
        let many: GivenDimensions = names.iter().map(|n| (Cow::Borrowed(n.as_str()), Cow::Borrowed("v"))).collect();
        let e = Dimensions::merge(&many, &[], &d).unwrap_err();
        assert!(e.message.contains("at most 30") && e.message.contains("got 31"), "{}", e.message);
        // A record's own value for a default's name does not count twice.
        let mut mine: GivenDimensions = many[..29].iter().cloned().collect();
        mine.push((Cow::Borrowed("Host"), Cow::Borrowed("mine")));
        assert_eq!(Dimensions::merge(&mine, &[], &d).unwrap().len(), 30);
        let e = Dimensions::merge(&given(&[("a", "")]), &[], &d).unwrap_err();
        assert_eq!(e.reason, RejectReason::Dimensions);
        assert!(DefaultDimensions::new(&[(":bad".to_string(), "v".to_string())].into()).is_err());
    }
}
