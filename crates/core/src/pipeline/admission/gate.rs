//! The first stage, readiness and backpressure: records are refused while the sidecar shuts
//! down, and the buffer slots they can take are reserved, all or nothing, or they are refused
//! because the buffer is full (or because even an empty one could not hold them). The
//! sidecar's own records ([`Admission::Internal`]) pass in both cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::pipeline::admission::chain::{Next, Stage};
use crate::pipeline::buffer::{Buffer, Full};
use crate::pipeline::durable::Done;
use crate::pipeline::memory::MemoryGuard;
use crate::pipeline::records::Records;
use crate::pipeline::{Admission, Refusal};

/// Lets shutdown stop ingest, then wait until no submission is inside.
#[derive(Default)]
pub struct IngestGate {
    closed: AtomicBool,
    active: AtomicUsize,
}

/// Held while a submission adds records; shutdown waits for it to drop.
pub struct Entered<'g>(&'g IngestGate);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl IngestGate {
    /// Enters the gate: `None` when it is closed (the submission is counted inside all the
    /// same until the guard drops, so that [`IngestGate::busy`] covers it).
    pub fn enter(&self) -> (Entered<'_>, bool) {
        self.active.fetch_add(1, Ordering::AcqRel);
        (Entered(self), !self.closed.load(Ordering::Acquire))
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the gate; submissions inside finish (see [`IngestGate::busy`]).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Whether a submission is inside.
    pub fn busy(&self) -> bool {
        self.active.load(Ordering::Acquire) > 0
    }
}

pub struct Gate {
    gate: Arc<IngestGate>,
    buffer: Arc<Buffer>,
    retry_after: Duration,
    memory: Option<Arc<MemoryGuard>>,
}

impl Gate {
    pub fn new(gate: Arc<IngestGate>, buffer: Arc<Buffer>, retry_after: Duration) -> Gate {
        Gate { gate, buffer, retry_after, memory: None }
    }

