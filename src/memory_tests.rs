use super::*;
use crate::test_support::TempDir;

/// A root with `/proc/self/cgroup` and the given files under it.
fn root(name: &str, cgroup: &str, files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new(name);
    dir.file("proc/self/cgroup", cgroup);
    for (path, text) in files {
        dir.file(path, text);
    }
    dir
}

#[test]
fn auto_is_80_percent_of_a_cgroup_v2_limit_of_the_cgroup_or_an_ancestor() {
    let dir = root(
        "cg-v2",
        "0::/kubepods/pod1\n",
        &[("sys/fs/cgroup/kubepods/pod1/memory.max", "max\n"), ("sys/fs/cgroup/kubepods/memory.max", "536870912\n")],
    );
    assert_eq!(cgroup_limit(dir.path()), Some(512 << 20));
    let (ceiling, from) = resolve(MaxMemory::Auto, dir.path()).unwrap();
    assert_eq!(ceiling, (512u64 << 20) / 5 * 4);
    assert!(from.contains("cgroup"), "{from}");
    assert_eq!(resolve(MaxMemory::None, dir.path()), None);
    assert_eq!(resolve(MaxMemory::Bytes(1 << 30), dir.path()).unwrap().0, 1 << 30);
}

#[test]
fn auto_reads_v1s_limit_on_a_hybrid_host_and_none_when_unlimited() {
    let hybrid = "4:memory:/docker/abc\n0::/\n";
    let dir = root("cg-v1", hybrid, &[("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "268435456\n")]);
    assert_eq!(cgroup_limit(dir.path()), Some(256 << 20));
    let dir = root(
        "cg-v1-none",
        hybrid,
        &[("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n")],
    );
    assert_eq!(resolve(MaxMemory::Auto, dir.path()), None);
    let dir = TempDir::new("cg-missing");
    assert_eq!(cgroup_limit(dir.path()), None);
}

#[test]
fn budgets_over_their_share_are_lowered_and_named() {
    let mut config = Config::default();
    let lowered = fit(&mut config, 128 << 20);
    assert_eq!(config.max_body_bytes_in_flight, 32 << 20);
    assert_eq!(config.max_buffered_datums, 49_152);
    assert_eq!(config.otlp.max_stream_state_bytes, 4 << 20);
    assert!(lowered.iter().any(|l| l.starts_with("max_buffered_datums 100000 -> 49152")), "{lowered:?}");
    // A generous ceiling leaves the defaults as they are.
    let mut config = Config::default();
    assert!(fit(&mut config, 64 << 30).is_empty());
    assert_eq!(config.max_buffered_datums, 100_000);
}

#[test]
fn the_udp_queues_are_sized_from_their_share_and_only_for_listeners_that_are_on() {
    // No UDP listener: nothing of theirs is lowered.
    let mut config = Config::default();
    fit(&mut config, 128 << 20);
    assert_eq!(config.udp_batch_bytes, 4 << 20);
    assert_eq!(config.statsd.receive_buffer_bytes, None);
    // StatsD on UDP at 128MiB: 2 MiB of batches, 10 batch bounds; a 1 MiB receive buffer.
    let mut config = Config::default();
    config.statsd.enabled = true;
    config.emf.receive_buffer_bytes = Some(8 << 20);
    let lowered = fit(&mut config, 128 << 20);
    assert_eq!(config.udp_batch_bytes, (2 << 20) / 10);
    assert_eq!(config.statsd.receive_buffer_bytes, Some(1 << 20));
    assert_eq!(config.emf.receive_buffer_bytes, Some(8 << 20), "EMF listens on nothing");
    assert!(lowered.iter().any(|l| l.starts_with("statsd.receive_buffer_bytes 4.0 MiB -> 1.0 MiB")), "{lowered:?}");
    assert!(lowered.iter().any(|l| l.starts_with("UDP batches of datagrams 4.0 MiB -> 204.8 KiB")), "{lowered:?}");
    // Both on: they share it.
    config.emf.enabled = true;
    fit(&mut config, 128 << 20);
    assert_eq!(config.emf.receive_buffer_bytes, Some(512 << 10));
    assert_eq!(config.udp_batch_bytes, 128 << 10);
    let shown = shares(&config, 128 << 20);
    assert!(shown.contains(&("udp", 4 << 20)) && shown.contains(&("spool_replay", 2 << 20)), "{shown:?}");
    assert!(shown.contains(&("udp_batch", 128 << 10)), "{shown:?}");
}

#[test]
fn the_resident_memory_of_this_process_is_measured() {
    let rss = rss().unwrap();
    assert!(rss > 1 << 20 && rss < 64 << 30, "{rss}");
}
