//! How a detector of `[environment]` ended at startup.

labels! {
    /// What one detector came to.
    DetectOutcome {
        /// It answered with its attributes.
        Detected => "detected",
        /// It answered with an error, or its endpoint is not there.
        Failed => "failed",
        /// It did not answer within `environment.detect_timeout`.
        TimedOut => "timed_out",
    }
}
