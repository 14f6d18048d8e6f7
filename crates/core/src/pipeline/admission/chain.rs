//! The chain: stages with one signature, each handing the records on to the rest of the chain
//! ([`Next`]), now or later (then owned: [`Later`]).

use std::sync::Arc;

use crate::pipeline::Refusal;
use crate::pipeline::durable::Done;
use crate::pipeline::records::Records;

/// One step of admission.
pub trait Stage: Send + Sync + 'static {
    /// Its name, for logs and tests.
    fn name(&self) -> &'static str;

    /// Refuses `records`, or hands them to `next` (the rest of the chain), now or later (then
    /// taking them out with [`Records::take`]). A stage may rewrite them, or turn single
    /// records away into [`Records::rejected`].
    fn admit(&self, records: &mut Records, next: Next<'_>) -> Result<Done, Refusal>;
}

/// The stages, in order.
pub struct Chain {
    stages: Vec<Box<dyn Stage>>,
}

/// The rest of a chain, from one stage on.
#[derive(Clone, Copy)]
pub struct Next<'c> {
    chain: &'c Arc<Chain>,
    at: usize,
}

/// The rest of a chain, owned: for a stage that finishes on another thread.
pub struct Later {
    chain: Arc<Chain>,
    at: usize,
}

impl Next<'_> {
    /// Runs the rest of the chain on `records`; the chain's end takes them as they are.
    pub fn run(self, records: &mut Records) -> Result<Done, Refusal> {
        match self.chain.stages.get(self.at) {
            Some(stage) => stage.admit(records, Next { chain: self.chain, at: self.at + 1 }),
            None => Ok(Done::Now),
        }
    }

    pub fn later(self) -> Later {
        Later { chain: self.chain.clone(), at: self.at }
    }
}

impl Later {
    pub fn run(self, records: &mut Records) -> Result<Done, Refusal> {
        Next { chain: &self.chain, at: self.at }.run(records)
    }
}

impl Chain {
    /// A chain of the given stages, in order.
    pub fn of(stages: Vec<Box<dyn Stage>>) -> Chain {
        Chain { stages }
    }

    /// Sends records through every stage.
    pub fn run(self: &Arc<Self>, records: &mut Records) -> Result<Done, Refusal> {
        Next { chain: self, at: 0 }.run(records)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name()).collect()
    }
}
