//! The EMF document parser on arbitrary bytes: it must never panic, and what it accepts must
//! hold its promises (at most 100 finite values per metric, known units, resolutions 1 or 60,
//! at most 30 dimensions with non-empty values, Values and Counts of one length, at most the
//! bound's datums).
#![no_main]

use libfuzzer_sys::fuzz_target;

use cw_core::domain;
use cw_core::ingest::emf as parse;
use parse::{Parsed, Values};

fuzz_target!(|data: &[u8]| {
    // Our bounds hold: never more dimension sets' datums than allowed.
    let limits = parse::Limits { max_dimension_sets: 2, max_datums: 5 };
    if let Ok(Parsed::Emf(document)) = parse::parse_with(data, &limits) {
        assert!(document.datums.len() <= limits.max_datums);
    }
    let Ok(Parsed::Emf(document)) = parse::parse(data) else { return };
    assert!(document.datums.len() <= parse::DEFAULT_MAX_DATUMS);
    for d in &document.datums {
        if let Some(unit) = &d.unit {
            assert!(domain::units::Unit::parse(unit).is_some(), "{unit}");
        }
        assert!(matches!(d.storage_resolution, None | Some(1) | Some(60)));
        assert!(d.dimensions.len() <= parse::MAX_DIMENSIONS);
        assert!(d.dimensions.iter().all(|(_, v)| !v.is_empty()));
        match &d.values {
            Values::One(v) => assert!(v.is_finite()),
            Values::Many(vs) => {
                assert!(!vs.is_empty() && vs.len() <= parse::MAX_VALUES);
                assert!(vs.iter().all(|v| v.is_finite()));
            }
            Values::Weighted { values, counts } => {
                assert!(!values.is_empty() && values.len() <= parse::MAX_VALUES);
                assert_eq!(values.len(), counts.len());
                assert!(values.iter().chain(counts).all(|v| v.is_finite()));
            }
            Values::Statistics { max, min, count, sum } => {
                assert!([max, min, count, sum].iter().all(|v| v.is_finite()));
            }
        }
    }
});
