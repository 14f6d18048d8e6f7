//! What a line-based input is, as its transports see it ([`LineInput`]), and how a batch of
//! lines is submitted: kept for retrying (TCP, [`submit`]) or streamed once (UDP,
//! [`submit_once`]).

use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::{Accepted, Input, Pipeline, Refusal, Submission};
use cw_core::reasons::{LineOutcome, LineReject, RejectReason};

use crate::clock::SharedClock;
use crate::telemetry::Telemetry;

/// Candidates per submission: small enough to fit any sensible buffer bound.
const SUBMIT_CHUNK: usize = 1000;

/// A line-based input, as its transports see it.
pub trait LineInput: Send + Sync + 'static {
    const INPUT: Input;

    fn telemetry(&self) -> &Telemetry;

    fn pipeline(&self) -> &Pipeline;

    fn clock(&self) -> &SharedClock;

    /// What every candidate of the input inherits (its namespace).
    fn context(&self) -> Context<'_>;

    /// Turns a batch of lines (`\n`-separated) into candidates, handing each to `take` as it
    /// is made, and counts what it skips.
    fn each_candidate<'a>(&'a self, batch: &'a [u8], take: impl FnMut(Candidate<'a>));

    /// The batch's candidates, kept for submitting again (TCP, until there is room).
    fn prepare_batch<'a>(&'a self, batch: &'a [u8]) -> Prepared<'a>
    where
        Self: Sized,
    {
        let mut prepared = Prepared { items: Vec::with_capacity(count_lines(batch)), done: 0 };
        self.each_candidate(batch, |c| prepared.items.push(c));
        prepared
    }

    /// Counts what the pipeline took of one submission.
    fn accepted(&self, answer: Accepted);

    /// Whether the input's records can name their own namespace (EMF directives do); when
    /// not, every record goes to the context's, and `allowed_namespaces` is checked once per
    /// batch ([`super::filter`]).
    const OWN_NAMESPACES: bool = false;

    /// Whether the input keeps state to move on in time ([`LineInput::tick`]): then a ticker
    /// runs beside its listeners, on its clock.
    const TICKS: bool = false;

    /// Moves the input's own state on (every second; with `all` at shutdown, after the
    /// listeners stopped and before the pipeline closes).
    fn tick(&self, _all: bool) {}

    /// Counts a line rejected before the pipeline saw it, in the input's and the global counters.
    fn rejected(&self, reason: LineReject, message: &str) {
        let (t, input) = (self.telemetry(), Self::INPUT.name);
        t.input_lines(input, LineOutcome::Rejected, 1);
        t.input_line_rejected(input, reason);
        t.records_received(1);
        t.record_rejected(record_reason(reason));
        tracing::debug!(input, reason = reason.label(), message, "line rejected");
    }
}

/// The global counters' reason for a line's.
fn record_reason(reason: LineReject) -> RejectReason {
    match reason {
        LineReject::Value | LineReject::SampleRate | LineReject::StateFull | LineReject::TooManyValues => {
            RejectReason::Value
        }
        LineReject::Timestamp => RejectReason::Timestamp,
        LineReject::Name => RejectReason::Name,
        LineReject::TooManyDimensions => RejectReason::Dimensions,
        _ => RejectReason::Malformed,
    }
}

/// Lines turned into candidates, ready to submit (again, for TCP, until there is room).
#[derive(Debug, Default)]
pub struct Prepared<'a> {
    pub items: Vec<Candidate<'a>>,
    /// How many of `items` the pipeline has taken.
    pub done: usize,
}

impl Prepared<'_> {
    /// How many candidates are not submitted yet (what UDP loses on a refusal).
    pub fn pending(&self) -> usize {
        self.items.len() - self.done
    }
}

/// Submits prepared candidates, [`SUBMIT_CHUNK`] at a time, so that a big batch is never
/// refused as larger than the whole buffer, and a retry after a refusal resumes where it
/// stopped (the candidates are kept for it: TCP). The pipeline's own rejections are the
/// input's to count; a refusal is the transport's to handle (and count):
/// [`Prepared::pending`] says how many candidates it concerns.
pub fn submit<I: LineInput>(input: &I, prepared: &mut Prepared<'_>) -> Result<(), Refusal> {
    while prepared.done < prepared.items.len() {
        let end = (prepared.done + SUBMIT_CHUNK).min(prepared.items.len());
        let chunk = &prepared.items[prepared.done..end];
        let answer = input.pipeline().submit(I::INPUT, &input.context(), chunk.iter().cloned().map(Ok))?;
        prepared.done = end;
        input.accepted(answer);
    }
    Ok(())
}

/// Like [`submit`], for a transport that does not retry (UDP): each candidate goes into a
/// submission as it is made ([`SUBMIT_CHUNK`] to one), never held in a vector. A refusal
/// comes with how many candidates it lost: its submission's and all made after it.
pub fn submit_once<I: LineInput>(input: &I, batch: &[u8]) -> Result<(), (Refusal, usize)> {
    // Room for the usual lines of 20 bytes or more; a batch of shorter ones grows it.
    let expected = (batch.len() / 20 + 1).min(SUBMIT_CHUNK);
    let mut submission = None;
    let (mut chunk, mut refused) = (0, None::<(Refusal, usize)>);
    let finish =
        |submission: Option<Submission<'_, '_>>, chunk: usize, refused: &mut Option<(Refusal, usize)>| match submission
            .map(Submission::finish)
        {
            Some(Ok(answer)) => input.accepted(answer),
            Some(Err(refusal)) => *refused = Some((refusal, chunk)),
            None => {}
        };
    input.each_candidate(batch, |mut c| {
        if let Some((_, lost)) = &mut refused {
            *lost += 1;
            return;
        }
        let s = submission.get_or_insert_with(|| input.pipeline().submission(I::INPUT, input.context(), expected));
        s.push_candidate(&mut c);
        chunk += 1;
        if chunk == SUBMIT_CHUNK {
            finish(submission.take(), chunk, &mut refused);
            chunk = 0;
        }
    });
    finish(submission, chunk, &mut refused);
    refused.map_or(Ok(()), Err)
}

/// How many lines a batch holds at most (its newlines, plus an unterminated last line): the
/// capacity that spares the candidates' vector its regrowth.
pub fn count_lines(batch: &[u8]) -> usize {
    batch.iter().filter(|b| **b == b'\n').count() + 1
}

/// A line over the TCP listener's longest line: received and rejected.
pub(super) fn too_long<I: LineInput>(input: &I) {
    input.telemetry().input_lines(I::INPUT.name, LineOutcome::Received, 1);
    input.rejected(LineReject::TooLong, "line longer than 64 KiB");
}
