//! What one scrape refused, in one log line per target and scrape: the counts by reason, the
//! series newly refused by the cap, and the first few examples. A target over its cap by
//! 10,000 series logs one line, not 10,000; a warning when the counts changed since the
//! target's previous scrape, a debug line when they are the same again.

use cw_core::ingest::prometheus::convert::Converted;
use cw_core::ingest::prometheus::rules::Rules;
use cw_core::reasons::ScrapeRefusal;

/// Logs the summary of `converted`'s refusals; `last` is what the previous scrape refused.
pub(super) fn refused(url: &str, rules: &Rules, converted: &Converted<'_>, last: &mut Vec<(ScrapeRefusal, usize)>) {
    let mut now = converted.refused.clone();
    now.sort_by_key(|(r, _)| r.label());
    let changed = now != *last;
    *last = now;
    if last.is_empty() {
        return;
    }
    let counts = last.iter().map(|(r, n)| format!("{}={n}", r.label())).collect::<Vec<_>>().join(",");
    let mut examples: Vec<&str> = converted.problems.iter().map(String::as_str).collect();
    examples.extend(converted.capped_examples.iter().map(String::as_str));
    let examples = examples.join("; ");
    let (newly_capped, max_series_per_target) = (converted.newly_capped, rules.max_series);
    if changed || newly_capped > 0 {
        tracing::warn!(
            target = url,
            refused = %counts,
            newly_capped,
            max_series_per_target,
            examples = %examples,
            "series not published"
        );
    } else {
        tracing::debug!(target = url, refused = %counts, examples = %examples, "series not published");
    }
}
