//! CloudWatch's 27 standard units and the two storage resolutions.

use serde::Serialize;

macro_rules! units {
    ($($variant:ident => $text:literal),+ $(,)?) => {
        /// A CloudWatch standard unit. Data for different units of one metric is kept apart.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[repr(u8)]
        pub enum Unit { #[default] $($variant),+ }

        impl Unit {
            pub const ALL: &'static [Unit] = &[$(Unit::$variant),+];

            /// The unit's name as CloudWatch spells it.
            pub fn as_str(self) -> &'static str {
                match self { $(Unit::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Unit> {
                match s { $($text => Some(Unit::$variant),)+ _ => None }
            }
        }
    };
}

units! {
    None => "None",
    Seconds => "Seconds",
    Microseconds => "Microseconds",
    Milliseconds => "Milliseconds",
    Bytes => "Bytes",
    Kilobytes => "Kilobytes",
    Megabytes => "Megabytes",
    Gigabytes => "Gigabytes",
    Terabytes => "Terabytes",
    Bits => "Bits",
    Kilobits => "Kilobits",
    Megabits => "Megabits",
    Gigabits => "Gigabits",
    Terabits => "Terabits",
    Percent => "Percent",
    Count => "Count",
    BytesPerSecond => "Bytes/Second",
    KilobytesPerSecond => "Kilobytes/Second",
    MegabytesPerSecond => "Megabytes/Second",
    GigabytesPerSecond => "Gigabytes/Second",
    TerabytesPerSecond => "Terabytes/Second",
    BitsPerSecond => "Bits/Second",
    KilobitsPerSecond => "Kilobits/Second",
    MegabitsPerSecond => "Megabits/Second",
    GigabitsPerSecond => "Gigabits/Second",
    TerabitsPerSecond => "Terabits/Second",
    CountPerSecond => "Count/Second",
}

impl Unit {
    pub fn from_index(i: u8) -> Unit {
        Unit::ALL[i as usize]
    }
}

impl Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Storage resolution: 1 s (high resolution) or 60 s (standard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(into = "u8")]
pub enum Resolution {
    High,
    #[default]
    Standard,
}

impl Resolution {
    pub fn from_seconds(s: u64) -> Option<Resolution> {
        match s {
            1 => Some(Resolution::High),
            60 => Some(Resolution::Standard),
            _ => None,
        }
    }

    pub fn seconds(self) -> u8 {
        match self {
            Resolution::High => 1,
            Resolution::Standard => 60,
        }
    }

    /// Length of an aggregation window: the resolution itself.
    pub fn window_ms(self) -> i64 {
        self.seconds() as i64 * 1000
    }

    /// Start of the window that `timestamp_ms` falls in.
    pub fn window_start(self, timestamp_ms: i64) -> i64 {
        timestamp_ms - timestamp_ms.rem_euclid(self.window_ms())
    }
}

impl From<Resolution> for u8 {
    fn from(r: Resolution) -> u8 {
        r.seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_27_units_and_each_round_trips() {
        assert_eq!(Unit::ALL.len(), 27);
        for (i, u) in Unit::ALL.iter().enumerate() {
            assert_eq!(Unit::parse(u.as_str()), Some(*u));
            assert_eq!(Unit::from_index(i as u8), *u);
            assert_eq!(*u as u8 as usize, i);
        }
        assert_eq!(Unit::parse("milliseconds"), None);
        assert_eq!(Unit::default(), Unit::None);
    }
}
