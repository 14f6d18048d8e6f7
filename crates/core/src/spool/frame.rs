//! How spool files hold records: each is a frame `[magic][length][crc32][payload]`, so that a
//! reader can tell a whole record from a torn or garbled one, and find the next good record
//! after a bad one. Pure: bytes in, frames and damage out.

/// Marks the start of a frame; a reader that lost its place looks for the next one.
pub const MAGIC: [u8; 4] = *b"CWs1";
pub(super) const HEADER: usize = 12;
/// No record is this large; a length beyond it is damage, not a frame.
pub const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

/// Appends one frame holding `payload`.
pub fn push_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.reserve(HEADER + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What is wrong with a stretch of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Bytes that are no whole frame (garbled, or a frame whose checksum does not match),
    /// followed by a good frame or by garbage to the end.
    Checksum { bytes: usize },
    /// The file ends inside a frame: a write cut short by a crash.
    TornTail { bytes: usize },
}

impl Damage {
    pub fn bytes(self) -> usize {
        match self {
            Damage::Checksum { bytes } | Damage::TornTail { bytes } => bytes,
        }
    }
}

/// The good frames of a file, in order, and the damage between them.
#[derive(Debug, Default, PartialEq)]
pub struct Scan<'a> {
    pub frames: Vec<&'a [u8]>,
    pub damage: Vec<Damage>,
}

pub(super) enum Read<'a> {
    Frame(&'a [u8]),
    /// A header whose frame runs past the end of the file.
    Short,
    Bad,
}

pub(super) fn read_at(bytes: &[u8], at: usize) -> Read<'_> {
    let rest = &bytes[at..];
    let Some((&[m0, m1, m2, m3, l0, l1, l2, l3, c0, c1, c2, c3], _)) = rest.split_first_chunk::<HEADER>() else {
        return if MAGIC.starts_with(&rest[..rest.len().min(4)]) { Read::Short } else { Read::Bad };
    };
    if [m0, m1, m2, m3] != MAGIC {
        return Read::Bad;
    }
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    if len > MAX_PAYLOAD {
        return Read::Bad;
    }
    match rest.get(HEADER..HEADER + len) {
        None => Read::Short,
        Some(payload) if crc32fast::hash(payload) == crc => Read::Frame(payload),
        Some(_) => Read::Bad,
    }
}

/// Reads every good frame of `bytes`. After a bad stretch, reading goes on at the next place
/// where a good frame starts, so that damage never hides the good records after it.
pub fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut scan = Scan::default();
    let mut at = 0;
    while at < bytes.len() {
        match read_at(bytes, at) {
            Read::Frame(payload) => {
                scan.frames.push(payload);
                at += HEADER + payload.len();
            }
            bad => {
                let short = matches!(bad, Read::Short);
                match next_frame(bytes, at + 1) {
                    Some(next) => {
                        scan.damage.push(Damage::Checksum { bytes: next - at });
                        at = next;
                    }
                    None => {
                        let bytes = bytes.len() - at;
                        scan.damage.push(if short { Damage::TornTail { bytes } } else { Damage::Checksum { bytes } });
                        break;
                    }
                }
            }
        }
    }
    scan
}

/// The payload of a file that is exactly one whole frame (a batch file, the checkpoint);
/// `None` when it holds anything else or any damage.
pub fn single(bytes: &[u8]) -> Option<&[u8]> {
    let scan = scan(bytes);
    match (scan.frames.as_slice(), scan.damage.is_empty()) {
        ([payload], true) => Some(payload),
        _ => None,
    }
}

/// Where the next good frame starts at or after `from`.
pub(super) fn next_frame(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at + HEADER <= bytes.len() {
        let found = bytes[at..].windows(4).position(|w| w == MAGIC)? + at;
        if let Read::Frame(_) = read_at(bytes, found) {
            return Some(found);
        }
        at = found + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        payloads.iter().for_each(|p| push_frame(&mut out, p));
        out
    }

    #[test]
    fn whole_frames_read_back_in_order() {
        let bytes = file(&[b"one", b"", b"three"]);
        assert_eq!(scan(&bytes), Scan { frames: vec![b"one", b"", b"three"], damage: vec![] });
        assert_eq!(scan(&[]), Scan::default());
    }

    #[test]
    fn a_single_frame_file_is_one_whole_frame_and_nothing_else() {
        assert_eq!(single(&file(&[b"one"])), Some(&b"one"[..]));
        assert_eq!(single(&file(&[b"one", b"two"])), None);
        assert_eq!(single(&file(&[])), None);
        let bytes = file(&[b"one"]);
        assert_eq!(single(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn a_torn_last_write_is_a_torn_tail_and_the_frames_before_it_stay() {
        let bytes = file(&[b"one", b"two-two"]);
        for cut in 1..19 {
            let torn = &bytes[..bytes.len() - cut];
            let s = scan(torn);
            assert_eq!(s.frames, vec![b"one" as &[u8]], "cut {cut}");
            assert_eq!(s.damage, vec![Damage::TornTail { bytes: 19 - cut }], "cut {cut}");
        }
    }

    #[test]
    fn a_garbled_frame_is_skipped_and_the_good_ones_after_it_are_kept() {
        let mut bytes = file(&[b"first", b"second", b"third"]);
        bytes[17 + 14] ^= 0xff; // inside "second"'s payload
        let s = scan(&bytes);
        assert_eq!(s.frames, vec![b"first" as &[u8], b"third"]);
        assert_eq!(s.damage, vec![Damage::Checksum { bytes: 18 }]);
        // Garbage before, between and after frames, including fake magic.
        let mut bytes = b"junkCWs1\xff\xff\xff\x7fjunk".to_vec();
        bytes.extend(file(&[b"a"]));
        bytes.extend_from_slice(b"CWs1CWs1xx");
        bytes.extend(file(&[b"b"]));
        bytes.extend_from_slice(b"trailing garbage");
        let s = scan(&bytes);
        assert_eq!(s.frames, vec![b"a" as &[u8], b"b"]);
        assert_eq!(s.damage.len(), 3);
        assert_eq!(s.damage.iter().map(|d| d.bytes()).sum::<usize>(), bytes.len() - 2 * 13);
        assert!(matches!(s.damage[2], Damage::Checksum { bytes: 16 }));
    }

    #[test]
    fn random_damage_never_panics_and_never_invents_a_frame() {
        let mut rng = fastrand::Rng::with_seed(7);
        let payloads: Vec<Vec<u8>> = (0..20).map(|i| vec![i as u8; rng.usize(0..40)]).collect();
        let clean = file(&payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
        for _ in 0..2000 {
            let mut bytes = clean.clone();
            for _ in 0..rng.usize(1..4) {
                match rng.u8(0..3) {
                    0 => bytes.truncate(rng.usize(0..=bytes.len())),
                    1 if !bytes.is_empty() => {
                        let i = rng.usize(0..bytes.len());
                        bytes[i] = rng.u8(..);
                    }
                    _ => {
                        let i = rng.usize(0..=bytes.len());
                        bytes.insert(i, rng.u8(..));
                    }
                }
            }
            let s = scan(&bytes);
            let read: usize = s.frames.iter().map(|f| f.len() + HEADER).sum();
            assert_eq!(read + s.damage.iter().map(|d| d.bytes()).sum::<usize>(), bytes.len());
            assert!(s.frames.iter().all(|f| payloads.iter().any(|p| p == f)));
        }
    }
}
