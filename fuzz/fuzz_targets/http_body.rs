// Our HTTP JSON body parser on arbitrary bytes, as JSON (`http_json`) or NDJSON
// (`http_ndjson`) by the binary's name: it must never panic, and the fast paths must read
// exactly what the careful one does. When the one-pass read of a JSON body succeeds, the
// careful read (split into items, each parsed with its path tracked) must succeed too and
// give the same records, namespace and dimensions; and for every item, the per-record parse
// (without path tracking first) must give what the careful parse gives, errors included.

use cw_core::ingest::json as body;
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
