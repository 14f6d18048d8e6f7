//! A finished submission's answer, and with a journal, word of when its records are durable:
//! a one-shot signal from the journal's thread to whoever answers the client.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::pipeline::answer::{Accepted, Refusal};

#[derive(Default)]
struct State {
    /// Durable (`true`) or failed (`false`), once known.
    outcome: Option<bool>,
    waker: Option<Waker>,
}

/// Tells the [`Pending`] side whether the records are durable; dropped untold, it says they
/// are not.
pub struct Durability(Option<Arc<Mutex<State>>>);

/// Resolves to whether the records are durable.
pub struct Pending(Arc<Mutex<State>>);

/// A linked pair.
pub fn signal() -> (Durability, Pending) {
    let state = Arc::new(Mutex::new(State::default()));
    (Durability(Some(state.clone())), Pending(state))
}

impl Durability {
    pub fn tell(mut self, durable: bool) {
        self.send(durable);
    }

    fn send(&mut self, durable: bool) {
        if let Some(state) = self.0.take() {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            state.outcome = Some(durable);
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        }
    }
}

impl Drop for Durability {
    fn drop(&mut self) {
        self.send(false);
    }
}

impl Future for Pending {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match state.outcome {
            Some(durable) => Poll::Ready(durable),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// What became of records a stage handed on.
pub enum Done {
    /// In their windows.
    Now,
    /// In the journal's hands: in their windows once durable, which this tells.
    Pending(Pending),
}

/// A finished submission: the pipeline's answer, and with a journal, word of when its
/// records are durable.
#[must_use]
pub struct Finished {
    answer: Result<Accepted, Refusal>,
    durable: Option<Pending>,
}

impl Finished {
    pub fn now_with(answer: Result<Accepted, Refusal>) -> Finished {
        Finished { answer, durable: None }
    }

    /// The answer to records the chain took, now or once the journal has them.
    pub fn done(accepted: Accepted, done: Done) -> Finished {
        match done {
            Done::Now => Finished::now_with(Ok(accepted)),
            Done::Pending(pending) => Finished { answer: Ok(accepted), durable: Some(pending) },
        }
    }

    /// The answer, without waiting for the journal.
    pub fn now(self) -> Result<Accepted, Refusal> {
        self.answer
    }

    /// The answer once the records are durable: what the client may be told.
    pub async fn durable(self) -> Result<Accepted, Refusal> {
        let accepted = self.answer?;
        match self.durable {
            None => Ok(accepted),
            Some(pending) => match pending.await {
                true => Ok(accepted),
                false => Err(Refusal::SpoolFailed),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll_once(p: &mut Pending) -> Poll<bool> {
        let waker = Waker::noop();
        Pin::new(p).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn the_signal_says_what_it_was_told_and_a_dropped_one_says_not_durable() {
        let (tx, mut rx) = signal();
        assert_eq!(poll_once(&mut rx), Poll::Pending);
        tx.tell(true);
        assert_eq!(poll_once(&mut rx), Poll::Ready(true));
        let (tx, mut rx) = signal();
        drop(tx);
        assert_eq!(poll_once(&mut rx), Poll::Ready(false));
    }
}
