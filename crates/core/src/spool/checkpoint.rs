//! What the last flush moved from the write-ahead log into batch files: the windows that
//! ended by `end_ms`, of the segments below `below`. A replay skips those records.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub below: u64,
    pub end_ms: i64,
}

impl Checkpoint {
    pub const NONE: Checkpoint = Checkpoint { below: 0, end_ms: i64::MIN };

    /// Whether a record of segment `id` whose window ends at `end_ms` is in a batch file.
    pub fn covers(self, id: u64, end_ms: i64) -> bool {
        id < self.below && end_ms <= self.end_ms
    }

    pub fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.below.to_le_bytes());
        out[8..].copy_from_slice(&self.end_ms.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Checkpoint> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        let below = u64::from_le_bytes(bytes[..8].try_into().ok()?);
        Some(Checkpoint { below, end_ms: i64::from_le_bytes(bytes[8..].try_into().ok()?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_and_covers_only_older_segments_and_windows() {
        let c = Checkpoint { below: 3, end_ms: 120_000 };
        assert_eq!(Checkpoint::decode(&c.encode()), Some(c));
        assert_eq!(Checkpoint::decode(&[0; 15]), None);
        assert!(c.covers(2, 120_000));
        assert!(!c.covers(3, 60_000), "a segment at or past `below` is not covered");
        assert!(!c.covers(0, 120_001), "a window ending later is not covered");
        assert!(!Checkpoint::NONE.covers(0, i64::MIN));
    }
}
