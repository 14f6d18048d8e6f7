//! File descriptors, as every listener counts them: the open-files limit (RLIMIT_NOFILE) and
//! the descriptors kept out of every connection limit, for publishing (the HTTPS connections
//! to CloudWatch, credential and DNS lookups) and the spool (its log, batch files, the
//! directory's fsync). Each listener's own bound (the API's and OTLP's `max_connections`,
//! `[statsd]`/`[emf]` `max_connections` for their TCP listeners) is capped by
//! [`connection_limit`], so that a flood of clients runs into the connection limit, never into
//! "too many open files" while publishing or spooling.

/// Descriptors left out of every connection limit: the listeners, the runtime's own, the
/// HTTPS connections to CloudWatch (a few at a time), credential and DNS lookups, and the
/// spool's files.
pub const RESERVED_FDS: u64 = 64;

/// The soft open-files limit (RLIMIT_NOFILE), if there is one.
pub fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the one struct it is given, which lives on this stack.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (read && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// `configured`, but never more than the open-files limit less [`RESERVED_FDS`] (and at
/// least 1).
pub fn effective_connection_limit(configured: usize, open_files: Option<u64>) -> usize {
    match open_files {
        None => configured,
        Some(n) => configured.min(usize::try_from(n.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX)).max(1),
    }
}

/// The connection limit of the listener whose bound is the key `key`, logged when the
/// open-files limit lowers it.
pub fn connection_limit(configured: usize, key: &str) -> usize {
    let open_files = open_files_limit();
    let effective = effective_connection_limit(configured, open_files);
    if let Some(open_files_limit) = open_files
        && effective < configured
    {
        tracing::warn!(
            max_connections = effective,
            configured,
            open_files_limit,
            reserved = RESERVED_FDS,
            "{key} lowered to the open-files limit (RLIMIT_NOFILE) less the descriptors kept for publishing and the spool"
        );
    }
    effective
}

/// Whether an accept failed for want of descriptors or memory (then the loop must pause, or
/// it would spin), rather than for the peer's own failure.
pub fn needs_pause(e: &std::io::Error) -> bool {
    !matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset)
}

/// A log line at most every `every`, saying how many events it stands for: what a flood of
/// refused connections or failed accepts logs.
#[derive(Debug)]
pub struct Throttled {
    every: std::time::Duration,
    last: Option<std::time::Instant>,
    /// Events since the last line.
    count: u64,
}

impl Throttled {
    pub fn new(every: std::time::Duration) -> Throttled {
        Throttled { every, last: None, count: 0 }
    }

    /// Counts an event; `Some(n)` when a line is due, for the `n` events since the last one.
    pub fn event(&mut self) -> Option<u64> {
        self.count += 1;
        let due = self.last.is_none_or(|at| at.elapsed() >= self.every);
        due.then(|| {
            self.last = Some(std::time::Instant::now());
            std::mem::take(&mut self.count)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_caps_the_connections_and_keeps_a_reserve() {
        assert_eq!(effective_connection_limit(512, None), 512);
        assert_eq!(effective_connection_limit(512, Some(1 << 20)), 512);
        assert_eq!(effective_connection_limit(512, Some(256)), 256 - RESERVED_FDS as usize);
        assert_eq!(effective_connection_limit(512, Some(10)), 1, "never none at all");
    }

    #[test]
    fn the_open_files_limit_is_read() {
        assert!(open_files_limit().is_some_and(|n| n > 0));
    }

    #[test]
    fn only_running_out_of_something_pauses() {
        use std::io::{Error, ErrorKind};
        assert!(needs_pause(&Error::from_raw_os_error(libc::EMFILE)));
        assert!(!needs_pause(&Error::from(ErrorKind::ConnectionAborted)));
    }

    #[test]
    fn a_throttled_log_says_how_many_events_it_stands_for() {
        let mut log = Throttled::new(std::time::Duration::from_millis(50));
        assert_eq!(log.event(), Some(1), "the first one is logged");
        assert_eq!((log.event(), log.event()), (None, None));
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert_eq!(log.event(), Some(3), "then one line for the two held back and this one");
    }
}
