//! Series keys. A series is (namespace, name, sorted dimensions, unit, resolution), encoded
//! as one byte string so that a lookup needs no allocation.

use crate::domain::units::{Resolution, Unit};

/// Writes a series key at the end of `out`: resolution, unit, then
/// length-prefixed namespace, name and dimension pairs (length prefixes make it unambiguous).
pub fn encode_series_key<'d>(
    out: &mut Vec<u8>,
    namespace: &str,
    name: &str,
    dimensions: impl ExactSizeIterator<Item = (&'d str, &'d str)>,
    unit: Unit,
    resolution: Resolution,
) {
    out.push(resolution.seconds());
    out.push(unit as u8);
    push_str(out, namespace);
    push_str(out, name);
    out.push(dimensions.len() as u8);
    for (k, v) in dimensions {
        push_str(out, k);
        push_str(out, v);
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The part of a key that names its metric: namespace and name (same for every unit,
/// resolution and dimension set).
pub fn metric_of(key: &[u8]) -> &[u8] {
    let text_end = |at: usize| at + 2 + u16::from_le_bytes([key[at], key[at + 1]]) as usize;
    &key[2..text_end(text_end(2))]
}

/// The part of a key that is the series' identity as CloudWatch knows it: namespace, name
/// and dimensions (a series does not change with its unit or resolution).
pub fn identity_of(key: &[u8]) -> &[u8] {
    key.get(2..).unwrap_or_default()
}

/// A series key read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView<'k> {
    pub resolution: Resolution,
    pub unit: Unit,
    pub namespace: &'k str,
    pub name: &'k str,
    pub dimensions: Vec<(&'k str, &'k str)>,
}

/// Decodes a key made by [`encode_series_key`].
pub fn decode_series_key(key: &[u8]) -> SeriesView<'_> {
    try_decode_series_key(key).expect("keys are made by encode_series_key")
}

/// Decodes a key read from outside the process (the spool): `None` unless it is one that
/// [`encode_series_key`] could have made, to the last byte.
pub fn try_decode_series_key(key: &[u8]) -> Option<SeriesView<'_>> {
    let mut r = KeyReader { key, at: 0 };
    let resolution = Resolution::from_seconds(r.byte()? as u64)?;
    let unit = *Unit::ALL.get(r.byte()? as usize)?;
    let namespace = r.text()?;
    let name = r.text()?;
    let n = r.byte()? as usize;
    let dimensions = (0..n).map(|_| Some((r.text()?, r.text()?))).collect::<Option<Vec<_>>>()?;
    (r.at == key.len()).then_some(SeriesView { resolution, unit, namespace, name, dimensions })
}

struct KeyReader<'k> {
    key: &'k [u8],
    at: usize,
}

impl<'k> KeyReader<'k> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.key.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn text(&mut self) -> Option<&'k str> {
        let len = u16::from_le_bytes([self.byte()?, self.byte()?]) as usize;
        let bytes = self.key.get(self.at..self.at + len)?;
        self.at += len;
        std::str::from_utf8(bytes).ok()
    }
}

pub(super) fn key_resolution(key: &[u8]) -> Resolution {
    Resolution::from_seconds(key[0] as u64).expect("keys hold a valid resolution")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, dims: &[(&'static str, &'static str)]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_series_key(&mut out, "App", name, dims.iter().copied(), Unit::Milliseconds, Resolution::High);
        out
    }

    #[test]
    fn keys_round_trip_and_differ_by_every_part() {
        let a = key("Latency", &[("Service", "api"), ("Zone", "a")]);
        let view = decode_series_key(&a);
        assert_eq!(view.namespace, "App");
        assert_eq!(view.name, "Latency");
        assert_eq!(view.unit, Unit::Milliseconds);
        assert_eq!(view.resolution, Resolution::High);
        assert_eq!(view.dimensions, vec![("Service", "api"), ("Zone", "a")]);
        assert_ne!(a, key("Latency", &[("Service", "apiZ"), ("one", "a")]));
        assert_ne!(a, key("Latency", &[("Service", "api")]));
    }
}
