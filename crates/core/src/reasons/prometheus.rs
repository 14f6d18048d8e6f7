//! The reasons and outcomes of the Prometheus inputs: scrape and remote-write.

labels! {
    /// How one scrape of a Prometheus target ended.
    ScrapeOutcome {
        /// Parsed and submitted.
        Success => "success",
        /// No connection, or it broke before the answer was complete.
        Down => "down",
        /// No complete answer within the target's timeout.
        Timeout => "timeout",
        /// An HTTP status other than 200.
        HttpStatus => "http_status",
        /// The body, or its decompression, over `max_response_bytes`.
        TooLarge => "too_large",
        /// Not an exposition: bad gzip, not UTF-8, no valid sample, OpenMetrics without
        /// `# EOF`, or text after it.
        Malformed => "malformed",
        /// More samples than `max_samples_per_scrape` (Prometheus' `sample_limit`): the whole
        /// scrape fails, and parsing stops there.
        TooManySamples => "too_many_samples",
        /// The target's `password_file` or `bearer_token_file` could not be read.
        Credentials => "credentials",
        /// The pipeline refused the scrape as a whole (buffer full, shutting down).
        Refused => "refused",
    }
}

labels! {
    /// What became of one remote-write sample.
    RemoteWriteOutcome {
        Received => "received",
        /// Part of a datum handed to aggregation.
        Published => "published",
        /// The first sample of a cumulative series (or of a histogram's new bucket layout): it
        /// sets the baseline the next one's increase is taken from.
        Baseline => "baseline",
        /// A histogram's part held until the rest of its histogram (same series, same
        /// timestamp) arrives, in this request or a later one.
        Held => "held",
        /// Not published, and not an error: see `remote_write_samples_ignored_total`.
        Ignored => "ignored",
        /// See `remote_write_samples_rejected_total`.
        Rejected => "rejected",
        /// The pipeline refused the whole request (503 or 413): nothing of it was kept.
        Refused => "refused",
    }
}

labels! {
    /// Why a remote-write sample was not published, without being an error.
    RemoteWriteIgnored {
        /// At or before the last timestamp seen for its series: a sender's retry (or a
        /// sample out of order).
        OldTimestamp => "old_timestamp",
        /// Prometheus' stale marker: the series ended (its cumulative state is forgotten).
        StaleMarker => "stale_marker",
        /// Its name matches no `remote_write.include` pattern, or an exclude pattern.
        Excluded => "excluded",
        /// A summary's quantile (a series with a `quantile` label): quantiles cannot be
        /// re-aggregated.
        Quantile => "quantile",
    }
}

labels! {
    /// Why a remote-write sample was rejected.
    RemoteWriteReject {
        /// A series without `__name__`.
        NoName => "no_name",
        /// A label given twice, a `_bucket` whose `le` is no number, a histogram whose buckets
        /// are not cumulative.
        Malformed => "malformed",
        /// A gauge that is NaN or infinite, a cumulative sample that is negative or not finite.
        Value => "value",
        /// More than 30 labels would become dimensions: refused, never truncated.
        TooManyDimensions => "too_many_dimensions",
        /// A new series while the state holds `remote_write.max_series` series or
        /// `remote_write.max_state_bytes` bytes.
        StateFull => "state_full",
        /// Parts of a histogram that never made a whole one: a later timestamp of the same
        /// histogram arrived first, or the parts held were too many.
        IncompleteHistogram => "incomplete_histogram",
        /// The pipeline's validation refused the datum (its rule is in `records_rejected_total`).
        Invalid => "invalid",
        /// A new series over the `[cardinality]` budget, with `overflow = "refuse"`.
        SeriesBudget => "series_budget",
    }
}

labels! {
    /// Why a scraped series (or line) was not published.
    ScrapeRefusal {
        /// The target's `max_series_per_target` series are published already.
        Capped => "capped",
        /// More than 30 labels would become dimensions: refused, never truncated.
        TooManyDimensions => "too_many_dimensions",
        /// A gauge that is NaN or infinite, a counter that is negative or not finite.
        Value => "value",
        /// A line the grammar refuses, a histogram whose buckets are not cumulative (or
        /// without `_sum`), a sample that is not its family's.
        Malformed => "malformed",
        /// OpenMetrics `gaugehistogram`, `info` and `stateset` samples: not published.
        Unsupported => "unsupported",
        /// The target's cumulative state holds its bound of streams already.
        StateFull => "state_full",
        /// The target's series state holds `max_state_bytes_per_target` already.
        StateBytes => "state_bytes",
        /// A series (or one of its samples: a bucket, `_sum`, `_count`) given again in one
        /// scrape: the first is kept, as Prometheus does ("duplicate sample for timestamp").
        Duplicate => "duplicate",
        /// The pipeline's validation refused the datum (its rule is in `records_rejected_total`).
        Invalid => "invalid",
        /// A new series over the `[cardinality]` budget, with `overflow = "refuse"`.
        SeriesBudget => "series_budget",
    }
}
