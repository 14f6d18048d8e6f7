//! The socket machinery of the line-based inputs (StatsD, EMF), written once: a UDP listener
//! ([`udp`]) whose reader drains the socket into batches of datagrams, and a TCP listener
//! ([`tcp`]) that reassembles lines across reads, skips lines over 64 KiB, and stops reading
//! while the pipeline's buffer is full so that the client's writes block.
//!
//! An input implements [`LineInput`]: how a batch of lines becomes candidates, and how it
//! counts what happens to them. The transports do the rest, the same for every input: UDP
//! counts what the pipeline refuses as dropped, TCP retries it.

mod recv;
pub mod tcp;
pub mod udp;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::telemetry::Telemetry;
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::{Accepted, Input, Pipeline, Refusal, Submission};
use cw_core::reasons::{LineOutcome, LineReject, RejectReason};

/// Candidates per submission: small enough to fit any sensible buffer bound.
const SUBMIT_CHUNK: usize = 1000;

/// A line-based input, as its transports see it.
pub trait LineInput: Send + Sync + 'static {
    const INPUT: Input;

    fn telemetry(&self) -> &Telemetry;

    fn pipeline(&self) -> &Pipeline;

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

/// A line over [`tcp::MAX_LINE`]: received and rejected.
fn too_long<I: LineInput>(input: &I) {
    input.telemetry().input_lines(I::INPUT.name, LineOutcome::Received, 1);
    input.rejected(LineReject::TooLong, "line longer than 64 KiB");
}

/// The bound sockets of one input, before they serve.
pub struct Listeners<I: LineInput> {
    input: Arc<I>,
    udp: Option<std::net::UdpSocket>,
    tcp: Option<tokio::net::TcpListener>,
}

/// The listeners while they serve.
pub struct Running<I: LineInput> {
    udp: Option<udp::UdpListener>,
    tcp: Option<tokio::task::JoinHandle<()>>,
    stop: tokio_util::sync::CancellationToken,
    _input: std::marker::PhantomData<I>,
}

impl<I: LineInput> Listeners<I> {
    /// Binds the addresses given; `None` when there is none. `receive_buffer` is the UDP
    /// socket's `SO_RCVBUF` (named by `buffer_key` in the warning when the kernel gives less).
    pub async fn bind(
        udp_at: Option<SocketAddr>,
        tcp_at: Option<SocketAddr>,
        receive_buffer: Option<usize>,
        buffer_key: &str,
        input: Arc<I>,
    ) -> std::io::Result<Option<Listeners<I>>> {
        if udp_at.is_none() && tcp_at.is_none() {
            return Ok(None);
        }
        let udp = match udp_at {
            Some(a) => Some(udp::bind(a, receive_buffer, buffer_key)?),
            None => None,
        };
        let tcp = match tcp_at {
            Some(a) => Some(tokio::net::TcpListener::bind(a).await?),
            None => None,
        };
        Ok(Some(Listeners { input, udp, tcp }))
    }

    pub fn input(&self) -> &Arc<I> {
        &self.input
    }

    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|s| s.local_addr().ok())
    }

    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|s| s.local_addr().ok())
    }

    pub fn start(self) -> std::io::Result<Running<I>> {
        let (udp_at, tcp_at) = (self.udp_addr(), self.tcp_addr());
        let stop = tokio_util::sync::CancellationToken::new();
        let udp = match self.udp {
            Some(socket) => Some(udp::UdpListener::start(socket, self.input.clone())?),
            None => None,
        };
        let tcp = self.tcp.map(|l| tokio::spawn(tcp::serve(l, self.input.clone(), stop.clone())));
        tracing::info!(input = I::INPUT.name, udp = ?udp_at, tcp = ?tcp_at, "listening");
        Ok(Running { udp, tcp, stop, _input: std::marker::PhantomData })
    }
}

impl<I: LineInput> Running<I> {
    /// Stops reading and returns once what was read has been submitted.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Some(udp) = self.udp {
            let _ = tokio::task::spawn_blocking(move || udp.stop()).await;
        }
        if let Some(tcp) = self.tcp {
            let _ = tcp.await;
        }
    }
}
