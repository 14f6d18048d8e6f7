//! The JSON wire format of `POST /v1/metrics`, parsed borrowing from the request body
//! straight into the pipeline's [`Candidate`]s. Pure: no I/O, no pipeline. A JSON body is read in one pass
//! ([`one_pass_parts`], [`records_into`]); when a record cannot be read, the body is read
//! again the careful way: split into items (array elements, envelope `metrics`, or NDJSON
//! lines, [`split_body`]), each parsed on its own with its path tracked ([`parse_record`]),
//! so that the malformed record is rejected by its index, with the field at fault, while the
//! others are accepted. [`super::submit`] feeds either into the pipeline.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::domain::dimensions::GivenDimensions;
use crate::domain::payload::StatSet;
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
pub struct Dimensions<'a>(pub GivenDimensions<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Dimensions<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = GivenDimensions::new();
        d.deserialize_map(DimensionsInto(&mut out))?;
        Ok(Dimensions(out))
    }
}

/// Dimensions read into a vector in place (a record's, in its candidate); `null` is none.
struct DimensionsInto<'s, 'a>(&'s mut GivenDimensions<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for DimensionsInto<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for DimensionsInto<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of dimension name to string value")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((k, v)) = map.next_entry::<Text<'a>, Text<'a>>()? {
            self.0.push((k.0, v.0));
        }
        Ok(())
    }
}

/// `timestamp`: an RFC 3339 string or integer epoch milliseconds.
#[derive(Debug, Clone)]
struct Timestamp<'a>(GivenTime<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Timestamp<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Timestamp<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 string or integer epoch milliseconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Timestamp(GivenTime::EpochMillis(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(|ms| Timestamp(GivenTime::EpochMillis(ms)))
                    .map_err(|_| E::custom("epoch milliseconds out of range"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Timestamp(GivenTime::Rfc3339(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Timestamp(GivenTime::Rfc3339(Cow::Owned(v.to_owned()))))
            }
        }
        d.deserialize_any(V)
    }
}

/// `T` from a JSON object only: serde's derive would also take a positional array.
#[derive(Debug)]
struct Object<T>(T);

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
struct RawStatistics {
    sample_count: f64,
    sum: f64,
    min: f64,
    max: f64,
}

/// The fields of a record.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Name,
    Value,
    Values,
    Counts,
    Statistics,
    Unit,
    Dimensions,
    Timestamp,
    Namespace,
    StorageResolution,
}

/// One record, read straight into a [`Candidate`]: no intermediate struct, no copy of a
/// string that needs no unescaping. Unknown and repeated fields are errors; `null` is absent.
struct JsonRecord<'a>(Candidate<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for JsonRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut c = Candidate::default();
        RecordInto(&mut c).deserialize(d)?;
        Ok(JsonRecord(c))
    }
}

/// Reads one record into an empty candidate in place: a candidate is a few hundred bytes,
/// and a body of many records reads them all into one, never moving it.
struct RecordInto<'s, 'a>(&'s mut Candidate<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for RecordInto<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RecordInto<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let c = self.0;
        let mut seen = 0u16;
        while let Some(field) = map.next_key::<Field>()? {
            let bit = 1u16 << field as u16;
            if seen & bit != 0 {
                return Err(de::Error::custom(format_args!("duplicate field `{}`", field.name())));
            }
            seen |= bit;
            match field {
                Field::Name => c.name = map.next_value::<Option<Text>>()?.map(|t| t.0),
                Field::Value => c.values.value = map.next_value()?,
                Field::Values => c.values.values = map.next_value()?,
                Field::Counts => c.values.counts = map.next_value()?,
                Field::Statistics => {
                    c.values.statistics = map.next_value::<Option<Object<RawStatistics>>>()?.map(|Object(s)| StatSet {
                        sample_count: s.sample_count,
                        sum: s.sum,
                        min: s.min,
                        max: s.max,
                    })
                }
                Field::Unit => c.unit = map.next_value::<Option<Text>>()?.map(|t| t.0),
                Field::Dimensions => map.next_value_seed(DimensionsInto(&mut c.dimensions))?,
                Field::Timestamp => c.timestamp = map.next_value::<Option<Timestamp>>()?.map(|t| t.0),
                Field::Namespace => c.namespace = map.next_value::<Option<Text>>()?.map(|t| t.0),
                Field::StorageResolution => c.storage_resolution = map.next_value()?,
            }
        }
        Ok(())
    }
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Value => "value",
            Field::Values => "values",
            Field::Counts => "counts",
            Field::Statistics => "statistics",
            Field::Unit => "unit",
            Field::Dimensions => "dimensions",
            Field::Timestamp => "timestamp",
            Field::Namespace => "namespace",
            Field::StorageResolution => "storage_resolution",
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
        // One pass checks the body's UTF-8; the parser then need not check each string.
        BodyKind::Json => match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => {
                let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
                let items: Vec<&RawValue> =
                    serde_json::from_str(text).map_err(|e| format!("body is not a JSON array of records: {e}"))?;
                Ok(Body { items: items.into_iter().map(|r| r.get().as_bytes()).collect(), ..Body::default() })
            }
            Some(b'{') => {
                let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
                let env: Envelope = serde_json::from_str(text).map_err(|e| {
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

/// The envelope with its records left unparsed, to be read straight into a submission once
/// the envelope's namespace and dimensions are known (they may come after `metrics`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeFirst<'a> {
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(borrow)]
    dimensions: Option<Dimensions<'a>>,
    #[serde(borrow)]
    metrics: &'a RawValue,
}

/// What a one-pass read of a JSON body needs first: the envelope's namespace and dimensions
/// (none for a bare array) and the text of the records' array. `None` when the body is not
/// JSON of either shape, or not valid as a whole: then only the careful read
/// ([`split_body`]) can say what is wrong.
pub fn one_pass_parts(body: &[u8], kind: BodyKind) -> Option<(Option<Text<'_>>, Option<Dimensions<'_>>, &str)> {
    if kind != BodyKind::Json {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    match body.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' => Some((None, None, text)),
        b'{' => {
            let envelope: EnvelopeFirst = serde_json::from_str(text).ok()?;
            Some((envelope.namespace, envelope.dimensions, envelope.metrics.get()))
        }
        _ => None,
    }
}

/// Reads a JSON array of records, handing each to `each` as soon as it is read. An error
/// means some record (or the array) could not be read: what `each` was given must then be
/// thrown away and the body read the careful way.
/// Reads a JSON array of records, handing each to `each` (which may take what it wants out
/// of it; the candidate is emptied before the next record).
pub fn records_into<'a>(text: &'a str, each: impl FnMut(&mut Candidate<'a>)) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    Records(each).deserialize(&mut de)?;
    de.end()
}

struct Records<F>(F);

impl<'de, F: FnMut(&mut Candidate<'de>)> DeserializeSeed<'de> for Records<F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(&mut Candidate<'de>)> Visitor<'de> for Records<F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut slot = Candidate::default();
        while seq.next_element_seed(RecordInto(&mut slot))?.is_some() {
            (self.0)(&mut slot);
            slot = Candidate::default();
        }
        Ok(())
    }
}

