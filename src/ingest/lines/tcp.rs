//! A line-based input over TCP: lines reassembled across reads; a line over 64 KiB is skipped and counted
//! without closing the connection. When the pipeline's buffer is full the connection stops
//! reading and retries the same lines shortly, so the client's writes block: nothing is
//! accepted and then lost.
//!
//! What clients can hold is bounded as on the HTTP listeners: at most `max_connections` open
//! (capped by the open-files limit less the descriptors kept for publishing and the spool,
//! [`crate::ingest::descriptors`]); one more is closed as soon as it is accepted, counted, and
//! logged at most every 10 s with how many; a connection silent for `idle_timeout` is closed.
//! A failed accept (out of descriptors) pauses the loop and is logged the same way.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::input::{LineInput, submit as submit_all, too_long};
use crate::ingest::descriptors::{Throttled, needs_pause};
use crate::telemetry::lines::ConnectionRefusal;
use cw_core::pipeline::Refusal;
use cw_core::reasons::LineOutcome;

/// The longest line kept.
pub const MAX_LINE: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;
/// How long a connection waits before offering refused lines again; how long the accept loop
/// pauses after a failed accept.
const RETRY: Duration = Duration::from_millis(100);
/// At most one log line this often for refused connections, and one for failed accepts.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// What a TCP listener's clients may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Effective bound on open connections.
    pub max_connections: usize,
    /// Time a connection may wait without a byte.
    pub idle_timeout: Duration,
}

/// Accepts connections until `stop`, then waits for them to finish.
pub async fn serve<I: LineInput>(listener: TcpListener, input: Arc<I>, limits: Limits, stop: CancellationToken) {
    let name = I::INPUT.name;
    input.telemetry().lines.tcp_listening(name, limits.max_connections);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (mut refusals, mut failures) = (Throttled::new(LOG_EVERY), Throttled::new(LOG_EVERY));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    // Closed at once: its descriptor is given back before the next accept.
                    drop(stream);
                    input.telemetry().lines.refused(name, ConnectionRefusal::MaxConnections);
                    if let Some(refused) = refusals.event() {
                        tracing::warn!(
                            input = name,
                            refused,
                            max_connections = limits.max_connections,
                            "TCP connections closed at once: max_connections are open (one line per 10s at most)"
                        );
                    }
                    continue;
                };
                let open = Open::new(permit, input.clone());
                let task = connection(stream, input.clone(), limits.idle_timeout, stop.clone());
                connections.spawn(async move {
                    task.await;
                    drop(open);
                });
            }
            Err(e) => {
                input.telemetry().lines.accept_error(name);
                if needs_pause(&e) {
                    if let Some(failed) = failures.event() {
                        tracing::warn!(
                            input = name,
                            error = %e,
                            failed,
                            "TCP accept failed; pausing 100ms (one line per 10s at most)"
                        );
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        _ = stop.cancelled() => break,
                    }
                }
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// An open connection: its slot and its count in `line_connections_active`, both given back
/// on drop.
struct Open<I: LineInput> {
    _permit: OwnedSemaphorePermit,
    input: Arc<I>,
}

impl<I: LineInput> Open<I> {
    fn new(permit: OwnedSemaphorePermit, input: Arc<I>) -> Open<I> {
        input.telemetry().lines.opened(I::INPUT.name);
        Open { _permit: permit, input }
    }
}

impl<I: LineInput> Drop for Open<I> {
    fn drop(&mut self) {
        self.input.telemetry().lines.closed(I::INPUT.name);
    }
}

async fn connection<I: LineInput>(mut stream: TcpStream, input: Arc<I>, idle: Duration, stop: CancellationToken) {
    let mut lines = Reassembly::default();
    let mut chunk = vec![0u8; READ_CHUNK];
    // Once stopping, what the client sent before is still read, without waiting for more.
    let mut stopping = false;
    loop {
        let n = if stopping {
            match stream.try_read(&mut chunk) {
                Ok(n) => n,
                // Nothing more for now: an unfinished last line is left, it may be cut.
                Err(_) => return,
            }
        } else {
            tokio::select! {
                read = tokio::time::timeout(idle, stream.read(&mut chunk)) => match read {
                    Ok(read) => read.unwrap_or(0),
                    // Silent too long: closed, an unfinished last line with it.
                    Err(_) => {
                        input.telemetry().lines.timed_out(I::INPUT.name);
                        return;
                    }
                },
                _ = stop.cancelled() => {
                    stopping = true;
                    continue;
                }
            }
        };
        let complete = match n {
            0 => lines.finish(),
            _ => lines.push(&chunk[..n]),
        };
        for _ in 0..complete.too_long {
            too_long(&*input);
        }
        if !submit(&*input, &lines.buffer[..complete.end], &stop).await {
            return;
        }
        lines.consume(complete.end);
        if n == 0 {
            return;
        }
    }
}

/// Submits complete lines, waiting while the buffer is full; false when the input must stop.
async fn submit<I: LineInput>(input: &I, bytes: &[u8], stop: &CancellationToken) -> bool {
    if bytes.is_empty() {
        return true;
    }
    let mut prepared = input.prepare_batch(bytes);
    loop {
        match submit_all(input, &mut prepared) {
            // With a spool, the next read waits until these lines are durable.
            Ok(()) => {
                input.pipeline().durable().await;
                return true;
            }
            // Reading stops until there is room: the client's writes block.
            Err(
                Refusal::BufferFull { .. }
                | Refusal::SpoolFull { .. }
                | Refusal::SpoolFailed
                | Refusal::MemoryHigh { .. },
            ) => {
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => {}
                    _ = stop.cancelled() => return false,
                }
            }
            Err(refusal) => {
                // Shutting down, or more series-windows than the whole buffer holds.
                let n = prepared.pending();
                input.telemetry().input_lines(I::INPUT.name, LineOutcome::Dropped, n);
                tracing::warn!(input = I::INPUT.name, %refusal, lines = n, "TCP lines refused");
                return !matches!(refusal, Refusal::ShuttingDown);
            }
        }
    }
}

