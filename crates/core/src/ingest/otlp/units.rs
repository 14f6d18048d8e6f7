//! UCUM units (what OpenTelemetry instruments declare) as the nearest CloudWatch unit, with
//! the factor that turns a value in the UCUM unit into one in the CloudWatch unit.
//!
//! Decisions where there is no exact match:
//! - `ns` becomes `Microseconds` (CloudWatch has no nanoseconds), values divided by 1000;
//!   `min`, `h` and `d` become `Seconds`, values multiplied.
//! - Byte and bit multiples map by name, binary or decimal alike (`KiBy` and `kBy` are both
//!   `Kilobytes`): CloudWatch says nothing of which its `Kilobytes` is, and converting would
//!   surprise readers of the instrument's own values.
//! - `1` (a dimensionless number, often a ratio) is `None`: `Percent` would need the value
//!   times 100, which a ratio of 0..1 is not. `%` is `Percent`.
//! - A curly-brace annotation (`{request}`, `{packets}`) names what is counted: `Count`, and
//!   `{request}/s` `Count/Second`; `1/s` is `Count/Second` as well.
//! - Anything else is `None`, never an error: the metric is published, without a unit.

use crate::domain::units::Unit;

/// A UCUM unit as a CloudWatch unit and the factor applied to values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapped {
    pub unit: Unit,
    pub factor: f64,
}

const fn same(unit: Unit) -> Mapped {
    Mapped { unit, factor: 1.0 }
}

/// The CloudWatch unit for a UCUM unit string (empty means none).
pub fn map(ucum: &str) -> Mapped {
    let ucum = ucum.trim();
    if let Some(rate) = ucum.strip_suffix("/s") {
        return per_second(rate);
    }
    match ucum {
        "s" => same(Unit::Seconds),
        "ms" => same(Unit::Milliseconds),
        "us" | "µs" => same(Unit::Microseconds),
        "ns" => Mapped { unit: Unit::Microseconds, factor: 1e-3 },
        "min" => Mapped { unit: Unit::Seconds, factor: 60.0 },
        "h" => Mapped { unit: Unit::Seconds, factor: 3600.0 },
        "d" => Mapped { unit: Unit::Seconds, factor: 86_400.0 },
        "By" => same(Unit::Bytes),
        "KiBy" | "kBy" | "KBy" => same(Unit::Kilobytes),
        "MiBy" | "MBy" => same(Unit::Megabytes),
        "GiBy" | "GBy" => same(Unit::Gigabytes),
        "TiBy" | "TBy" => same(Unit::Terabytes),
        "bit" => same(Unit::Bits),
        "Kibit" | "kbit" => same(Unit::Kilobits),
        "Mibit" | "Mbit" => same(Unit::Megabits),
        "Gibit" | "Gbit" => same(Unit::Gigabits),
        "Tibit" | "Tbit" => same(Unit::Terabits),
        "%" => same(Unit::Percent),
        u if is_annotation(u) => same(Unit::Count),
        _ => same(Unit::None),
    }
}

fn per_second(quantity: &str) -> Mapped {
    match quantity {
        "By" => same(Unit::BytesPerSecond),
        "KiBy" | "kBy" | "KBy" => same(Unit::KilobytesPerSecond),
        "MiBy" | "MBy" => same(Unit::MegabytesPerSecond),
        "GiBy" | "GBy" => same(Unit::GigabytesPerSecond),
        "TiBy" | "TBy" => same(Unit::TerabytesPerSecond),
        "bit" => same(Unit::BitsPerSecond),
        "Kibit" | "kbit" => same(Unit::KilobitsPerSecond),
        "Mibit" | "Mbit" => same(Unit::MegabitsPerSecond),
        "Gibit" | "Gbit" => same(Unit::GigabitsPerSecond),
        "Tibit" | "Tbit" => same(Unit::TerabitsPerSecond),
        "1" => same(Unit::CountPerSecond),
        q if is_annotation(q) => same(Unit::CountPerSecond),
        _ => same(Unit::None),
    }
}

