//! The shapes of a body: a JSON array of records, an envelope whose namespace and dimensions
//! apply to its `metrics`, or NDJSON lines; split into items, or read in one pass.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::record::{Dimensions, RecordInto, Text};
use crate::pipeline::candidate::Candidate;

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