/// Bytes of a stream cut into complete lines, skipping lines over [`MAX_LINE`].
#[derive(Default)]
struct Reassembly {
    buffer: Vec<u8>,
    /// Inside a line already counted as too long: drop bytes up to its newline.
    skipping: bool,
}

#[derive(Debug, PartialEq)]
struct Complete {
    /// `buffer[..end]` holds complete lines.
    end: usize,
    too_long: usize,
}

impl Reassembly {
    fn push(&mut self, mut bytes: &[u8]) -> Complete {
        let mut too_long = 0;
        if self.skipping {
            match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.skipping = false;
                    bytes = &bytes[i + 1..];
                }
                None => return Complete { end: 0, too_long },
            }
        }
        self.buffer.extend_from_slice(bytes);
        let end = self.buffer.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        // Complete lines over the limit are dropped in place; so is an unfinished one.
        if self.buffer[..end].split(|b| *b == b'\n').any(|l| l.len() > MAX_LINE) {
            let mut kept = Vec::with_capacity(end);
            for line in self.buffer[..end].split_inclusive(|b| *b == b'\n') {
                if line.len() - 1 > MAX_LINE {
                    too_long += 1;
                } else {
                    kept.extend_from_slice(line);
                }
            }
            let rest = self.buffer.split_off(end);
            kept.extend_from_slice(&rest);
            let end = kept.len() - rest.len();
            self.buffer = kept;
            return self.check_partial(Complete { end, too_long });
        }
        self.check_partial(Complete { end, too_long })
    }

    /// An unfinished line already over the limit is dropped now, and the rest of it as it comes.
    fn check_partial(&mut self, mut complete: Complete) -> Complete {
        if self.buffer.len() - complete.end > MAX_LINE {
            self.buffer.truncate(complete.end);
            self.skipping = true;
            complete.too_long += 1;
        }
        complete
    }

    /// At the end of the stream the last line needs no newline.
    fn finish(&mut self) -> Complete {
        if self.skipping {
            self.buffer.clear();
        }
        Complete { end: self.buffer.len(), too_long: 0 }
    }

    fn consume(&mut self, end: usize) {
        self.buffer.drain(..end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete_lines(r: &mut Reassembly, bytes: &[u8]) -> (Vec<String>, usize) {
        let c = r.push(bytes);
        let lines = cw_core::ingest::statsd::lines(&r.buffer[..c.end])
            .map(|l| String::from_utf8(l.to_vec()).unwrap())
            .collect();
        r.consume(c.end);
        (lines, c.too_long)
    }

    #[test]
    fn lines_are_reassembled_across_reads() {
        let mut r = Reassembly::default();
        assert_eq!(complete_lines(&mut r, b"a:1|c\nb:"), (vec!["a:1|c".to_string()], 0));
        assert_eq!(complete_lines(&mut r, b"2|c"), (vec![], 0));
        assert_eq!(complete_lines(&mut r, b"\nc:3|c\n"), (vec!["b:2|c".to_string(), "c:3|c".to_string()], 0));
        r.push(b"d:4|c");
        let c = r.finish();
        assert_eq!(&r.buffer[..c.end], b"d:4|c");
    }

    #[test]
    fn an_overlong_line_is_skipped_and_the_next_ones_kept() {
        let mut r = Reassembly::default();
        let long = vec![b'x'; MAX_LINE + 1];
        // Complete in one read.
        let mut bytes = long.clone();
        bytes.extend_from_slice(b"\nok:1|c\n");
        assert_eq!(complete_lines(&mut r, &bytes), (vec!["ok:1|c".to_string()], 1));
        // Spread over reads: counted once, as soon as it is too long.
        assert_eq!(complete_lines(&mut r, &long[..1000]), (vec![], 0));
        assert_eq!(complete_lines(&mut r, &long[1000..]), (vec![], 1));
        assert_eq!(complete_lines(&mut r, &long), (vec![], 0));
        assert_eq!(complete_lines(&mut r, b"xx\nnext:1|c\n"), (vec!["next:1|c".to_string()], 0));
        // A line of exactly the limit is kept.
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(complete_lines(&mut r, &exact).0.len(), 1);
    }
}