/// `{something}`: UCUM's annotation, which counts things.
fn is_annotation(u: &str) -> bool {
    u.len() > 2 && u.starts_with('{') && u.ends_with('}') && !u[1..u.len() - 1].contains(['{', '}'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapping() {
        let cases: &[(&str, Unit, f64)] = &[
            ("s", Unit::Seconds, 1.0),
            ("ms", Unit::Milliseconds, 1.0),
            ("us", Unit::Microseconds, 1.0),
            ("µs", Unit::Microseconds, 1.0),
            ("ns", Unit::Microseconds, 1e-3),
            ("min", Unit::Seconds, 60.0),
            ("h", Unit::Seconds, 3600.0),
            ("d", Unit::Seconds, 86_400.0),
            ("By", Unit::Bytes, 1.0),
            ("KiBy", Unit::Kilobytes, 1.0),
            ("kBy", Unit::Kilobytes, 1.0),
            ("KBy", Unit::Kilobytes, 1.0),
            ("MiBy", Unit::Megabytes, 1.0),
            ("MBy", Unit::Megabytes, 1.0),
            ("GiBy", Unit::Gigabytes, 1.0),
            ("GBy", Unit::Gigabytes, 1.0),
            ("TiBy", Unit::Terabytes, 1.0),
            ("TBy", Unit::Terabytes, 1.0),
            ("bit", Unit::Bits, 1.0),
            ("Kibit", Unit::Kilobits, 1.0),
            ("kbit", Unit::Kilobits, 1.0),
            ("Mibit", Unit::Megabits, 1.0),
            ("Mbit", Unit::Megabits, 1.0),
            ("Gibit", Unit::Gigabits, 1.0),
            ("Gbit", Unit::Gigabits, 1.0),
            ("Tibit", Unit::Terabits, 1.0),
            ("Tbit", Unit::Terabits, 1.0),
            ("By/s", Unit::BytesPerSecond, 1.0),
            ("KiBy/s", Unit::KilobytesPerSecond, 1.0),
            ("kBy/s", Unit::KilobytesPerSecond, 1.0),
            ("KBy/s", Unit::KilobytesPerSecond, 1.0),
            ("MiBy/s", Unit::MegabytesPerSecond, 1.0),
            ("MBy/s", Unit::MegabytesPerSecond, 1.0),
            ("GiBy/s", Unit::GigabytesPerSecond, 1.0),
            ("GBy/s", Unit::GigabytesPerSecond, 1.0),
            ("TiBy/s", Unit::TerabytesPerSecond, 1.0),
            ("TBy/s", Unit::TerabytesPerSecond, 1.0),
            ("bit/s", Unit::BitsPerSecond, 1.0),
            ("Kibit/s", Unit::KilobitsPerSecond, 1.0),
            ("kbit/s", Unit::KilobitsPerSecond, 1.0),
            ("Mibit/s", Unit::MegabitsPerSecond, 1.0),
            ("Mbit/s", Unit::MegabitsPerSecond, 1.0),
            ("Gibit/s", Unit::GigabitsPerSecond, 1.0),
            ("Gbit/s", Unit::GigabitsPerSecond, 1.0),
            ("Tibit/s", Unit::TerabitsPerSecond, 1.0),
            ("Tbit/s", Unit::TerabitsPerSecond, 1.0),
            ("1/s", Unit::CountPerSecond, 1.0),
            ("{request}/s", Unit::CountPerSecond, 1.0),
            ("%", Unit::Percent, 1.0),
            ("1", Unit::None, 1.0),
            ("{request}", Unit::Count, 1.0),
            ("{packets}", Unit::Count, 1.0),
            (" ms ", Unit::Milliseconds, 1.0),
            ("", Unit::None, 1.0),
            ("{}", Unit::None, 1.0),
            ("{a}{b}", Unit::None, 1.0),
            ("furlong", Unit::None, 1.0),
            ("m/s", Unit::None, 1.0),
            ("Cel", Unit::None, 1.0),
            ("S", Unit::None, 1.0),
        ];
        for &(ucum, unit, factor) in cases {
            assert_eq!(map(ucum), Mapped { unit, factor }, "{ucum:?}");
        }
    }
}
