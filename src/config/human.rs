//! The human grammar of values, the same in every layer: durations (`500ms`, `10s`, `1m`),
//! sizes (`5MiB`, `1048576`), counts (`100_000`), `K=V,K=V` pairs, `auto`/`true`/`false`;
//! and the serializers that print them back that way for `--print-config`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A scalar as text. Env vars and flags are always text; a TOML integer, float or boolean is
/// taken as its literal, so `max_buffered_datums = 500` and `"500"` mean the same.
pub(super) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor).map(Text)
    }
}

/// A list of strings: an array (file; each item a scalar, as [`Text`]) or `a,b,c` (env,
/// flags; pieces trimmed, empty ones dropped, so an empty string is none). `expecting` names
/// what the list is in the error for any other type.
pub(super) fn strings<'de, D: Deserializer<'de>>(d: D, expecting: &'static str) -> Result<Vec<String>, D::Error> {
    struct Strings(&'static str);
    impl<'de> Visitor<'de> for Strings {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(Text(s)) = seq.next_element::<Text>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Strings(expecting))
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Dimensions: `K=V,K=V` as text (env, flags), or a table of strings (file).
pub(super) struct Pairs(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PairsVisitor).map(Pairs)
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("K=V,K=V or a table")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        pairs(v).map_err(E::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((name, Text(value))) = map.next_entry::<String, Text>()? {
            out.insert(name, value);
        }
        Ok(out)
    }
}

pub(super) fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|_| "expected a duration such as 500ms, 10s or 1m".to_string())
}

pub(super) fn count(s: &str, min: u64, max: u64) -> Result<u64, String> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

pub(super) fn size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| "expected a size such as 5MiB or 1048576".to_string())
}

/// `K=V,K=V` into a map; an empty string is the empty map.
pub(super) fn pairs(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| format!("expected K=V,K=V; `{pair}` has no `=`"))?;
        if map.insert(k.trim().to_string(), v.trim().to_string()).is_some() {
            return Err(format!("dimension `{}` given twice", k.trim()));
        }
    }
    Ok(map)
}

/// `auto` is `None`; `true` and `false` force.
pub(super) fn auto_bool(s: &str) -> Result<Option<bool>, String> {
    match s.trim() {
        "auto" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err("expected auto, true or false".into()),
    }
}

/// Serializers for `--print-config`, writing what the parsers above read.
pub(super) mod print {
    use std::time::Duration;

    use serde::Serializer;

    pub fn duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn size<S: Serializer>(n: &usize, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&bytesize::ByteSize(*n as u64).display().iec().to_string())
    }

    pub fn auto_bool<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match v {
            None => "auto",
            Some(true) => "true",
            Some(false) => "false",
        })
    }

    pub fn redacted<S: Serializer>(_: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}