/// Parses one item; the error names the field at fault (`values[2]: invalid type ...`).
/// Read without tracking the path first; only a record that fails is read again with it.
pub fn parse_record(item: &[u8]) -> Result<Candidate<'_>, String> {
    let fast = std::str::from_utf8(item).ok().and_then(|text| {
        let mut de = serde_json::Deserializer::from_str(text);
        let JsonRecord(record) = JsonRecord::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(record)
    });
    match fast {
        Some(record) => Ok(record),
        None => parse_record_carefully(item),
    }
}

pub fn parse_record_carefully(item: &[u8]) -> Result<Candidate<'_>, String> {
    // One pass checks the whole item's UTF-8, so each string need not be checked again.
    let text = std::str::from_utf8(item).map_err(|e| format!("the record is not UTF-8: {e}"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let JsonRecord(record) = serde_path_to_error::deserialize(&mut de).map_err(|e| {
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
        assert!(matches!(first.name.unwrap(), Cow::Borrowed("a")));
        assert!(matches!(first.dimensions[0].0, Cow::Borrowed("K")));
        let second = parse_record(b.items[1]).unwrap();
        assert_eq!(second.name.unwrap(), "bA");
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
        assert!(parse_record(b"{\"name\":\"\xff\",\"value\":1}").unwrap_err().contains("not UTF-8"));
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
        assert!(err.starts_with("invalid type: sequence, expected a record object"), "{err}");
        let err = parse_record(br#"{"name":"x","statistics":[1,1,1,1]}"#).unwrap_err();
        assert!(err.starts_with("statistics: invalid type: sequence, expected an object"), "{err}");
        let ok = parse_record(br#"{"name":"x","statistics":{"sample_count":1,"sum":1,"min":1,"max":1}}"#).unwrap();
        assert_eq!(ok.values.statistics.unwrap().sum, 1.0);
    }

    #[test]
    fn repeated_fields_and_null_values() {
        let err = parse_record(br#"{"name":"a","name":"b","value":1}"#).unwrap_err();
        assert!(err.starts_with("duplicate field `name`"), "{err}");
        let r = parse_record(br#"{"name":"a","value":1,"unit":null,"dimensions":null}"#).unwrap();
        assert_eq!((r.unit, r.dimensions.len()), (None, 0));
        let err = parse_record(br#"{"name":"a","value":1,"dimensions":[1]}"#).unwrap_err();
        assert_eq!(err, "dimensions: invalid type: sequence, expected an object of dimension name to string value");
        let err = parse_record(br#"{"name":"a","value":1,"dimensions":{"K":2}}"#).unwrap_err();
        assert!(err.starts_with("dimensions.K: invalid type: integer `2`"), "{err}");
        let mut slot = Candidate::default();
        records_into(r#"[{"name":"a","value":1,"dimensions":{"K":"v"}},{"name":"b","value":2}]"#, |c| {
            slot = std::mem::take(c)
        })
        .unwrap();
        assert!(slot.dimensions.is_empty(), "each record starts from an empty candidate");
    }

    #[test]
    fn whole_body_errors_say_what_was_expected() {
        assert!(split_body(b"42", BodyKind::Json).unwrap_err().contains("JSON array"));
        assert!(split_body(b"[1,", BodyKind::Json).is_err());
        assert!(split_body(b"{\"metrics\": 3}", BodyKind::Json).unwrap_err().contains("envelope"));
    }
}
