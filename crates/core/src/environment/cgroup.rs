//! The memory limit of the sidecar's cgroup, from the text of `/proc/self/cgroup` and of the
//! limit files: cgroup v2's `memory.max`, v1's `memory.limit_in_bytes`. The sidecar reads the
//! files; here is which files, and what they say.

/// Where a cgroup hierarchy is mounted, as the container runtimes and systemd mount it.
pub const V2_MOUNT: &str = "/sys/fs/cgroup";
pub const V1_MEMORY_MOUNT: &str = "/sys/fs/cgroup/memory";

/// v1 writes "no limit" as the largest page-aligned counter (`9223372036854771712` on 4 KiB
/// pages); anything from 2^62 up is taken as none.
const V1_UNLIMITED: u64 = 1 << 62;

/// One file that may hold the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitFile {
    pub path: String,
    pub v2: bool,
}

/// The files to read, most specific first: for each hierarchy that has the memory controller
/// (v2's `0::PATH`, v1's `N:...memory...:PATH`) the file of the cgroup and of each ancestor
/// (a limit set on a parent binds too), then the mount's root (a cgroup namespace shows the
/// container's own cgroup as `/`, and some runtimes mount it at the root).
pub fn limit_files(proc_self_cgroup: &str) -> Vec<LimitFile> {
    let mut out = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let (mount, file, v2) = if id == "0" && controllers.is_empty() {
            (V2_MOUNT, "memory.max", true)
        } else if controllers.split(',').any(|c| c == "memory") {
            (V1_MEMORY_MOUNT, "memory.limit_in_bytes", false)
        } else {
            continue;
        };
        let mut dir = path.trim().trim_end_matches('/');
        loop {
            let path = format!("{mount}{dir}/{file}");
            if !out.iter().any(|f: &LimitFile| f.path == path) {
                out.push(LimitFile { path, v2 });
            }
            match dir.rfind('/') {
                Some(i) => dir = &dir[..i],
                None => break,
            }
            if dir.is_empty() {
                let path = format!("{mount}/{file}");
                if !out.iter().any(|f| f.path == path) {
                    out.push(LimitFile { path, v2 });
                }
                break;
            }
        }
    }
    out
}

/// The limit one file states, `None` for none (`max`, v1's huge value) or a value that is not
/// a number.
pub fn parse_limit(text: &str, v2: bool) -> Option<u64> {
    let text = text.trim();
    if v2 && text == "max" {
        return None;
    }
    let n: u64 = text.parse().ok()?;
    (n > 0 && (v2 || n < V1_UNLIMITED)).then_some(n)
}

/// The binding limit: the smallest of those the files state.
pub fn effective_limit(limits: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    limits.into_iter().flatten().min()
}

/// The default `max_memory`: 80% of the cgroup's limit, which leaves the rest to what the
/// process does not count (the kernel's socket buffers, page cache charged to the cgroup).
pub fn default_ceiling(limit: Option<u64>) -> Option<u64> {
    limit.map(|l| l / 5 * 4)
}

/// The resident set size, in bytes, from the text of `/proc/self/statm` (its second field,
/// in pages).
pub fn rss_from_statm(statm: &str, page_size: u64) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse::<u64>().ok().map(|pages| pages * page_size)
}
