//! The frames of a file too large to hold at once, a window at a time: the spool's replay
//! reads a log segment in pieces of its memory share. A window is scanned like a whole file
//! ([`frame::scan`]), except that a frame it holds only the start of is left for the next
//! window, with every byte after it. The frames found are the ones `scan` finds in the whole
//! file, and they and the damage cover every byte; only the damage may be told in more
//! pieces, and a torn frame that began in an earlier window is told as garbled
//! ([`Damage::Checksum`](frame::Damage::Checksum)) rather than torn.

use super::frame::{self, Damage, HEADER, MAGIC, MAX_PAYLOAD, Read, Scan, next_frame, read_at};

/// Scans `bytes`, a window of a file of which `more` bytes follow; returns what it found and
/// how many of its bytes that covers. The caller keeps the rest and scans it again with the
/// bytes that follow appended. With `more == 0` this is [`frame::scan`].
pub fn scan_window(bytes: &[u8], more: u64) -> (Scan<'_>, usize) {
    if more == 0 {
        return (frame::scan(bytes), bytes.len());
    }
    let mut scan = Scan::default();
    let mut at = 0;
    while at < bytes.len() {
        if let Read::Frame(payload) = read_at(bytes, at) {
            scan.frames.push(payload);
            at += HEADER + payload.len();
            continue;
        }
        if completes_later(bytes, at, more) {
            break;
        }
        // A bad stretch: it ends at the next whole frame, or where one may start that the
        // window does not hold whole, whichever comes first.
        let next = next_frame(bytes, at + 1).unwrap_or(bytes.len());
        let end = (at + 1..next).find(|&p| completes_later(bytes, p, more)).unwrap_or(next);
        scan.damage.push(Damage::Checksum { bytes: end - at });
        at = end;
    }
    (scan, at)
}

/// Whether a frame may start at `at` that ends within the `more` bytes after the window.
fn completes_later(bytes: &[u8], at: usize, more: u64) -> bool {
    let rest = &bytes[at..];
    let Some((header, _)) = rest.split_first_chunk::<HEADER>() else {
        return MAGIC.starts_with(&rest[..rest.len().min(MAGIC.len())]);
    };
    if header[..4] != MAGIC {
        return false;
    }
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    len <= MAX_PAYLOAD && HEADER + len > rest.len() && ((HEADER + len - rest.len()) as u64) <= more
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::frame::push_frame;

    /// Reads `file` `window` bytes at a time as the replay does: the frames and the bytes
    /// the damage covers; the most held at once.
    fn windowed(file: &[u8], window: usize) -> (Vec<Vec<u8>>, usize, usize) {
        let (mut frames, mut damaged, mut held_max) = (Vec::new(), 0, 0);
        let (mut held, mut read) = (Vec::new(), 0);
        loop {
            let take = window.min(file.len() - read);
            held.extend_from_slice(&file[read..read + take]);
            read += take;
            held_max = held_max.max(held.len());
            let more = (file.len() - read) as u64;
            let (scan, covered) = scan_window(&held, more);
            frames.extend(scan.frames.iter().map(|f| f.to_vec()));
            damaged += scan.damage.iter().map(|d| d.bytes()).sum::<usize>();
            held.drain(..covered);
            if more == 0 {
                assert!(held.is_empty());
                return (frames, damaged, held_max);
            }
        }
    }

    fn file(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        payloads.iter().for_each(|p| push_frame(&mut out, p));
        out
    }

    #[test]
    fn windows_read_the_frames_a_whole_scan_reads_holding_a_window_and_a_frame() {
        let payloads: Vec<Vec<u8>> = (0..200).map(|i| vec![i as u8; 10 + i % 50]).collect();
        let bytes = file(&payloads);
        for window in [1, 7, 12, 13, 64, 100, 1000, bytes.len()] {
            let (frames, damaged, held) = windowed(&bytes, window);
            assert_eq!(frames, payloads, "window {window}");
            assert_eq!(damaged, 0);
            // At most a window and the largest frame.
            assert!(held <= window + HEADER + 59, "window {window}: held {held}");
        }
    }

    #[test]
    fn damage_read_in_windows_loses_no_frame_a_whole_scan_keeps() {
        let mut rng = fastrand::Rng::with_seed(11);
        let payloads: Vec<Vec<u8>> = (0..30).map(|i| vec![i as u8; rng.usize(0..60)]).collect();
        let clean = file(&payloads);
        for round in 0..3000 {
            let mut bytes = clean.clone();
            for _ in 0..rng.usize(1..5) {
                match rng.u8(0..4) {
                    0 => bytes.truncate(rng.usize(0..=bytes.len())),
                    1 if !bytes.is_empty() => {
                        let i = rng.usize(0..bytes.len());
                        bytes[i] = rng.u8(..);
                    }
                    2 => {
                        let i = rng.usize(0..=bytes.len());
                        bytes.splice(i..i, MAGIC);
                    }
                    _ => {
                        let i = rng.usize(0..=bytes.len());
                        bytes.insert(i, rng.u8(..));
                    }
                }
            }
            let whole = frame::scan(&bytes);
            let window = rng.usize(1..200);
            let (frames, damaged, _) = windowed(&bytes, window);
            let expected: Vec<Vec<u8>> = whole.frames.iter().map(|f| f.to_vec()).collect();
            assert_eq!(frames, expected, "round {round}, window {window}");
            let read: usize = frames.iter().map(|f| f.len() + HEADER).sum();
            assert_eq!(read + damaged, bytes.len(), "round {round}, window {window}");
        }
    }
}
