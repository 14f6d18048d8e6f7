// Our HTTP JSON body parser on arbitrary bytes, as JSON (`http_json`) or NDJSON
// (`http_ndjson`) by the binary's name: it must never panic, and the fast paths must read
// exactly what the careful one does. When the one-pass read of a JSON body succeeds, the
// careful read (split into items, each parsed with its path tracked) must succeed too and
// give the same records, namespace and dimensions; and for every item, the per-record parse
// (without path tracking first) must give what the careful parse gives, errors included.
//
// Like the other targets, the parser's sources are compiled in here from their files, with
// the few things they borrow from the crate, so the whole crate is not built with sanitizers.

mod domain {
    pub mod dimensions {
        use std::borrow::Cow;
        /// As in `src/domain/dimensions.rs`.
        pub type GivenDimensions<'a> = smallvec::SmallVec<[(Cow<'a, str>, Cow<'a, str>); 4]>;
    }
    pub mod timestamp {
        use std::borrow::Cow;
        /// As in `src/domain/timestamp.rs`.
        #[allow(dead_code)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum GivenTime<'a> {
            EpochMillis(i64),
            Rfc3339(Cow<'a, str>),
        }
    }
    pub(crate) use super::{domain_error as error, limits, payload};
}

#[allow(dead_code)]
#[path = "../../src/domain/error.rs"]
mod domain_error;
#[allow(dead_code)]
#[path = "../../src/domain/limits.rs"]
mod limits;
#[allow(dead_code)]
#[path = "../../src/domain/payload.rs"]
mod payload;
#[allow(dead_code)]
#[path = "../../src/telemetry/reasons.rs"]
mod reasons;
mod telemetry {
    pub(crate) use super::reasons;
}
#[allow(dead_code)]
#[path = "../../src/pipeline/candidate.rs"]
mod candidate;
mod pipeline {
    pub(crate) use super::candidate;
}
#[allow(dead_code)]
#[path = "../../src/ingest/http/body.rs"]
mod body;

use body::{BodyKind, one_pass_parts, parse_record, parse_record_carefully, records_into, split_body};

pub fn check(data: &[u8], kind: BodyKind) {
    let careful = split_body(data, kind);
    if let Some((namespace, dimensions, text)) = one_pass_parts(data, kind) {
        let mut fast = Vec::new();
        if records_into(text, |c| fast.push(std::mem::take(c))).is_ok() {
            let split = careful.as_ref().expect("a body read in one pass splits too");
            assert_eq!(namespace, split.namespace);
            assert_eq!(dimensions.map(|d| d.0), split.dimensions.clone().map(|d| d.0));
            let slow: Vec<_> = split.items.iter().map(|i| parse_record_carefully(i)).collect();
            assert_eq!(fast.len(), slow.len());
            for (f, s) in fast.into_iter().zip(slow) {
                assert_eq!(Ok(f), s);
            }
        }
    }
    if let Ok(split) = careful {
        for item in split.items {
            assert_eq!(parse_record(item), parse_record_carefully(item));
        }
    }
}
