//! The memory ceiling's high mark, as the gate sees it: the sidecar measures its resident
//! memory and tells the guard; above the high mark the gate refuses ingest (each input the
//! way it refuses), until the measure falls below the low mark. The sidecar's own records
//! pass, and nothing already accepted is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The high mark as a share of the ceiling: refusing from there leaves a tenth of it to what
/// is in flight (bodies being read, windows being flushed).
pub const HIGH_PERCENT: u64 = 90;
/// Ingest is taken again below this share of the ceiling, so that it does not flap.
pub const LOW_PERCENT: u64 = 80;

#[derive(Debug)]
pub struct MemoryGuard {
    ceiling: u64,
    high: u64,
    low: u64,
    rss: AtomicU64,
    refusing: AtomicBool,
}

impl MemoryGuard {
    pub fn new(ceiling: u64) -> MemoryGuard {
        MemoryGuard {
            ceiling,
            high: ceiling / 100 * HIGH_PERCENT,
            low: ceiling / 100 * LOW_PERCENT,
            rss: AtomicU64::new(0),
            refusing: AtomicBool::new(false),
        }
    }

    /// A new measure of resident memory, and whether the buffer is drained (what it held is
    /// published); whether ingest is refused from now on. Refusing ends below the low mark,
    /// or below the high mark once the buffer is drained: what the process keeps then (the
    /// tables' room, the allocator's) is not freed by refusing longer, and is used again.
    pub fn observe(&self, rss: u64, drained: bool) -> bool {
        self.rss.store(rss, Ordering::Relaxed);
        let refusing = self.refusing.load(Ordering::Relaxed);
        let now = if refusing { rss >= self.low && !(drained && rss < self.high) } else { rss >= self.high };
        if now != refusing {
            self.refusing.store(now, Ordering::Release);
        }
        now
    }

    pub fn refusing(&self) -> bool {
        self.refusing.load(Ordering::Acquire)
    }

    pub fn rss(&self) -> u64 {
        self.rss.load(Ordering::Relaxed)
    }

    pub fn ceiling(&self) -> u64 {
        self.ceiling
    }

    pub fn high_mark(&self) -> u64 {
        self.high
    }

    pub fn low_mark(&self) -> u64 {
        self.low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_from_the_high_mark_until_below_the_low_mark() {
        let g = MemoryGuard::new(100 << 20);
        assert_eq!((g.high_mark(), g.low_mark()), (90 << 20, 80 << 20));
        assert!(!g.observe(50 << 20, false));
        assert!(!g.observe((90 << 20) - 1, false));
        assert!(g.observe(90 << 20, false));
        assert!(g.refusing());
        // Between the marks it stays refusing while the buffer holds what it accepted...
        assert!(g.observe(85 << 20, false));
        // ...until it falls below the low mark.
        assert!(!g.observe((80 << 20) - 1, false));
        assert!(!g.observe(85 << 20, false));
        assert_eq!(g.rss(), 85 << 20);
        // Drained, refusing longer frees nothing more: below the high mark it takes ingest.
        assert!(g.observe(95 << 20, true));
        assert!(!g.observe(89 << 20, true));
    }
}

/// What one buffered datum costs, counted generously: its series' key and window, its
/// values and counts (about 800 bytes a series at 20 values, in docs/performance.md).
pub const BYTES_PER_BUFFERED_DATUM: u64 = 1024;

/// The memory budgets sized to fit a ceiling together, with room left for the process
/// itself (code, threads' stacks, the HTTP and AWS clients) and what is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Request bodies held at once (`max_body_bytes_in_flight`): a quarter.
    pub bodies: u64,
    /// Buffered datums (`max_buffered_datums`), and with them the active series: 3/8.
    pub buffered_datums: u64,
    /// OTLP's cumulative streams (`otlp.max_stream_state_bytes`): 1/32.
    pub otlp_state: u64,
    /// Remote-write's state (`remote_write.max_state_bytes`): 1/32.
    pub remote_write_state: u64,
    /// Every scrape target's answer and state together (`scrape.max_response_bytes` and
    /// `max_state_bytes_per_target`, times the targets): 1/8.
    pub scrape: u64,
    /// The spool's replay at startup: how much of a log segment is read at once (a frame
    /// larger than that is read whole): 1/64.
    pub spool_replay: u64,
    /// Every UDP listener's queues together: half for the batches of datagrams read and not
    /// yet handled, half for the sockets' receive buffers (`receive_buffer_bytes`): 1/32.
    pub udp: u64,
}

