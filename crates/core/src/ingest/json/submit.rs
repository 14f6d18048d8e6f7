//! A body of our JSON format fed into the pipeline: in one pass straight into a
//! [`Submission`] when every record can be read, the usual case; the careful way otherwise.

use crate::domain::error::reject;
use crate::ingest::json::{BodyKind, Text, one_pass_parts, parse_record, records_into, split_body};
use crate::pipeline::candidate::Context;
use crate::pipeline::{Finished, Input, Pipeline};
use crate::reasons::RejectReason;

/// Reads a body into a submission of `pipeline` and finishes it. A JSON body whose records
/// can all be read, the usual case, is read in one pass straight into the submission. When
/// one cannot, that submission is dropped (nothing was counted yet) and the body is read
/// again the careful way ([`split_body`], then [`parse_record`] per item), so that the bad
/// record is named by its index and the field at fault while the others are still taken: the
/// error path pays for the messages. An error here means the body as a whole is unusable.
pub fn submit_body(pipeline: &Pipeline, input: Input, body: &[u8], kind: BodyKind) -> Result<Finished, String> {
    if let Some(answer) = one_pass(pipeline, input, body, kind) {
        return Ok(answer);
    }
    let split = split_body(body, kind)?;
    let dimensions = split.dimensions.map(|d| d.0).unwrap_or_default();
    let context = Context { namespace: split.namespace.as_ref().map(Text::as_str), dimensions: &dimensions };
    let mut submission = pipeline.submission(input, context, split.items.len());
    for item in split.items {
        submission.push(parse_record(item).map_err(|e| reject(RejectReason::Malformed, e)));
    }
    Ok(submission.finished())
}

/// A JSON array or envelope read in one pass; `None` when any of it cannot be read.
fn one_pass(pipeline: &Pipeline, input: Input, body: &[u8], kind: BodyKind) -> Option<Finished> {
    let (namespace, dimensions, records) = one_pass_parts(body, kind)?;
    let dimensions = dimensions.map(|d| d.0).unwrap_or_default();
    let context = Context { namespace: namespace.as_ref().map(Text::as_str), dimensions: &dimensions };
    // About a hundred bytes per record: room made ahead, without regrowing.
    let mut submission = pipeline.submission(input, context, body.len() / 100);
    records_into(records, |candidate| submission.push_candidate(candidate)).ok()?;
    Some(submission.finished())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::clock::StillClock;
    use crate::ingest::json::parse_record_carefully;
    use crate::pipeline::{Accepted, Refusal, Settings, Uncounted};

    fn pipeline() -> Arc<Pipeline> {
        let clock = StillClock::shared(1_700_000_010_000);
        Arc::new(Pipeline::new(Settings::plain(Some("Test"), 10_000), Arc::new(Uncounted), clock, None))
    }

    /// What the careful path alone makes of a body: split, then each item on its own.
    fn carefully(p: &Pipeline, body: &[u8], kind: BodyKind) -> Result<Accepted, Refusal> {
        let split = split_body(body, kind).unwrap();
        let dims = split.dimensions.map(|d| d.0).unwrap_or_default();
        let context = Context { namespace: split.namespace.as_ref().map(Text::as_str), dimensions: &dims };
        let items =
            split.items.into_iter().map(|i| parse_record_carefully(i).map_err(|e| reject(RejectReason::Malformed, e)));
        p.submit(Input::HTTP, &context, items)
    }

    #[test]
    fn the_one_pass_read_answers_and_aggregates_as_the_careful_one() {
        let bodies: [(&[u8], BodyKind); 7] = [
            (br#"[{"name":"a","value":1,"dimensions":{"K":"v"}},{"name":"b\u0041","values":[1,2],"counts":[1,3]}]"#, BodyKind::Json),
            (br#"{"metrics":[{"name":"a","value":1,"timestamp":1700000000000}],"namespace":"N","dimensions":{"S":"x"}}"#, BodyKind::Json),
            (br#"[{"name":"a","value":1},{"name":"b","values":[1,"x"]},{"name":"c","value":3}]"#, BodyKind::Json),
            (br#"{"metrics":[{"name":"a","value":1},{"name":"a","name":"b"}],"namespace":"N"}"#, BodyKind::Json),
            (b"{\"name\":\"a\",\"value\":1}\nnot json\n{\"name\":\"b\",\"valu\":2}\n", BodyKind::NdJson),
            (br#"[{"name":"a","statistics":{"sample_count":1,"sum":2,"min":2,"max":2}}, 7, {"name":"","value":1}]"#, BodyKind::Json),
            (br#"[{"name":"a","value":1,"unit":"Parsecs"},{"name":"b","value":1e400}]"#, BodyKind::Json),
        ];
        for (body, kind) in bodies {
            let (fast, careful) = (pipeline(), pipeline());
            let answer = submit_body(&fast, Input::HTTP, body, kind).unwrap().now();
            assert_eq!(answer, carefully(&careful, body, kind), "{}", String::from_utf8_lossy(body));
            let keys = |p: &Pipeline| {
                let mut k: Vec<_> = p.drain(true).into_iter().map(|w| (w.key, w.start_ms)).collect();
                k.sort();
                k
            };
            assert_eq!(keys(&fast), keys(&careful));
        }
        let p = pipeline();
        let bad =
            submit_body(&p, Input::HTTP, br#"[{"name":"a","value":1},{"name":"b","values":[1,"x"]}]"#, BodyKind::Json);
        let bad = bad.unwrap().now().unwrap();
        assert_eq!((bad.accepted, bad.rejected.len(), bad.rejected[0].index), (1, 1, 1));
        assert!(bad.rejected[0].error.starts_with("values[1]: invalid type: string"), "{}", bad.rejected[0].error);
        assert_eq!(
            submit_body(&p, Input::HTTP, b"[1,", BodyKind::Json).map(Finished::now).unwrap_err(),
            split_body(b"[1,", BodyKind::Json).unwrap_err()
        );
    }
}
