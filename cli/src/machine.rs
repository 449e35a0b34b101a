//! What the machine gives this process, for defaults that scale with it.

/// The memory this process may use: the cgroup's limit when one is set (v2
/// `memory.max`, v1 `memory.limit_in_bytes`), else the machine's `MemTotal`; `None` where
/// neither can be read (not Linux).
pub fn memory_bytes() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let total = read("/proc/meminfo").and_then(|s| mem_total(&s));
    let limit = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .and_then(|s| cgroup_limit(&s));
    match (total, limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, l) => t.or(l),
    }
}

/// `MemTotal` from `/proc/meminfo`'s text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A cgroup memory limit file's value; `None` for no limit (`max`, or v1's huge value).
fn cgroup_limit(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    (v < 1 << 60).then_some(v)
}

/// The smallest default hot-tier bound (the fixed default before it scaled).
const MIN_HOT_BYTES: u64 = 256 << 20;

/// `hot.max_bytes` when neither the settings file nor a flag sets it: an eighth of
/// `memory` ([`memory_bytes`]), at least 256 MiB (also when the memory is unknown). The
/// hot tier holds what the last `hot.max_age` brought, so the bound matters only with
/// many active series (a million scraped every 15 s overflowed 256 MiB and rotated every
/// minute); below it, memory follows the data.
pub fn default_hot_max_bytes(memory: Option<u64>) -> usize {
    let bytes = memory.map_or(MIN_HOT_BYTES, |m| (m / 8).max(MIN_HOT_BYTES));
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_and_cgroup_limits() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_576_000 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(cgroup_limit("max\n"), None);
        assert_eq!(cgroup_limit("4294967296\n"), Some(4 << 30));
        assert_eq!(cgroup_limit("9223372036854771712\n"), None, "v1: no limit");
        assert!(memory_bytes().is_some(), "this is Linux");
    }

    #[test]
    fn the_hot_bound_is_an_eighth_of_memory_and_at_least_256_mib() {
        assert_eq!(default_hot_max_bytes(Some(24 << 30)), 3 << 30);
        assert_eq!(default_hot_max_bytes(Some(1 << 30)), 256 << 20);
        assert_eq!(default_hot_max_bytes(None), 256 << 20);
    }
}
