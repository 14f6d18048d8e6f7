//! What one request amounts to: the candidates, the samples each carries, and every sample's
//! outcome; filled by [`super::convert`] and [`super::histograms`].

use crate::pipeline::Rejection;
use crate::pipeline::candidate::Candidate;
use crate::reasons::{RemoteWriteIgnored as Ignored, RemoteWriteOutcome as Outcome, RemoteWriteReject as Reject};

/// How many problems a request keeps, for its answer and the log.
pub const PROBLEMS: usize = 5;

/// What one request amounts to.
#[derive(Debug, Default)]
pub struct Converted<'a> {
    pub candidates: Vec<Candidate<'a>>,
    /// The samples each candidate carries (a histogram's on its first candidate).
    pub samples_of: Vec<usize>,
    /// Samples by outcome (`held` samples are counted again with their final outcome, in the
    /// request that completes or gives up their histogram).
    pub outcomes: Vec<(Outcome, usize)>,
    pub ignored: Vec<(Ignored, usize)>,
    pub rejected: Vec<(Reject, usize)>,
    /// The first few rejections, readable.
    pub problems: Vec<String>,
}

fn add<T: PartialEq>(tally: &mut Vec<(T, usize)>, what: T, n: usize) {
    if n == 0 {
        return;
    }
    match tally.iter_mut().find(|(t, _)| *t == what) {
        Some((_, m)) => *m += n,
        None => tally.push((what, n)),
    }
}

impl<'a> Converted<'a> {
    pub(super) fn count(&mut self, outcome: Outcome, n: usize) {
        add(&mut self.outcomes, outcome, n);
    }

    pub(super) fn ignore(&mut self, reason: Ignored, n: usize) {
        add(&mut self.ignored, reason, n);
        self.count(Outcome::Ignored, n);
    }

    pub(super) fn reject(&mut self, reason: Reject, n: usize, problem: Option<String>) {
        add(&mut self.rejected, reason, n);
        self.count(Outcome::Rejected, n);
        if let Some(p) = problem.filter(|_| n > 0 && self.problems.len() < PROBLEMS) {
            self.problems.push(p);
        }
    }

    pub(super) fn push(&mut self, candidate: Candidate<'a>, samples: usize) {
        self.candidates.push(candidate);
        self.samples_of.push(samples);
    }

    /// Samples with this outcome.
    pub fn outcome(&self, outcome: Outcome) -> usize {
        self.outcomes.iter().find(|(o, _)| *o == outcome).map_or(0, |(_, n)| *n)
    }

    /// Counts the samples of the candidates the pipeline rejected (by their index in
    /// [`Converted::candidates`]) as rejected, not published.
    pub fn rejected_by_pipeline(&mut self, rejections: &[Rejection]) {
        for r in rejections {
            let n = self.samples_of.get(r.index).copied().unwrap_or(0);
            if let Some((_, published)) = self.outcomes.iter_mut().find(|(o, _)| *o == Outcome::Published) {
                *published -= n.min(*published);
            }
            let problem = format!("{}: {}", r.name.as_deref().unwrap_or("a datum"), r.error);
            self.reject(Reject::of(r.reason), n, Some(problem));
        }
    }

    /// Whether nothing of the request was taken (published, a baseline, held) and some of it
    /// was rejected: what the sender should hear as a bad request.
    pub fn refused(&self) -> bool {
        let taken = [Outcome::Published, Outcome::Baseline, Outcome::Held].into_iter().map(|o| self.outcome(o));
        taken.sum::<usize>() == 0 && self.outcome(Outcome::Rejected) > 0
    }
}
