//! A candidate becomes a [`Sample`] when every CloudWatch rule holds: each datum made from
//! it will be accepted. The rules themselves live in [`crate::domain`]; this is their order.

use crate::domain::dimensions::{DefaultDimensions, Dimensions};
use crate::domain::error::{ValidationError, reject};
use crate::domain::names::{MetricName, Namespace};
use crate::domain::payload::Payload;
use crate::domain::timestamp::Timestamp;
use crate::domain::units::{Resolution, Unit};
use crate::pipeline::aggregate::encode_series_key;
use crate::pipeline::candidate::{Candidate, Context};
use crate::reasons::RejectReason;

/// The configured fallbacks, checked once at startup.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub namespace: Option<String>,
    pub dimensions: DefaultDimensions,
}

/// A valid record.
#[derive(Debug)]
pub struct Sample<'s> {
    pub namespace: Namespace<'s>,
    pub name: MetricName<'s>,
    pub dimensions: Dimensions<'s>,
    pub unit: Unit,
    pub resolution: Resolution,
    pub timestamp: Timestamp,
    pub payload: Payload,
}

impl Sample<'_> {
    /// Start of the aggregation window the sample falls in.
    pub fn window_start_ms(&self) -> i64 {
        self.resolution.window_start(self.timestamp.ms())
    }

    /// Appends the sample's series key to `out`.
    pub fn encode_key(&self, out: &mut Vec<u8>) {
        encode_series_key(
            out,
            self.namespace.as_str(),
            self.name.as_str(),
            self.dimensions.iter(),
            self.unit,
            self.resolution,
        );
    }
}

/// The last namespace and metric name that passed the rules in one submission: its records
/// mostly share them, and a text equal to one of them need not be checked again.
#[derive(Debug, Default)]
pub struct Memo {
    namespace: String,
    name: String,
}

/// Checks one candidate, taking its values out of it.
#[cfg(test)]
pub fn validate<'s>(
    candidate: &'s mut Candidate<'_>,
    context: &Context<'s>,
    defaults: &'s Defaults,
    now_ms: i64,
) -> Result<Sample<'s>, ValidationError> {
    validate_with(candidate, context, defaults, now_ms, None)
}

/// Checks what is a candidate's own once its series is known to pass (an earlier record of
/// the submission named it the same way, [`crate::pipeline::known`]): its values, then its
/// timestamp, as [`validate_with`] would. Returns the window start and the payload.
pub fn validate_values(
    candidate: &mut Candidate<'_>,
    resolution: Resolution,
    now_ms: i64,
) -> Result<(i64, Payload), ValidationError> {
    let payload = Payload::check(&mut candidate.values)?;
    let timestamp = Timestamp::check(candidate.timestamp.as_ref(), resolution, now_ms)?;
    Ok((resolution.window_start(timestamp.ms()), payload))
}

