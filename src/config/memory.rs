//! `max_memory`: the ceiling on the sidecar's memory, `auto` (from the cgroup), `none`, or a
//! size.

use serde::de::{Deserializer, Error};
use serde::{Deserialize, Serializer};

use super::human::{self, Text};

/// The ceiling asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxMemory {
    /// 80% of the cgroup's memory limit when one is set, else none.
    #[default]
    Auto,
    /// No ceiling.
    None,
    Bytes(u64),
}

const MIN: u64 = 32 << 20;
const MAX: u64 = 1 << 40;

pub(super) fn max_memory<'de, D: Deserializer<'de>>(d: D) -> Result<MaxMemory, D::Error> {
    let Text(s) = Text::deserialize(d)?;
    match s.trim() {
        "auto" => Ok(MaxMemory::Auto),
        "none" => Ok(MaxMemory::None),
        s => match human::size(s).map_err(|e| D::Error::custom(format!("{e}; or `auto` or `none`")))? {
            n if (MIN..=MAX).contains(&n) => Ok(MaxMemory::Bytes(n)),
            _ => Err(D::Error::custom("must be `auto`, `none` or a size from 32MiB to 1TiB")),
        },
    }
}

pub(super) fn print<S: Serializer>(m: &MaxMemory, s: S) -> Result<S::Ok, S::Error> {
    match m {
        MaxMemory::Auto => s.serialize_str("auto"),
        MaxMemory::None => s.serialize_str("none"),
        MaxMemory::Bytes(n) => s.serialize_str(&bytesize::ByteSize(*n).display().iec().to_string()),
    }
}
