//! The JSON wire format of `POST /v1/metrics`, parsed borrowing from the request body and
//! turned into the pipeline's [`Candidate`]s.
//!
//! A body is split into items first (array elements, envelope `metrics`, or NDJSON lines),
//! and each item is parsed on its own, so one malformed record is rejected by its index
//! while the others are accepted.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use smallvec::SmallVec;

use crate::domain::dimensions::GivenDimensions;
use crate::domain::payload::{GivenValues, StatSet};
use crate::domain::timestamp::GivenTime;
use crate::pipeline::candidate::Candidate;

/// A string that borrows from the body unless JSON escapes forced a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Dimensions as given, in order; duplicates are kept so validation can name them.
#[derive(Debug, Default, Clone)]
pub struct Dimensions<'a>(pub SmallVec<[(Text<'a>, Text<'a>); 4]>);

impl<'a> Dimensions<'a> {
    pub fn into_given(self) -> GivenDimensions<'a> {
        self.0.into_iter().map(|(k, v)| (k.0, v.0)).collect()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Dimensions<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Dimensions<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of dimension name to string value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = SmallVec::new();
                while let Some((k, v)) = map.next_entry::<Text<'a>, Text<'a>>()? {
                    out.push((k, v));
                }
                Ok(Dimensions(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `timestamp`: an RFC 3339 string or integer epoch milliseconds.
#[derive(Debug, Clone)]
pub enum Timestamp<'a> {
    EpochMillis(i64),
    Rfc3339(Text<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Timestamp<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Timestamp<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 string or integer epoch milliseconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Timestamp::EpochMillis(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v).map(Timestamp::EpochMillis).map_err(|_| E::custom("epoch milliseconds out of range"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Timestamp::Rfc3339(Text(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Timestamp::Rfc3339(Text(Cow::Owned(v.to_owned()))))
            }
        }
        d.deserialize_any(V)
    }
}

/// `T` from a JSON object only: serde's derive would also take a positional array.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(Object)
    }
}

/// A pre-aggregated statistic set as sent by a client.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatistics {
    pub sample_count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// One record as sent; [`crate::validate`] decides whether it can be accepted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecord<'a> {
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    pub value: Option<f64>,
    pub values: Option<Vec<f64>>,
    pub counts: Option<Vec<f64>>,
    pub statistics: Option<Object<RawStatistics>>,
    #[serde(borrow)]
    pub unit: Option<Text<'a>>,
    #[serde(borrow)]
    pub dimensions: Option<Dimensions<'a>>,
    #[serde(borrow)]
    pub timestamp: Option<Timestamp<'a>>,
    #[serde(borrow)]
    pub namespace: Option<Text<'a>>,
    pub storage_resolution: Option<u64>,
}

impl<'a> RawRecord<'a> {
    /// The record as the pipeline takes it: no copy of any string.
    pub fn into_candidate(self) -> Candidate<'a> {
        Candidate {
            name: self.name.map(|t| t.0),
            namespace: self.namespace.map(|t| t.0),
            unit: self.unit.map(|t| t.0),
            dimensions: self.dimensions.map(Dimensions::into_given).unwrap_or_default(),
            timestamp: self.timestamp.map(|t| match t {
                Timestamp::EpochMillis(ms) => GivenTime::EpochMillis(ms),
                Timestamp::Rfc3339(text) => GivenTime::Rfc3339(text.0),
            }),
            storage_resolution: self.storage_resolution,
            values: GivenValues {
                value: self.value,
                values: self.values,
                counts: self.counts,
                statistics: self.statistics.map(|Object(s)| StatSet {
                    sample_count: s.sample_count,
                    sum: s.sum,
                    min: s.min,
                    max: s.max,
                }),
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(borrow)]
    dimensions: Option<Dimensions<'a>>,
    #[serde(borrow)]
    metrics: Vec<&'a RawValue>,
}

/// How the body is framed, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    NdJson,
}

/// A body split into items, each still unparsed, with the envelope's defaults.
#[derive(Debug, Default)]
pub struct Body<'a> {
    pub namespace: Option<Text<'a>>,
    pub dimensions: Option<Dimensions<'a>>,
    pub items: Vec<&'a [u8]>,
}

