//! The journal stage: with a disk spool, accepted records are logged before they are
//! aggregated, so that what a client was told is accepted survives a crash. The records are
//! encoded and their room taken at once (a full journal refuses them); the rest of the chain
//! (aggregation) runs on the journal's thread once they are durable, in the log's order, so
//! that every record logged before a seal is in its window when the seal is handled.
//!
//! The pipeline owns the [`Journal`] trait; the spool implements it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::pipeline::admission::chain::{Next, Stage};
use crate::pipeline::durable::Done;
use crate::pipeline::durable::signal;
use crate::pipeline::records::Records;
use crate::pipeline::{Counters, Refusal};
use crate::reasons::RefuseReason;

/// Records encoded for the journal, with the room they took in it.
pub struct JournalEntry {
    pub bytes: Vec<u8>,
    /// The end of the latest window its records went into (ms).
    pub max_end_ms: i64,
}

/// The journal has no room for an entry; nothing was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalFull {
    pub used: u64,
    pub max: u64,
}

/// What runs once an entry is durable (`true`) or could not be written (`false`).
pub type Then = Box<dyn FnOnce(bool) + Send>;

/// Where accepted records are logged before they are aggregated.
pub trait Journal: Send + Sync + 'static {
    /// Encodes `records` and takes room for them, all or nothing; nothing is written yet.
    fn prepare(&self, records: &Records) -> Result<JournalEntry, JournalFull>;

    /// Hands a prepared entry to the log; `then` runs on the log's thread, in the log's order,
    /// once the entry is durable (`true`) or could not be written (`false`).
    fn append(&self, entry: JournalEntry, then: Then);

    /// Resolves once everything handed to the log before is durable (and aggregated).
    fn barrier(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

pub struct Journaling {
    journal: Arc<dyn Journal>,
    counters: Arc<dyn Counters>,
    retry_after: Duration,
}

impl Journaling {
    pub fn new(journal: Arc<dyn Journal>, counters: Arc<dyn Counters>, retry_after: Duration) -> Journaling {
        Journaling { journal, counters, retry_after }
    }
}

impl Stage for Journaling {
    fn name(&self) -> &'static str {
        "journal"
    }

    fn admit(&self, records: &mut Records, next: Next<'_>) -> Result<Done, Refusal> {
        let entry = self.journal.prepare(records).map_err(|JournalFull { used, max }| Refusal::SpoolFull {
            used,
            max,
            retry_after: self.retry_after,
        })?;
        let (later, counters, mut records) = (next.later(), self.counters.clone(), records.take());
        let (tell, pending) = signal();
        self.journal.append(
            entry,
            Box::new(move |durable| {
                if durable {
                    // What the rest of the chain refuses now is lost to no one: the records
                    // are durable, and a replay aggregates them.
                    let _ = later.run(&mut records);
                } else {
                    // Their slots go back with them.
                    drop(records);
                    counters.refused(RefuseReason::SpoolError);
                }
                tell.tell(durable);
            }),
        );
        Ok(Done::Pending(pending))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::pipeline::Input;
    use crate::pipeline::admission::Chain;
    use crate::pipeline::buffer::Buffer;
    use crate::pipeline::durable::Pending;

    /// A journal in memory: entries wait until `flush` says whether they are durable.
    #[derive(Default)]
    struct Memory {
        room: u64,
        used: Mutex<u64>,
        waiting: Mutex<Vec<(JournalEntry, Then)>>,
    }

    impl Memory {
        fn flush(&self, durable: bool) {
            let waiting = std::mem::take(&mut *self.waiting.lock().unwrap());
            for (_, then) in waiting {
                then(durable);
            }
        }
    }

    impl Journal for Memory {
        fn prepare(&self, records: &Records) -> Result<JournalEntry, JournalFull> {
            let mut used = self.used.lock().unwrap();
            let n = records.len() as u64;
            if *used + n > self.room {
                return Err(JournalFull { used: *used, max: self.room });
            }
            *used += n;
            Ok(JournalEntry { bytes: vec![0; n as usize], max_end_ms: records.max_window_end() })
        }
        fn append(&self, entry: JournalEntry, then: Then) {
            self.waiting.lock().unwrap().push((entry, then));
        }
        fn barrier(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(std::future::ready(()))
        }
    }

    #[derive(Default)]
    struct Refusals(Mutex<Vec<RefuseReason>>);
    impl Counters for Refusals {
        fn received(&self, _: usize) {}
        fn rejected(&self, _: crate::reasons::RejectReason) {}
        fn accepted(&self, _: usize) {}
        fn refused(&self, reason: RefuseReason) {
            self.0.lock().unwrap().push(reason);
        }
    }

    /// Counts the records that reach it.
    struct Reached(Arc<Mutex<usize>>);
    impl Stage for Reached {
        fn name(&self) -> &'static str {
            "reached"
        }
        fn admit(&self, records: &mut Records, _: Next<'_>) -> Result<Done, Refusal> {
            *self.0.lock().unwrap() += records.len();
            Ok(Done::Now)
        }
    }

    fn records(n: usize, buffer: &Arc<Buffer>) -> Records {
        use crate::domain::units::{Resolution, Unit};
        let mut key = Vec::new();
        crate::pipeline::aggregate::encode_series_key(
            &mut key,
            "A",
            "M",
            std::iter::empty(),
            Unit::None,
            Resolution::Standard,
        );
        let valid = (0..n).map(|_| (0..key.len(), 0, crate::domain::payload::Payload::single(1.0).unwrap())).collect();
        let mut r = Records::new(Input::HTTP, key, valid, Vec::new(), 1);
        r.reservation = Some(buffer.try_reserve(n).unwrap());
        r
    }

    fn outcome(p: &mut Pending) -> Option<bool> {
        use std::task::{Context, Poll, Waker};
        match Pin::new(p).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(d) => Some(d),
            Poll::Pending => None,
        }
    }

    #[test]
    fn the_rest_of_the_chain_runs_once_durable_and_a_failure_gives_the_slots_back() {
        let journal = Arc::new(Memory { room: 10, ..Memory::default() });
        let counters = Arc::new(Refusals::default());
        let reached = Arc::new(Mutex::new(0));
        let stages: Vec<Box<dyn Stage>> = vec![
            Box::new(Journaling::new(journal.clone(), counters.clone(), Duration::from_secs(2))),
            Box::new(Reached(reached.clone())),
        ];
        let chain = Arc::new(Chain::of(stages));
        let buffer = Arc::new(Buffer::new(100));

        let Ok(Done::Pending(mut first)) = chain.run(&mut records(3, &buffer)) else { panic!("pending") };
        assert_eq!((*reached.lock().unwrap(), outcome(&mut first)), (0, None), "nothing before it is durable");
        journal.flush(true);
        assert_eq!((*reached.lock().unwrap(), outcome(&mut first)), (3, Some(true)));

        let Ok(Done::Pending(mut second)) = chain.run(&mut records(4, &buffer)) else { panic!("pending") };
        journal.flush(false);
        assert_eq!((*reached.lock().unwrap(), outcome(&mut second)), (3, Some(false)));
        assert_eq!(*counters.0.lock().unwrap(), vec![RefuseReason::SpoolError]);
        assert_eq!(buffer.used(), 0);

        let full = chain.run(&mut records(4, &buffer)).err();
        assert_eq!(full, Some(Refusal::SpoolFull { used: 7, max: 10, retry_after: Duration::from_secs(2) }));
        assert_eq!(buffer.used(), 0, "a refusal gives the slots back");
    }
}
