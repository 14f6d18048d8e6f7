//! Every reason a record, a request or a datum can be turned away, every phase in which a
//! connection can time out, and every outcome of a PutMetricData call, as closed lists.
//! `/metrics` pre-creates a label for each, so a new reason cannot be forgotten there and
//! dashboards see every series from the start.

macro_rules! labels {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label value in `/metrics`.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

// The Prometheus inputs' reasons (scrape and remote-write), in a file of their own.
mod prometheus;
pub use prometheus::*;
// The environment detectors' outcomes.
mod environment;
pub use environment::*;

labels! {
    /// Why one record was rejected: the rule it broke.
    RejectReason {
        /// Not a record at all: wrong JSON types, unknown fields, bad syntax.
        Malformed => "malformed",
        Name => "name",
        Namespace => "namespace",
        Dimensions => "dimensions",
        Value => "value",
        Statistics => "statistics",
        Unit => "unit",
        Timestamp => "timestamp",
        StorageResolution => "storage_resolution",
        /// A new series over the series budget, with `overflow = "refuse"`.
        SeriesBudget => "series_budget",
        /// Not declared in the metric catalog, with `catalog_mode = "strict"`.
        Catalog => "catalog",
    }
}

labels! {
    /// What the metric catalog does not declare of a record.
    CatalogReason {
        /// Its metric (namespace and name).
        Metric => "metric",
        /// One of its dimensions (the default dimensions are always declared).
        Dimension => "dimension",
        /// Its unit.
        Unit => "unit",
    }
}

labels! {
    /// Which bound of the series budget (`[cardinality]`) a new series met.
    SeriesBound {
        PerMetric => "max_series_per_metric",
        PerNamespace => "max_series_per_namespace",
        Total => "max_series",
        /// Even the overflow series (`AllOther`) could not be made: the table is full.
        OverflowSeries => "overflow_series",
    }
}

labels! {
    /// Why a whole request was refused, nothing of it accepted.
    RefuseReason {
        Unauthorized => "unauthorized",
        UnsupportedMediaType => "unsupported_media_type",
        TooLarge => "too_large",
        UnreadableBody => "unreadable_body",
        MalformedBody => "malformed_body",
        BufferFull => "buffer_full",
        ShuttingDown => "shutting_down",
        /// The body did not arrive within `body_read_timeout` (408; the connection is closed).
        BodyTimeout => "body_timeout",
        /// The bodies being read already hold `max_body_bytes_in_flight` (503).
        BodyBudget => "body_budget",
        /// The request head was larger than `max_header_bytes` (431, answered by hyper).
        HeadersTooLarge => "headers_too_large",
        /// The disk spool holds `spool.max_bytes` (503).
        SpoolFull => "spool_full",
        /// Writing to the disk spool failed (503; the log says why).
        SpoolError => "spool_error",
        /// OTLP: more data points in one request than `otlp.max_points_per_request` (413).
        TooManyPoints => "too_many_points",
        /// OTLP: a data point with more buckets than `otlp.max_buckets_per_point` (413).
        TooManyBuckets => "too_many_buckets",
        /// Remote-write: `Content-Encoding`, `Content-Type` or `X-Prometheus-Remote-Write-Version`
        /// missing or wrong, framed snappy (400).
        BadHeaders => "bad_headers",
        /// Remote-write: more series in one request than `remote_write.max_series_per_request` (413).
        TooManySeries => "too_many_series",
        /// Remote-write: more samples in one request than `remote_write.max_samples_per_request` (413).
        TooManySamples => "too_many_samples",
        /// Remote-write: a series with more than 128 labels (413).
        TooManyLabels => "too_many_labels",
        /// The resident memory is above the high mark of `max_memory` (503).
        MemoryHigh => "memory_high",
    }
}

labels! {
    /// What a connection was doing when it ran out of time and was closed.
    TimeoutPhase {
        /// Kept alive after a response, and no byte of a next request within `idle_timeout`.
        Idle => "idle",
        /// The request head not complete within `header_read_timeout` of the connection's
        /// start or of its first byte.
        Header => "header",
        /// The request body not complete within `body_read_timeout`.
        Body => "body",
    }
}

labels! {
    /// How a PutMetricData call ended.
    PutOutcome {
        Success => "success",
        /// CloudWatch asked us to slow down: lower the rate and retry.
        Throttled => "throttled",
        /// 5xx, timeouts, connection errors: retry with backoff.
        Transient => "transient",
        /// Credentials or permissions: retry the same way, and say so loudly.
        Auth => "auth",
        /// Some datum is invalid: bisect so only the offending datums are dropped.
        Invalid => "invalid",
        /// The request is too large: split it.
        TooLarge => "too_large",
        /// Anything else: retried (never dropped) and logged as an error.
        Unexpected => "unexpected",
    }
}

labels! {
    /// Why datums were given up on.
    DropReason {
        /// CloudWatch rejected the datum alone as invalid.
        Invalid => "invalid",
        /// The datum alone is larger than a request may be.
        TooLarge => "too_large",
        /// The datum aged out of CloudWatch's 14-day window.
        Expired => "expired",
        /// A batch file of the spool that could no longer be read.
        Unreadable => "unreadable",
    }
}

labels! {
    /// What became of one line of a line-based input (StatsD; EMF counts documents received,
    /// ignored and rejected, and datums accepted and dropped).
    LineOutcome {
        Received => "received",
        /// Published, or taken into input-side state (sets).
        Accepted => "accepted",
        /// Broke a rule: see `input_lines_rejected_total` for which.
        Rejected => "rejected",
        /// DogStatsD events and service checks, JSON that is not EMF: not metrics, not errors.
        Ignored => "ignored",
        /// Valid, but refused by the pipeline and lost (UDP cannot push back).
        Dropped => "dropped",
    }
}

labels! {
    /// Why a line of a line-based input was rejected.
    LineReject {
        /// Not `name:value|type`, not UTF-8, too many tags.
        Malformed => "malformed",
        UnknownType => "unknown_type",
        SampleRate => "sample_rate",
        Value => "value",
        Timestamp => "timestamp",
        Name => "name",
        /// Longer than the 64 KiB a line may have.
        TooLong => "too_long",
        /// The pipeline's validation refused it (its rule is in `records_rejected_total`).
        Invalid => "invalid",
        /// A new series over the `[cardinality]` budget, with `overflow = "refuse"`.
        SeriesBudget => "series_budget",
        /// Input-side state (gauges, sets) is at its bound.
        StateFull => "state_full",
        /// EMF: not JSON.
        InvalidJson => "invalid_json",
        /// EMF: more than 100 metrics in a directive.
        TooManyMetrics => "too_many_metrics",
        /// EMF: more than 30 dimensions in a dimension set.
        TooManyDimensions => "too_many_dimensions",
        /// EMF: more than 100 values for one metric.
        TooManyValues => "too_many_values",
        /// EMF: a directive with more dimension sets than `emf.max_dimension_sets`.
        TooManyDimensionSets => "too_many_dimension_sets",
        /// EMF: a document that would give more datums (metrics × dimension sets, over all
        /// its directives) than `emf.max_datums_per_document`.
        TooManyDatums => "too_many_datums",
    }
}

labels! {
    /// Lines taken with a correction, or with a part skipped (EMF metrics and dimension sets).
    LineWarning {
        /// A sample rate above 1, treated as 1.
        SampleRateAboveOne => "sample_rate_above_one",
        /// EMF, metric skipped: a metric definition without a `Name` string.
        MetricName => "metric_name",
        /// EMF, metric skipped: no top-level member of the metric's name.
        MetricMissing => "metric_missing",
        /// EMF, metric skipped: its member is not a number, an array of numbers or a value object.
        MetricNotNumeric => "metric_not_numeric",
        /// EMF, metric skipped: `Unit` is not a CloudWatch standard unit.
        Unit => "unit",
        /// EMF, metric skipped: `StorageResolution` is not 1 or 60.
        StorageResolution => "storage_resolution",
        /// EMF, metric skipped: a statistic set incomplete or impossible (min above max, ...).
        StatisticSet => "statistic_set",
        /// EMF, metric skipped: the pipeline's validation refused the datum (its rule is in
        /// `records_rejected_total`).
        DatumInvalid => "datum_invalid",
        /// EMF, dimension set dropped: it names a member the document does not have.
        DimensionMissing => "dimension_missing",
        /// EMF, dimension set dropped: it names a member that is not a string.
        DimensionNotString => "dimension_not_string",
        /// EMF, dimension set dropped: it names a member that is an empty string.
        DimensionEmpty => "dimension_empty",
    }
}

labels! {
    /// Why UDP data was lost.
    UdpDrop {
        /// Datagrams the kernel dropped because the receive buffer was full.
        Kernel => "kernel",
        /// Lines the pipeline refused: the buffer bound was reached.
        BufferFull => "buffer_full",
        /// Lines the pipeline refused while shutting down.
        ShuttingDown => "shutting_down",
        /// Lines of a datagram whose series-windows exceed the buffer bound.
        TooLarge => "too_large",
        /// Lines the pipeline refused: the disk spool was full.
        SpoolFull => "spool_full",
        /// Lines the disk spool could not write.
        SpoolError => "spool_error",
        /// Lines refused while the resident memory is above the high mark of `max_memory`.
        MemoryHigh => "memory_high",
    }
}

labels! {
    /// What became of one OTLP data point.
    OtlpOutcome {
        Received => "received",
        /// Handed to aggregation.
        Accepted => "accepted",
        /// Nothing to publish: a cumulative stream's baseline, a gap (no recorded value), a
        /// histogram without samples.
        Empty => "empty",
        /// Refused and reported in `partial_success`: see `otlp_points_rejected_total`.
        Rejected => "rejected",
        /// The pipeline refused the whole request (buffer full, shutting down, too large):
        /// the client was told to retry (503) or that it never fits (413).
        Refused => "refused",
    }
}

labels! {
    /// Why an OTLP data point was rejected (and reported in `partial_success`).
    OtlpReject {
        /// More than 30 dimensions from its attributes and the kept resource attributes.
        TooManyDimensions => "too_many_dimensions",
        /// `aggregationTemporality` neither DELTA nor CUMULATIVE.
        Temporality => "temporality",
        /// Bucket counts, bounds, count or scale that do not fit together.
        Buckets => "buckets",
        /// A number point without a value.
        Value => "value",
        /// A new cumulative stream while `max_streams` are tracked.
        TooManyStreams => "too_many_streams",
        /// A new cumulative stream (or one grown) while the streams hold
        /// `max_stream_state_bytes`.
        StreamStateFull => "stream_state_full",
        /// The pipeline's validation refused it (its rule is in `records_rejected_total`).
        Invalid => "invalid",
    }
}

labels! {
    /// What is wrong with a stretch of a spool file read at start.
    SpoolDamage {
        /// Bytes that are no whole frame, or a frame whose checksum does not match.
        Checksum => "checksum",
        /// A file ending inside a frame: a write cut short.
        TornTail => "torn_tail",
        /// A frame or file that cannot be read or decoded.
        Unreadable => "unreadable",
    }
}

labels! {
    /// A spool operation that can fail.
    SpoolOp {
        Write => "write",
        Sync => "sync",
        Read => "read",
        Remove => "remove",
    }
}

labels! {
    /// What a start replays from the spool.
    SpoolReplayed {
        /// Accepted records of the write-ahead log, aggregated again.
        Records => "records",
        /// Datums of batch files, queued for publishing.
        Datums => "datums",
    }
}

impl LineReject {
    /// A line-based input's reason for a record the pipeline rejected.
    pub fn of(reason: RejectReason) -> LineReject {
        match reason {
            RejectReason::SeriesBudget => LineReject::SeriesBudget,
            _ => LineReject::Invalid,
        }
    }
}

impl ScrapeRefusal {
    /// A scrape's reason for a datum the pipeline rejected.
    pub fn of(reason: RejectReason) -> ScrapeRefusal {
        match reason {
            RejectReason::SeriesBudget => ScrapeRefusal::SeriesBudget,
            _ => ScrapeRefusal::Invalid,
        }
    }
}

impl RemoteWriteReject {
    /// Remote-write's reason for a datum the pipeline rejected.
    pub fn of(reason: RejectReason) -> RemoteWriteReject {
        match reason {
            RejectReason::SeriesBudget => RemoteWriteReject::SeriesBudget,
            _ => RemoteWriteReject::Invalid,
        }
    }
}
