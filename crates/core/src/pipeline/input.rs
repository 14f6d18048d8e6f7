//! Who submits to the pipeline, and under which rules.

/// Who is submitting, and under which rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    pub name: &'static str,
    pub admission: Admission,
    /// Whether its records count in the received/accepted/rejected counters (the self
    /// metrics do not count themselves).
    pub counted: bool,
}

impl Input {
    pub const HTTP: Input = Input { name: "http", admission: Admission::Bounded, counted: true };
    pub const SELF_METRICS: Input = Input { name: "self", admission: Admission::Internal, counted: false };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Refused when the buffer bound would be crossed: the client is told and can retry.
    Bounded,
    /// The sidecar's own handful of series per minute: admitted past the bound, so that they
    /// are not lost to a buffer that clients filled, and while shutting down, because the
    /// flush itself records them just before it drains.
    Internal,
}
