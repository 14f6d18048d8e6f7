use super::*;
use cw_core::ingest::statsd::{Kind, parse_bytes_into};

fn metric(line: &str) -> Metric<'_> {
    let mut m = Metric::empty();
    parse_bytes_into(line.as_bytes(), &mut m).unwrap();
    assert_eq!(m.kind, Kind::Set);
    m
}

#[test]
fn set_windows_are_bounded_in_bytes_and_give_them_back_when_taken() {
    let long = "v".repeat(1_000);
    let mut sets = Sets::new(64 * 1024);
    let mut added = 0;
    let refused = loop {
        let line = format!("users:u{added}|s|#session:{added}{long}");
        match sets.add("users", None, &metric(&line), 0) {
            Ok(()) => added += 1,
            Err(e) => break e,
        }
        assert!(added < 1_000, "64 KiB held {added} windows of 1 KB tags");
    };
    // Each window is charged its tags: about 60 of them fit, not a million.
    assert!((50..64).contains(&added), "{added}");
    assert!(sets.bytes <= 64 * 1024, "{}", sets.bytes);
    assert_eq!(refused.reason, LineReject::StateFull);
    assert!(refused.message.contains("65536 bytes"), "{}", refused.message);
    // A member of a window already open costs its key, not its text.
    let before = sets.bytes;
    let first = format!("users:{}|s|#session:0{long}", "m".repeat(10_000));
    sets.add("users", None, &metric(&first), 0).unwrap();
    assert_eq!(sets.bytes - before, MEMBER_BYTES);
    // Ended windows give their bytes back, and put back takes them again.
    let ended = sets.take_ended(SET_WINDOW_MS, false);
    assert_eq!((ended.len(), sets.bytes, sets.members), (added, 0, 0));
    sets.put_back(ended);
    assert_eq!((sets.bytes, sets.members), (before + MEMBER_BYTES, added + 1));
}

#[test]
fn set_members_are_told_apart_by_their_text() {
    let mut sets = Sets::default();
    for line in ["u:a|s", "u:b|s", "u:a|s", "u:ab|s", "u:a:b|s", "u:b|s"] {
        sets.add("u", None, &metric(line), 0).unwrap();
    }
    let ended = sets.take_ended(0, true);
    assert_eq!(ended.iter().map(|(_, s)| s.members.len()).collect::<Vec<_>>(), vec![4], "a, b, ab, a:b");
}