/// The batches of datagrams a UDP listener holds at most: the one being read, the one handed
/// over, the one being handled and two emptied ones kept for reuse, each with up to twice its
/// bound allocated (a vector grows by doubling).
pub const UDP_BATCHES_HELD: u64 = 10;
/// A UDP listener's batch bound without a ceiling, and at most with one.
pub const UDP_BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// The least batch bound a ceiling lowers it to: a few datagrams of the largest size.
pub const MIN_UDP_BATCH_BYTES: u64 = 128 * 1024;
/// How much of a spool segment the replay reads at once without a ceiling.
pub const SPOOL_REPLAY_BYTES: u64 = 8 * 1024 * 1024;
/// The least a ceiling lowers the replay's reads to.
pub const MIN_SPOOL_REPLAY_BYTES: u64 = 256 * 1024;

impl Budgets {
    /// Shares of `ceiling`: 55/64 of it in all, the rest (18 MiB of 128 MiB) for the process.
    pub fn of(ceiling: u64) -> Budgets {
        Budgets {
            bodies: ceiling / 4,
            buffered_datums: ceiling / 8 * 3 / BYTES_PER_BUFFERED_DATUM,
            otlp_state: ceiling / 32,
            remote_write_state: ceiling / 32,
            scrape: ceiling / 8,
            spool_replay: ceiling / 64,
            udp: ceiling / 32,
        }
    }

    /// The bound of each UDP listener's batches, with `listeners` of them (at least one).
    pub fn udp_batch_bytes(&self, listeners: u64) -> u64 {
        let each = self.udp / 2 / listeners.max(1) / UDP_BATCHES_HELD;
        each.clamp(MIN_UDP_BATCH_BYTES, UDP_BATCH_BYTES)
    }

    /// The receive buffer each of `listeners` UDP sockets may ask for: the kernel charges up
    /// to twice what is asked (its bookkeeping).
    pub fn udp_receive_buffer_bytes(&self, listeners: u64) -> u64 {
        self.udp / 2 / listeners.max(1) / 2
    }

    /// How much of a spool segment the replay reads at once.
    pub fn spool_replay_bytes(&self) -> u64 {
        self.spool_replay.clamp(MIN_SPOOL_REPLAY_BYTES, SPOOL_REPLAY_BYTES)
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn the_budgets_of_128mib_fit_in_it_with_room_for_the_process() {
        let ceiling = 128u64 << 20;
        let b = Budgets::of(ceiling);
        assert_eq!(b.bodies, 32 << 20);
        assert_eq!(b.buffered_datums, 49_152);
        assert_eq!((b.spool_replay, b.udp), (2 << 20, 4 << 20));
        let total = b.bodies
            + b.buffered_datums * BYTES_PER_BUFFERED_DATUM
            + b.otlp_state
            + b.remote_write_state
            + b.scrape
            + b.spool_replay
            + b.udp;
        assert!(total <= ceiling / 64 * 55, "{total}");
        assert!(ceiling - total >= 18 << 20, "room for the process: {}", ceiling - total);
    }

    #[test]
    fn the_udp_queues_and_the_replay_are_sized_from_their_shares() {
        let b = Budgets::of(128 << 20);
        // One listener: 2 MiB of batches, 10 batch bounds of 205 KiB.
        assert_eq!(b.udp_batch_bytes(1), (2 << 20) / 10);
        assert_eq!(b.udp_batch_bytes(4), MIN_UDP_BATCH_BYTES);
        assert_eq!(b.udp_receive_buffer_bytes(1), 1 << 20);
        assert_eq!(b.udp_receive_buffer_bytes(2), 512 << 10);
        assert_eq!(b.spool_replay_bytes(), 2 << 20);
        let big = Budgets::of(4 << 30);
        assert_eq!(big.udp_batch_bytes(1), UDP_BATCH_BYTES);
        assert_eq!(big.udp_batch_bytes(2), (128 << 20) / 2 / 2 / UDP_BATCHES_HELD);
        assert_eq!(big.spool_replay_bytes(), SPOOL_REPLAY_BYTES);
        assert_eq!(Budgets::of(16 << 20).spool_replay_bytes(), MIN_SPOOL_REPLAY_BYTES);
    }
}