    /// Refuses ingest while `memory` is above its high mark.
    pub fn with_memory(self, memory: Option<Arc<MemoryGuard>>) -> Gate {
        Gate { memory, ..self }
    }
}

impl Stage for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }

    fn admit(&self, records: &mut Records, next: Next<'_>) -> Result<Done, Refusal> {
        // Inside until the rest of the chain returned: shutdown waits for what it adds now.
        let (_entered, open) = self.gate.enter();
        let buffer = &self.buffer;
        // A slot is a datum the buffer may come to hold: each record is bounded by what it
        // can add to any window (its plan's bound; one slot for a plain value). Only when
        // that does not fit is it worth joining the records of each series-window, whose
        // bound is what the request can really occupy.
        let estimate = records.slots_estimate();
        let refusing = self.memory.as_ref().filter(|m| m.refusing());
        let reservation = match (records.input.admission, refusing) {
            (Admission::Internal, _) => buffer.reserve_past_bound(estimate),
            (Admission::Bounded, _) if !open => return Err(Refusal::ShuttingDown),
            (Admission::Bounded, Some(m)) => return Err(Refusal::MemoryHigh { rss: m.rss(), high: m.high_mark() }),
            (Admission::Bounded, None) => match buffer.try_reserve(estimate) {
                Ok(r) => r,
                Err(_) => {
                    let (slots, windows) = records.slots_joined();
                    if slots > buffer.max() {
                        return Err(Refusal::NeverFits { windows, max: buffer.max() });
                    }
                    let r = buffer.try_reserve(slots).map_err(|Full { used, max }| Refusal::BufferFull {
                        used,
                        max,
                        retry_after: self.retry_after,
                    })?;
                    records.join = true;
                    r
                }
            },
        };
        records.reservation = Some(reservation);
        next.run(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payload::Payload;
    use crate::domain::units::{Resolution, Unit};
    use crate::pipeline::admission::Chain;
    use crate::pipeline::{Input, aggregate};

    /// `n` records of one series and window, each a plain value.
    fn records(n: usize, input: Input) -> Records {
        let mut keys = Vec::new();
        aggregate::encode_series_key(&mut keys, "App", "M", std::iter::empty(), Unit::None, Resolution::Standard);
        let valid = (0..n).map(|i| (0..keys.len(), 60_000, Payload::single(i as f64).unwrap())).collect();
        Records::new(input, keys, valid, Vec::new(), n as u32)
    }

    /// Keeps what it is handed, to look at.
    struct Holds(std::sync::Mutex<Vec<(usize, bool)>>);

    impl Stage for Arc<Holds> {
        fn name(&self) -> &'static str {
            "holds"
        }
        fn admit(&self, records: &mut Records, _: Next<'_>) -> Result<Done, Refusal> {
            let held = records.reservation.as_ref().map_or(0, |r| r.held());
            self.0.lock().unwrap().push((held, records.join));
            Ok(Done::Now)
        }
    }

    fn chain(buffer: &Arc<Buffer>, gate: &Arc<IngestGate>) -> (Arc<Chain>, Arc<Holds>) {
        let holds = Arc::new(Holds(Default::default()));
        let stages: Vec<Box<dyn Stage>> =
            vec![Box::new(Gate::new(gate.clone(), buffer.clone(), Duration::from_secs(3))), Box::new(holds.clone())];
        (Arc::new(Chain::of(stages)), holds)
    }

    #[test]
    fn records_are_reserved_one_slot_each_or_joined_when_that_does_not_fit() {
        let (buffer, gate) = (Arc::new(Buffer::new(10)), Arc::new(IngestGate::default()));
        let (chain, holds) = chain(&buffer, &gate);
        assert!(chain.run(&mut records(4, Input::HTTP)).is_ok());
        // 20 records of one series-window do not fit one slot each, but do joined.
        assert!(chain.run(&mut records(20, Input::HTTP)).is_ok());
        assert_eq!(*holds.0.lock().unwrap(), vec![(4, false), (1, true)]);
        assert_eq!(buffer.used(), 0, "what the next stage did not keep went back");
    }

    #[test]
    fn a_full_buffer_and_a_closed_gate_refuse_all_but_the_sidecars_own() {
        let (buffer, gate) = (Arc::new(Buffer::new(10)), Arc::new(IngestGate::default()));
        let (chain, holds) = chain(&buffer, &gate);
        let mut taken = buffer.try_reserve(10).unwrap();
        let full = chain.run(&mut records(1, Input::HTTP)).err();
        assert_eq!(full, Some(Refusal::BufferFull { used: 10, max: 10, retry_after: Duration::from_secs(3) }));
        assert!(chain.run(&mut records(2, Input::SELF_METRICS)).is_ok(), "past the bound");
        taken.keep(0);
        drop(taken);
        gate.close();
        assert_eq!(chain.run(&mut records(1, Input::HTTP)).err(), Some(Refusal::ShuttingDown));
        assert!(chain.run(&mut records(1, Input::SELF_METRICS)).is_ok());
        assert_eq!(holds.0.lock().unwrap().len(), 2);
        assert!(!gate.busy());
    }

    #[test]
    fn more_series_windows_than_an_empty_buffer_holds_never_fit() {
        let (buffer, gate) = (Arc::new(Buffer::new(3)), Arc::new(IngestGate::default()));
        let (chain, _) = chain(&buffer, &gate);
        let mut r = records(0, Input::HTTP);
        for i in 0..4 {
            let start = r.keys.len();
            let name = format!("M{i}");
            aggregate::encode_series_key(
                &mut r.keys,
                "App",
                &name,
                std::iter::empty(),
                Unit::None,
                Resolution::Standard,
            );
            r.valid.push((start..r.keys.len(), 60_000, Payload::single(1.0).unwrap()));
        }
        r.forget_groups();
        assert_eq!(chain.run(&mut r).err(), Some(Refusal::NeverFits { windows: 4, max: 3 }));
    }
}
