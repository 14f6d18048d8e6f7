//! A line-based input over TCP: lines reassembled across reads; a line over 64 KiB is skipped and counted
//! without closing the connection. When the pipeline's buffer is full the connection stops
//! reading and retries the same lines shortly, so the client's writes block: nothing is
//! accepted and then lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::input::{LineInput, submit as submit_all, too_long};
use cw_core::pipeline::Refusal;
use cw_core::reasons::LineOutcome;

/// The longest line kept.
pub const MAX_LINE: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;
/// How long a connection waits before offering refused lines again.
const RETRY: Duration = Duration::from_millis(100);

/// Accepts connections until `stop`, then waits for them to finish.
pub async fn serve<I: LineInput>(listener: TcpListener, input: Arc<I>, stop: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, input.clone(), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(input = I::INPUT.name, error = %e, "TCP accept failed");
                    tokio::time::sleep(RETRY).await;
                }
            },
            _ = stop.cancelled() => break,
        }
    }
    connections.close();
    connections.wait().await;
}

async fn connection<I: LineInput>(mut stream: TcpStream, input: Arc<I>, stop: CancellationToken) {
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
                read = stream.read(&mut chunk) => read.unwrap_or(0),
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
            Err(Refusal::BufferFull { .. } | Refusal::SpoolFull { .. } | Refusal::SpoolFailed) => {
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
