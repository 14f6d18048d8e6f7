//! Fixed-size keys for the state inputs keep between requests (cumulative streams, scraped
//! series, StatsD gauges and sets): a 128-bit hash of an identity, never its text, so that a
//! client sending long names, tags or resources holds no more state than any other. The hash
//! is two foldhash (quality) hashes under random seeds of the process's own: fast enough for
//! every StatsD line (SipHash twice cost a StatsD datagram about 300 instructions more), and
//! collisions need the seeds, which nothing shows. Each state has seeds of its own.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use foldhash::quality::{FoldHasher, RandomState};

/// A key of input-side state.
pub type Key = u128;

/// The random keys of one state.
#[derive(Debug, Clone, Default)]
pub struct Keys(RandomState, RandomState);

impl Keys {
    /// A hasher for one key.
    pub fn hasher(&self) -> KeyHasher {
        KeyHasher(self.0.build_hasher(), self.1.build_hasher())
    }

    /// The key of `parts`, each written whole.
    pub fn of(&self, parts: &[&[u8]]) -> Key {
        let mut h = self.hasher();
        for p in parts {
            h.write_bytes(p);
        }
        h.finish()
    }
}

/// Builds a key from its parts, each written whole (its length first, so that no part runs
/// into the next).
pub struct KeyHasher(FoldHasher<'static>, FoldHasher<'static>);

impl KeyHasher {
    pub fn write_str(&mut self, s: &str) {
        self.write_bytes(s.as_bytes());
    }

    pub fn write_bytes(&mut self, b: &[u8]) {
        for h in [&mut self.0, &mut self.1] {
            h.write_u64(b.len() as u64);
            h.write(b);
        }
    }

    pub fn write_key(&mut self, k: Key) {
        self.write_bytes(&k.to_le_bytes());
    }

    pub fn finish(&self) -> Key {
        (u128::from(self.0.finish()) << 64) | u128::from(self.1.finish())
    }
}

/// Forgets the entries of `state` whose last sighting (`seen`) is `idle_ms` or more before
/// `now_ms`, and gives back the memory of a map that emptied out; returns the bytes (`cost`)
/// they were charged.
pub fn forget_idle<K: Eq + std::hash::Hash, V, S: BuildHasher>(
    state: &mut HashMap<K, V, S>,
    now_ms: i64,
    idle_ms: i64,
    seen: impl Fn(&V) -> i64,
    cost: impl Fn(&V) -> usize,
) -> usize {
    let mut freed = 0;
    state.retain(|_, v| {
        let keep = now_ms.saturating_sub(seen(v)) < idle_ms;
        if !keep {
            freed += cost(v);
        }
        keep
    });
    if state.capacity() > 4 * state.len().max(64) {
        state.shrink_to_fit();
    }
    freed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_their_parts_apart_and_each_state_has_its_own() {
        let keys = Keys::default();
        assert_eq!(keys.of(&[b"a", b"bc"]), keys.of(&[b"a", b"bc"]));
        assert_ne!(keys.of(&[b"a", b"bc"]), keys.of(&[b"ab", b"c"]));
        assert_ne!(keys.of(&[b"a"]), keys.of(&[b"a", b""]));
        assert_ne!(Keys::default().of(&[b"a"]), keys.of(&[b"a"]));
    }
}
