//! The memory ceiling, `max_memory`: resolved at startup (from the cgroup's limit when
//! `auto`), the memory budgets lowered to fit in it, and a sampler thread that measures the
//! resident memory every 20 ms and tells the pipeline's guard, which refuses ingest above the
//! high mark until below the low mark, or until the buffer is drained (see
//! [`cw_core::pipeline::memory`]).

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use cw_core::environment::cgroup;
use cw_core::pipeline::buffer::Buffer;
use cw_core::pipeline::memory::{BYTES_PER_BUFFERED_DATUM, Budgets, MemoryGuard};

use crate::config::{Config, MaxMemory};
use crate::ingest::lines::udp::DEFAULT_RECEIVE_BUFFER;
use crate::telemetry::Telemetry;

/// How often resident memory is measured.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// While refusing, freed memory is handed back to the system at most this often.
const TRIM_EVERY: Duration = Duration::from_millis(250);

/// The cgroup's memory limit, read under `root` (`/`; a test's directory in tests).
pub fn cgroup_limit(root: &Path) -> Option<u64> {
    let under = |p: &str| root.join(p.trim_start_matches('/'));
    let text = std::fs::read_to_string(under("/proc/self/cgroup")).ok()?;
    let limits = cgroup::limit_files(&text)
        .into_iter()
        .map(|f| std::fs::read_to_string(under(&f.path)).ok().and_then(|t| cgroup::parse_limit(&t, f.v2)));
    cgroup::effective_limit(limits)
}

/// The ceiling `max_memory` asks for, and where it came from.
pub fn resolve(max: MaxMemory, root: &Path) -> Option<(u64, String)> {
    match max {
        MaxMemory::None => None,
        MaxMemory::Bytes(n) => Some((n, "max_memory".into())),
        MaxMemory::Auto => {
            let limit = cgroup_limit(root)?;
            let ceiling = cgroup::default_ceiling(Some(limit))?;
            Some((ceiling, format!("80% of the cgroup's memory limit ({})", size(limit))))
        }
    }
}

fn size(n: u64) -> String {
    bytesize::ByteSize(n).display().iec().to_string()
}

/// Lowers the budgets of `config` that do not fit in `ceiling` together; says which.
pub fn fit(config: &mut Config, ceiling: u64) -> Vec<String> {
    let b = Budgets::of(ceiling);
    let mut lowered = Vec::new();
    let mut cap = |key: &str, value: &mut usize, bound: u64, shown: fn(u64) -> String| {
        let bound = usize::try_from(bound).unwrap_or(usize::MAX).max(1);
        if *value > bound {
            lowered.push(format!("{key} {} -> {}", shown(*value as u64), shown(bound as u64)));
            *value = bound;
        }
    };
    cap("max_body_bytes_in_flight", &mut config.max_body_bytes_in_flight, b.bodies, size);
    cap("max_body_bytes", &mut config.max_body_bytes, b.bodies, size);
    cap("max_buffered_datums", &mut config.max_buffered_datums, b.buffered_datums, |n| n.to_string());
    cap("otlp.max_stream_state_bytes", &mut config.otlp.max_stream_state_bytes, b.otlp_state, size);
    cap("remote_write.max_state_bytes", &mut config.remote_write.max_state_bytes, b.remote_write_state, size);
    let targets = config.scrape.targets.len().max(1) as u64;
    cap("scrape.max_response_bytes", &mut config.scrape.max_response_bytes, b.scrape / 2 / targets, size);
    cap(
        "scrape.max_state_bytes_per_target",
        &mut config.scrape.max_state_bytes_per_target,
        b.scrape / 2 / targets,
        size,
    );
    // The UDP listeners share theirs: half for the batches read and not yet handled, half for
    // the sockets' receive buffers (the default one, or the one configured, lowered).
    let (statsd, emf) = (config.statsd.udp().is_some(), config.emf.udp().is_some());
    let udp = u64::from(statsd) + u64::from(emf);
    if udp > 0 {
        cap("UDP batches of datagrams", &mut config.udp_batch_bytes, b.udp_batch_bytes(udp), size);
        let receive = b.udp_receive_buffer_bytes(udp);
        for (key, buffer, on) in [
            ("statsd.receive_buffer_bytes", &mut config.statsd.receive_buffer_bytes, statsd),
            ("emf.receive_buffer_bytes", &mut config.emf.receive_buffer_bytes, emf),
        ] {
            let mut wanted = buffer.unwrap_or(DEFAULT_RECEIVE_BUFFER);
            if on && (wanted as u64) > receive {
                cap(key, &mut wanted, receive, size);
                *buffer = Some(wanted);
            }
        }
    }
    lowered
}

