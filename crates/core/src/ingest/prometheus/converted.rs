//! What one scrape amounts to: the candidates to submit and what was refused, capped or
//! worth a warning; filled by [`super::convert`] and [`super::series`].

use crate::pipeline::candidate::Candidate;
use crate::reasons::ScrapeRefusal;

/// How many examples of what was refused one scrape keeps, for its summary line.
pub const EXAMPLES: usize = 5;

/// A family that crossed `family_series_warning`, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyWarning {
    pub family: String,
    pub series: usize,
    /// Its label with the most distinct values, and how many.
    pub widest_label: Option<(String, usize)>,
}

/// What one scrape amounts to.
#[derive(Debug, Default)]
pub struct Converted<'a> {
    pub candidates: Vec<Candidate<'a>>,
    /// Series published (admitted under the cap and seen in this scrape).
    pub published: usize,
    /// Series the cap refused in this scrape.
    pub capped: usize,
    /// Series refused, by reason (each capped series counts once per scrape).
    pub refused: Vec<(ScrapeRefusal, usize)>,
    /// Capped series not logged before, and the first few of them (readable).
    pub newly_capped: usize,
    pub capped_examples: Vec<String>,
    /// The first few series refused for another reason than the cap, and why (readable).
    pub problems: Vec<String>,
    pub warnings: Vec<FamilyWarning>,
}

impl Converted<'_> {
    pub(super) fn refuse(&mut self, reason: ScrapeRefusal, problem: Option<String>) {
        match self.refused.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.refused.push((reason, 1)),
        }
        if let Some(p) = problem.filter(|_| self.problems.len() < EXAMPLES) {
            self.problems.push(p);
        }
    }

    #[cfg(test)]
    pub fn refused(&self, reason: ScrapeRefusal) -> usize {
        self.refused.iter().find(|(r, _)| *r == reason).map_or(0, |(_, n)| *n)
    }
}