/// Splits a body into items. An error here means the body as a whole is unusable.
pub fn split_body(body: &[u8], kind: BodyKind) -> Result<Body<'_>, String> {
    match kind {
        BodyKind::NdJson => Ok(Body {
            items: body.split(|b| *b == b'\n').filter(|line| !line.iter().all(u8::is_ascii_whitespace)).collect(),
            ..Body::default()
        }),
        BodyKind::Json => match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => {
                let items: Vec<&RawValue> =
                    serde_json::from_slice(body).map_err(|e| format!("body is not a JSON array of records: {e}"))?;
                Ok(Body { items: items.into_iter().map(|r| r.get().as_bytes()).collect(), ..Body::default() })
            }
            Some(b'{') => {
                let env: Envelope = serde_json::from_slice(body).map_err(|e| {
                    format!("body is not an envelope {{\"namespace\", \"dimensions\", \"metrics\": [...]}}: {e}")
                })?;
                Ok(Body {
                    namespace: env.namespace,
                    dimensions: env.dimensions,
                    items: env.metrics.into_iter().map(|r| r.get().as_bytes()).collect(),
                })
            }
            _ => Err("body must be a JSON array of records or an envelope object".to_string()),
        },
    }
}

/// Parses one item; the error names the field at fault (`values[2]: invalid type ...`).
pub fn parse_record(item: &[u8]) -> Result<RawRecord<'_>, String> {
    let mut de = serde_json::Deserializer::from_slice(item);
    let Object(record) = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = strip_position(&inner);
        if path == "." { msg } else { format!("{path}: {msg}") }
    })?;
    de.end().map_err(|e| format!("trailing characters after the record: {}", strip_position(&e)))?;
    Ok(record)
}

/// serde_json appends "at line L column C", which means little once a body is split.
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_splits_into_items_and_strings_borrow() {
        let body = br#"[{"name":"a","value":1,"dimensions":{"K":"v"}}, {"name":"b\u0041","value":2}]"#;
        let b = split_body(body, BodyKind::Json).unwrap();
        assert_eq!(b.items.len(), 2);
        let first = parse_record(b.items[0]).unwrap();
        assert!(matches!(first.name.unwrap().0, Cow::Borrowed("a")));
        let dims = first.dimensions.unwrap();
        assert_eq!(dims.0[0].0.as_str(), "K");
        let second = parse_record(b.items[1]).unwrap();
        assert_eq!(second.name.unwrap().as_str(), "bA");
    }

    #[test]
    fn an_envelope_carries_namespace_and_dimensions() {
        let body = br#"{"namespace":"App","dimensions":{"Service":"api"},"metrics":[{"name":"x","value":1}]}"#;
        let b = split_body(body, BodyKind::Json).unwrap();
        assert_eq!(b.namespace.unwrap().as_str(), "App");
        assert_eq!(b.dimensions.unwrap().0.len(), 1);
        assert_eq!(b.items.len(), 1);
    }

    #[test]
    fn ndjson_skips_blank_lines_and_keeps_bad_lines_as_items() {
        let body = b"{\"name\":\"a\",\"value\":1}\n\nnot json\n{\"name\":\"b\",\"value\":2}\n";
        let b = split_body(body, BodyKind::NdJson).unwrap();
        assert_eq!(b.items.len(), 3);
        assert!(parse_record(b.items[1]).is_err());
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = parse_record(br#"{"name":"a","values":[1,"x"]}"#).unwrap_err();
        assert!(err.starts_with("values[1]: invalid type: string"), "{err}");
        let err = parse_record(br#"{"name":"a","value":1,"dimension":{}}"#).unwrap_err();
        assert!(err.contains("unknown field `dimension`"), "{err}");
        let err = parse_record(br#"{"name":"a","timestamp":1.5}"#).unwrap_err();
        assert!(err.starts_with("timestamp: invalid type"), "{err}");
    }

    #[test]
    fn records_and_statistics_must_be_objects_not_positional_arrays() {
        let err = parse_record(br#"["Latency", 12]"#).unwrap_err();
        assert!(err.starts_with("invalid type: sequence, expected an object"), "{err}");
        let err = parse_record(br#"{"name":"x","statistics":[1,1,1,1]}"#).unwrap_err();
        assert!(err.starts_with("statistics: invalid type: sequence, expected an object"), "{err}");
        let ok = parse_record(br#"{"name":"x","statistics":{"sample_count":1,"sum":1,"min":1,"max":1}}"#).unwrap();
        assert_eq!(ok.statistics.unwrap().0.sum, 1.0);
    }

    #[test]
    fn whole_body_errors_say_what_was_expected() {
        assert!(split_body(b"42", BodyKind::Json).unwrap_err().contains("JSON array"));
        assert!(split_body(b"[1,", BodyKind::Json).is_err());
        assert!(split_body(b"{\"metrics\": 3}", BodyKind::Json).unwrap_err().contains("envelope"));
    }
}