/// What `/metrics` and the start's log show of the shares of `ceiling`.
pub fn shares(config: &Config, ceiling: u64) -> Vec<(&'static str, u64)> {
    let b = Budgets::of(ceiling);
    vec![
        ("bodies", b.bodies),
        ("buffered_datums", b.buffered_datums * BYTES_PER_BUFFERED_DATUM),
        ("otlp_state", b.otlp_state),
        ("remote_write_state", b.remote_write_state),
        ("scrape", b.scrape),
        ("spool_replay", b.spool_replay_bytes()),
        ("udp", b.udp),
        ("udp_batch", config.udp_batch_bytes as u64),
    ]
}

/// Resolves the ceiling, fits the budgets of `config` into it and logs both; the guard to
/// give the pipeline.
pub fn apply(config: &mut Config, root: &Path) -> Option<Arc<MemoryGuard>> {
    let Some((ceiling, source)) = resolve(config.max_memory, root) else {
        tracing::info!("max_memory: none (no cgroup memory limit found; set max_memory to have one)");
        return None;
    };
    let lowered = fit(config, ceiling);
    let guard = Arc::new(MemoryGuard::new(ceiling));
    let shares: Vec<String> = shares(config, ceiling).iter().map(|(k, n)| format!("{k}={}", size(*n))).collect();
    tracing::info!(
        max_memory = %size(ceiling), from = %source, high_mark = %size(guard.high_mark()),
        bytes_per_buffered_datum = BYTES_PER_BUFFERED_DATUM, shares = %shares.join(","),
        "memory ceiling: ingest is refused while resident memory is above the high mark"
    );
    if !lowered.is_empty() {
        tracing::warn!(lowered = %lowered.join(", "), "budgets lowered to fit in max_memory");
    }
    Some(guard)
}

/// The resident set size of this process.
pub fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    cgroup::rss_from_statm(&statm, u64::try_from(page).ok()?)
}

/// Measures resident memory every 20 ms into `guard` and the gauges, until the guard is
/// dropped with the pipeline. While refusing, hands freed memory back to the system, so that
/// what the allocator keeps does not hold ingest refused.
pub(crate) fn spawn_sampler(
    guard: &Arc<MemoryGuard>,
    buffer: &Arc<Buffer>,
    telemetry: &Arc<Telemetry>,
) -> std::io::Result<()> {
    let guard: Weak<MemoryGuard> = Arc::downgrade(guard);
    let buffer = Arc::downgrade(buffer);
    let telemetry = Arc::downgrade(telemetry);
    std::thread::Builder::new().name("memory".into()).spawn(move || {
        let mut trimmed = Instant::now();
        let mut was_refusing = false;
        while let (Some(guard), Some(buffer), Some(telemetry)) = (guard.upgrade(), buffer.upgrade(), telemetry.upgrade()) {
            if let Some(rss) = rss() {
                // Drained: at most a hundredth of the bound held (the self metrics come and go).
                let refusing = guard.observe(rss, buffer.used() <= buffer.max() / 100);
                telemetry.memory.set(&guard, refusing);
                if refusing != was_refusing {
                    if refusing {
                        tracing::warn!(rss = %size(rss), high_mark = %size(guard.high_mark()), "memory high: refusing ingest");
                    } else {
                        tracing::info!(rss = %size(rss), "memory below the low mark: taking ingest again");
                    }
                    was_refusing = refusing;
                }
                if refusing && trimmed.elapsed() >= TRIM_EVERY {
                    trim();
                    trimmed = Instant::now();
                }
            }
            drop((guard, buffer, telemetry));
            std::thread::sleep(SAMPLE_EVERY);
        }
    })?;
    Ok(())
}

/// Gives the allocator's free memory back to the system (glibc keeps it otherwise).
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
