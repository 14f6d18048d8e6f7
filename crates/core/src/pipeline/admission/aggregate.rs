//! The last stage: records go into their series' windows, which keep the buffer slots they
//! grew by, and a counted input's records count as accepted.

use std::sync::Arc;

use crate::pipeline::admission::chain::{Next, Stage};
use crate::pipeline::aggregate::Aggregator;
use crate::pipeline::durable::Done;
use crate::pipeline::records::Records;
use crate::pipeline::{Counters, Refusal};

pub struct Aggregate {
    aggregator: Arc<Aggregator>,
    counters: Arc<dyn Counters>,
}

impl Aggregate {
    pub fn new(aggregator: Arc<Aggregator>, counters: Arc<dyn Counters>) -> Aggregate {
        Aggregate { aggregator, counters }
    }
}

impl Stage for Aggregate {
    fn name(&self) -> &'static str {
        "aggregate"
    }

    /// The chain's end: nothing comes after it.
    fn admit(&self, records: &mut Records, _: Next<'_>) -> Result<Done, Refusal> {
        let (counted, n) = (records.input.counted, records.originals);
        records.aggregate(&self.aggregator);
        if counted {
            self.counters.accepted(n);
        }
        Ok(Done::Now)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::domain::payload::Payload;
    use crate::domain::units::{Resolution, Unit};
    use crate::pipeline::Input;
    use crate::pipeline::admission::Chain;
    use crate::pipeline::aggregate::encode_series_key;
    use crate::pipeline::buffer::Buffer;
    use crate::reasons::{RefuseReason, RejectReason};

    #[derive(Default)]
    struct Accepted(Mutex<usize>);
    impl Counters for Accepted {
        fn received(&self, _: usize) {}
        fn rejected(&self, _: RejectReason) {}
        fn accepted(&self, n: usize) {
            *self.0.lock().unwrap() += n;
        }
        fn refused(&self, _: RefuseReason) {}
    }

    #[test]
    fn records_land_in_their_windows_which_keep_the_slots_they_grew_by() {
        let aggregator = Arc::new(Aggregator::default());
        let counters = Arc::new(Accepted::default());
        let chain = Arc::new(Chain::of(vec![Box::new(Aggregate::new(aggregator.clone(), counters.clone()))]));
        let buffer = Arc::new(Buffer::new(100));
        let mut keys = Vec::new();
        for name in ["A", "B"] {
            encode_series_key(&mut keys, "App", name, std::iter::empty(), Unit::None, Resolution::Standard);
        }
        let half = keys.len() / 2;
        let valid = vec![
            (0..half, 60_000, Payload::single(1.0).unwrap()),
            (half..keys.len(), 60_000, Payload::single(2.0).unwrap()),
            (0..half, 60_000, Payload::single(3.0).unwrap()),
        ];
        let mut records = Records::new(Input::HTTP, keys, valid, vec![0, 1, 0], 2);
        records.reservation = Some(buffer.try_reserve(3).unwrap());
        assert!(matches!(chain.run(&mut records), Ok(Done::Now)));
        assert_eq!(aggregator.active_series(), 2);
        assert_eq!(buffer.used(), 2, "two windows of one datum each; the third slot went back");
        assert_eq!(*counters.0.lock().unwrap(), 3);
    }
}