/// Checks one candidate, taking its values out of it; `memo` spares checking again a
/// namespace or name that the submission's previous records had (none for a lone record:
/// keeping its texts would cost more than it could spare).
pub fn validate_with<'s>(
    candidate: &'s mut Candidate<'_>,
    context: &Context<'s>,
    defaults: &'s Defaults,
    now_ms: i64,
    mut memo: Option<&mut Memo>,
) -> Result<Sample<'s>, ValidationError> {
    if candidate.name.is_none() {
        return Err(reject(RejectReason::Name, "name: required"));
    }
    let payload = Payload::check(&mut candidate.values)?;
    let candidate: &'s Candidate<'_> = candidate;
    let name = candidate.name.as_deref().unwrap_or_default();
    let name = match memo.as_deref_mut() {
        Some(memo) => MetricName::parse_memo(name, &mut memo.name)?,
        None => MetricName::parse(name)?,
    };
    let namespace = candidate
        .namespace
        .as_deref()
        .or(context.namespace)
        .or(defaults.namespace.as_deref())
        .ok_or_else(|| {
            reject(
                RejectReason::Namespace,
                "namespace: required (neither the record, its envelope nor the sidecar's `namespace` setting gives one)",
            )
        })?;
    let namespace = match memo {
        Some(memo) => Namespace::parse_memo(namespace, &mut memo.namespace)?,
        None => Namespace::parse(namespace)?,
    };
    let unit = match candidate.unit.as_deref() {
        None => Unit::None,
        Some(u) => Unit::parse(u).ok_or_else(|| {
            reject(
                RejectReason::Unit,
                format!("unit: `{u}` is not a CloudWatch standard unit (for example Count, Milliseconds, Bytes/Second, None)"),
            )
        })?,
    };
    let resolution = match candidate.storage_resolution {
        None => Resolution::Standard,
        Some(s) => Resolution::from_seconds(s).ok_or_else(|| {
            reject(RejectReason::StorageResolution, format!("storage_resolution: must be 1 or 60, got {s}"))
        })?,
    };
    let timestamp = Timestamp::check(candidate.timestamp.as_ref(), resolution, now_ms)?;
    let dimensions = Dimensions::merge(&candidate.dimensions, context.dimensions, &defaults.dimensions)?;
    Ok(Sample { namespace, name, dimensions, unit, resolution, timestamp, payload })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::payload::{GivenValues, Measured};
    use crate::domain::timestamp::GivenTime;

    const NOW: i64 = 1_800_000_000_000;

    fn defaults(namespace: Option<&str>) -> Defaults {
        Defaults {
            namespace: namespace.map(str::to_string),
            dimensions: DefaultDimensions::new(&BTreeMap::from([("Host".to_string(), "h1".to_string())])).unwrap(),
        }
    }

    fn candidate(name: &'static str, value: f64) -> Candidate<'static> {
        Candidate {
            name: Some(Cow::Borrowed(name)),
            values: GivenValues { value: Some(value), ..GivenValues::default() },
            ..Candidate::default()
        }
    }

    #[test]
    fn a_plain_candidate_takes_the_defaults() {
        let d = defaults(Some("App"));
        let mut c = candidate("Latency", 12.5);
        let s = validate(&mut c, &Context::default(), &d, NOW).unwrap();
        assert_eq!(s.namespace.as_str(), "App");
        assert_eq!(s.dimensions.iter().collect::<Vec<_>>(), vec![("Host", "h1")]);
        assert_eq!(s.payload.measured(), &Measured::Single(12.5));
        assert_eq!((s.unit, s.resolution), (Unit::None, Resolution::Standard));
        assert_eq!(s.window_start_ms(), NOW - NOW % 60_000);
    }

    #[test]
    fn the_candidate_beats_the_context_which_beats_the_defaults() {
        let d = defaults(Some("Default"));
        let envelope = [(Cow::Borrowed("Host"), Cow::Borrowed("envelope"))];
        let context = Context { namespace: Some("Envelope"), dimensions: &envelope };
        let mut c = candidate("x", 1.0);
        let s = validate(&mut c, &context, &d, NOW).unwrap();
        assert_eq!((s.namespace.as_str(), s.dimensions.iter().next()), ("Envelope", Some(("Host", "envelope"))));
        let mut c = Candidate { namespace: Some(Cow::Borrowed("Own")), ..candidate("x", 1.0) };
        assert_eq!(validate(&mut c, &context, &d, NOW).unwrap().namespace.as_str(), "Own");
    }

    #[test]
    fn a_missing_name_or_namespace_is_rejected() {
        let d = defaults(None);
        let mut c = Candidate::default();
        assert_eq!(validate(&mut c, &Context::default(), &d, NOW).unwrap_err().message, "name: required");
        let mut c = candidate("x", 1.0);
        let e = validate(&mut c, &Context::default(), &d, NOW).unwrap_err();
        assert_eq!(e.reason, RejectReason::Namespace);
        assert!(e.message.starts_with("namespace: required"));
    }

    #[test]
    fn unit_resolution_and_timestamp() {
        let d = defaults(Some("App"));
        let check = |c: &mut Candidate<'static>| validate(c, &Context::default(), &d, NOW).map(|s| s.window_start_ms());
        let mut c = Candidate { unit: Some(Cow::Borrowed("ms")), ..candidate("x", 1.0) };
        assert!(check(&mut c).unwrap_err().message.contains("`ms` is not a CloudWatch standard unit"));
        let mut c = Candidate { storage_resolution: Some(5), ..candidate("x", 1.0) };
        assert_eq!(check(&mut c).unwrap_err().reason, RejectReason::StorageResolution);
        let mut c = Candidate {
            storage_resolution: Some(1),
            timestamp: Some(GivenTime::EpochMillis(NOW + 1500)),
            ..candidate("x", 1.0)
        };
        assert_eq!(check(&mut c).unwrap(), NOW + 1000);
        let mut c = Candidate { timestamp: Some(GivenTime::EpochMillis(i64::MIN)), ..candidate("x", 1.0) };
        assert_eq!(check(&mut c).unwrap_err().reason, RejectReason::Timestamp);
    }
}
