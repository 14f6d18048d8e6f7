//! OTLP attributes as dimension values.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};

pub fn hash_of(v: &impl Hash) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// An attribute's value as a dimension value. An empty string is `<empty>` as for StatsD's
/// bare tags (CloudWatch refuses empty values, and dropping the attribute would merge series).
pub fn text(value: Option<&AnyValue>) -> Cow<'_, str> {
    use any_value::Value;
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) if !s.is_empty() => Cow::Borrowed(s),
        None | Some(Value::StringValue(_)) => Cow::Borrowed("<empty>"),
        Some(Value::BoolValue(b)) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => Cow::Owned(i.to_string()),
        // An index into a profile's string table: metrics have none, so the index is all there is.
        Some(Value::StringValueStrindex(i)) => Cow::Owned(i.to_string()),
        Some(Value::DoubleValue(d)) => Cow::Owned(d.to_string()),
        Some(Value::BytesValue(b)) => Cow::Owned(b.iter().map(|x| format!("{x:02x}")).collect()),
        Some(Value::ArrayValue(a)) => {
            Cow::Owned(format!("[{}]", a.values.iter().map(|v| text(Some(v))).collect::<Vec<_>>().join(",")))
        }
        Some(Value::KvlistValue(l)) => Cow::Owned(format!(
            "{{{}}}",
            l.values.iter().map(|kv| format!("{}={}", kv.key, text(kv.value.as_ref()))).collect::<Vec<_>>().join(",")
        )),
    }
}
