//! One record of our JSON format, read straight into a [`Candidate`].

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

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
pub(super) struct RecordInto<'s, 'a>(pub(super) &'s mut Candidate<'a>);

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
