//! What an input hands the pipeline: records as they were given, in no wire format, with
//! what they inherit from their request. Strings borrow from the input's buffer where they can.

use std::borrow::Cow;

use crate::domain::dimensions::GivenDimensions;
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;

/// One record, unchecked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidate<'a> {
    pub name: Option<Cow<'a, str>>,
    /// Beats the context's namespace and the configured one.
    pub namespace: Option<Cow<'a, str>>,
    /// A CloudWatch unit name (`Milliseconds`, `Count/Second`, ...); none means `None`.
    pub unit: Option<Cow<'a, str>>,
    /// Beat the context's dimensions and the configured defaults.
    pub dimensions: GivenDimensions<'a>,
    /// None means now.
    pub timestamp: Option<GivenTime<'a>>,
    /// 1 or 60; none means 60.
    pub storage_resolution: Option<u64>,
    pub values: GivenValues,
}

/// What every record of one submission inherits (an HTTP envelope's namespace and dimensions).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'c> {
    pub namespace: Option<&'c str>,
    pub dimensions: &'c [(Cow<'c, str>, Cow<'c, str>)],
}
