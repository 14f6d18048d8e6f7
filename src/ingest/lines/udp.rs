//! A line-based input over UDP. One thread does nothing but drain the socket into batches (datagrams
//! joined by `\n`): while the processing thread is busy, datagrams pile up in the batch instead
//! of the kernel's buffer. UDP cannot push back, so lines the pipeline refuses are counted as
//! dropped, and so are the datagrams the kernel dropped (read from `/proc/net/udp`).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::input::{LineInput, submit_once};
use super::recv::{Datagrams, SLOTS};
use cw_core::pipeline::Refusal;
use cw_core::reasons::{LineOutcome, UdpDrop};

/// With a receive buffer of at least [`LINGER_BUFFER`], the reader lets a burst gather in the
/// kernel's queue for this long after its first datagram, and takes it in a few calls and
/// one hand-over instead of waking for every handful of datagrams. With a smaller buffer the
/// queue could overflow meanwhile, so it reads at once.
const LINGER: Duration = Duration::from_millis(1);
const LINGER_BUFFER: usize = 2 * 1024 * 1024;
/// How often the reader looks at the stop flag and the kernel's drop count.
const POLL: Duration = Duration::from_millis(200);

/// What the UDP sockets ask the kernel for when `receive_buffer_bytes` is not set: enough for
/// bursts of thousands of datagrams (a small datagram costs the queue about 1 KiB).
pub const DEFAULT_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Binds the socket with the requested `SO_RCVBUF` (or [`DEFAULT_RECEIVE_BUFFER`]), saying
/// what the kernel granted when it gives less: a warning when the size was configured, an
/// info line for the default. `key` names the setting.
pub fn bind(address: SocketAddr, receive_buffer: Option<usize>, key: &str) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(address), Type::DGRAM, Some(Protocol::UDP))?;
    let wanted = receive_buffer.unwrap_or(DEFAULT_RECEIVE_BUFFER);
    socket.set_recv_buffer_size(wanted)?;
    // Linux reports twice what it grants (the doubling covers its bookkeeping).
    let granted = socket.recv_buffer_size()? / if cfg!(target_os = "linux") { 2 } else { 1 };
    if granted < wanted && receive_buffer.is_some() {
        tracing::warn!(wanted, effective = granted, "{key} capped by the kernel: raise net.core.rmem_max to get it");
    } else if granted < wanted {
        tracing::info!(
            wanted,
            effective = granted,
            "UDP receive buffer capped by the kernel (raise net.core.rmem_max, or set {key})"
        );
    }
    socket.bind(&address.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// The running UDP listener.
pub struct UdpListener {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl UdpListener {
    /// A batch is handed over when the processor is free, and blocks the reader beyond
    /// `max_batch` bytes (the kernel's buffer then absorbs the burst): the listener holds a
    /// few batches at most (the ceiling's share for them sizes `max_batch`).
    pub fn start<I: LineInput>(socket: UdpSocket, input: Arc<I>, max_batch: usize) -> std::io::Result<UdpListener> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = sync_channel::<Vec<u8>>(1);
        // Handled batches go back to the reader, emptied: their memory is reused rather than
        // allocated (and faulted in) again for every batch.
        let (recycle, recycled) = sync_channel::<Vec<u8>>(2);
        let inode = socket_inode(&socket);
        let name = I::INPUT.name;
        let reader = {
            let (stop, input) = (stop.clone(), input.clone());
            std::thread::Builder::new()
                .name(format!("{name}-udp-read"))
                .spawn(move || read(socket, tx, &recycled, &stop, &*input, inode, max_batch))?
        };
        let processor =
            std::thread::Builder::new().name(format!("{name}-udp")).spawn(move || process(rx, &recycle, &*input))?;
        Ok(UdpListener { stop, threads: vec![reader, processor] })
    }

    /// Stops reading, and returns once what was read has been submitted.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn read<I: LineInput>(
    socket: UdpSocket,
    tx: SyncSender<Vec<u8>>,
    recycled: &Receiver<Vec<u8>>,
    stop: &AtomicBool,
    input: &I,
    inode: Option<u64>,
    max_batch: usize,
) {
    let mut datagrams = Datagrams::new();
    let linger = socket2::SockRef::from(&socket).recv_buffer_size().is_ok_and(|b| b >= LINGER_BUFFER);
    let mut batch = Vec::new();
    let mut dropped = inode.and_then(kernel_drops).unwrap_or(0);
    let mut checked = Instant::now();
    while !stop.load(Ordering::Acquire) {
        match datagrams.recv(&socket, true) {
            // Then whatever else is queued, so a burst is handed over in one batch.
            Ok(n) => {
                append(&mut batch, &datagrams, n);
                if linger && n < SLOTS {
                    std::thread::sleep(LINGER);
                }
                let mut more = true;
                while more && batch.len() < max_batch {
                    let m = datagrams.recv(&socket, false).unwrap_or(0);
                    append(&mut batch, &datagrams, m);
                    more = m == SLOTS;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => {
                tracing::warn!(input = I::INPUT.name, error = %e, "UDP read failed");
                std::thread::sleep(POLL);
            }
        }
        if !batch.is_empty() {
            batch = match tx.try_send(batch) {
                Ok(()) => recycled.try_recv().unwrap_or_default(),
                Err(TrySendError::Full(b)) if b.len() < max_batch => b,
                Err(TrySendError::Full(b)) => match tx.send(b) {
                    Ok(()) => recycled.try_recv().unwrap_or_default(),
                    Err(_) => return,
                },
                Err(TrySendError::Disconnected(_)) => return,
            };
        }
        if checked.elapsed() >= Duration::from_secs(1) {
            checked = Instant::now();
            if let Some(now) = inode.and_then(kernel_drops) {
                if now > dropped {
                    input.telemetry().udp_dropped(I::INPUT.name, UdpDrop::Kernel, now - dropped);
                }
                dropped = now;
            }
        }
    }
    // Stopping: what the kernel holds was sent before shutdown, take it too.
    while batch.len() < max_batch {
        match datagrams.recv(&socket, false) {
            Ok(n) if n > 0 => append(&mut batch, &datagrams, n),
            _ => break,
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
}

/// Appends the first `n` datagrams of the last receive, each ending a line.
fn append(batch: &mut Vec<u8>, datagrams: &Datagrams, n: usize) {
    for i in 0..n {
        let (head, tail) = datagrams.get(i);
        batch.extend_from_slice(head);
        batch.extend_from_slice(tail);
        batch.push(b'\n');
    }
}

fn process<I: LineInput>(rx: Receiver<Vec<u8>>, recycle: &SyncSender<Vec<u8>>, input: &I) {
    while let Ok(mut batch) = rx.recv() {
        handle(input, &batch);
        batch.clear();
        let _ = recycle.try_send(batch);
    }
}

/// Submits one batch of datagrams; what the pipeline refuses is lost and counted.
pub fn handle<I: LineInput>(input: &I, batch: &[u8]) {
    if let Err((refusal, n)) = submit_once(input, batch) {
        let reason = match refusal {
            Refusal::BufferFull { .. } => UdpDrop::BufferFull,
            Refusal::ShuttingDown => UdpDrop::ShuttingDown,
            Refusal::NeverFits { .. } => UdpDrop::TooLarge,
            Refusal::SpoolFull { .. } => UdpDrop::SpoolFull,
            Refusal::SpoolFailed => UdpDrop::SpoolError,
            Refusal::MemoryHigh { .. } => UdpDrop::MemoryHigh,
        };
        input.telemetry().udp_dropped(I::INPUT.name, reason, n as u64);
        input.telemetry().input_lines(I::INPUT.name, LineOutcome::Dropped, n);
    }
}

/// The socket's inode, which names it in `/proc/net/udp`.
fn socket_inode(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    let link = link.to_str()?;
    link.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// The kernel's drop count for the socket with this inode (`/proc/net/udp` or `udp6`).
fn kernel_drops(inode: u64) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        drops_in(&text, inode)
    })
}

/// Finds the line of `inode` in a `/proc/net/udp` table and reads its last column, `drops`.
fn drops_in(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.get(9)?.parse::<u64>().ok()? == inode).then(|| cols.last()?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_drops_column_of_our_socket() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0000000000000000 17\n\
  2: 0100007F:1FBE 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4243 2 0000000000000000 3\n";
        assert_eq!(drops_in(table, 4242), Some(17));
        assert_eq!(drops_in(table, 4243), Some(3));
        assert_eq!(drops_in(table, 1), None);
    }

    #[test]
    fn finds_a_real_socket_in_proc() {
        let socket = bind("127.0.0.1:0".parse().unwrap(), Some(1 << 20), "test.receive_buffer_bytes").unwrap();
        let inode = socket_inode(&socket).expect("an inode");
        assert_eq!(kernel_drops(inode), Some(0));
    }
}
