//! Reading a request body: bounded before and after decompression, within
//! `body_read_timeout`, drawing on the process-wide [`BodyBudget`] as its bytes arrive;
//! `gzip` (also spelled `x-gzip`, in any case) with every member read and nothing after the
//! last one.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;

use crate::ingest::http::IngestError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

/// The body's `Content-Encoding`; names are case-insensitive and `x-gzip` is gzip.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, IngestError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let name = value.to_str().unwrap_or_default().trim().to_ascii_lowercase();
    match name.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        _ => Err(IngestError::UnsupportedEncoding(String::from_utf8_lossy(value.as_bytes()).into_owned())),
    }
}

/// Bytes of request bodies in memory, over all requests (`max_body_bytes_in_flight`): each
/// body draws on it frame by frame as it arrives, and gives its share back when its request
/// is done. `max_body_bytes` bounds one body; this bounds them all, so slow or stalled
/// senders cannot pile up memory.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    held: AtomicUsize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> BodyBudget {
        BodyBudget { limit, held: AtomicUsize::new(0) }
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// The bound (`max_body_bytes_in_flight`).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A share of nothing yet, for a body read elsewhere (gRPC's frames).
    pub fn reserve(&self) -> Reservation<'_> {
        Reservation { budget: self, bytes: 0 }
    }
}

/// One body's share of the [`BodyBudget`], given back on drop.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a BodyBudget,
    bytes: usize,
}

impl Reservation<'_> {
    /// Takes `n` more bytes, or nothing when that would pass the limit.
    pub fn grow(&mut self, n: usize) -> bool {
        let budget = self.budget;
        let taken = budget
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| h.checked_add(n).filter(|&t| t <= budget.limit));
        if taken.is_ok() {
            self.bytes += n;
        }
        taken.is_ok()
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// How a body may be read.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest body, on the wire and decoded (`max_body_bytes`).
    pub max: usize,
    /// Time the whole body may take (`body_read_timeout`).
    pub timeout: Duration,
}

/// The whole body, decoded, with its share of `budget` (hold it while the bytes are in use).
/// At most `limits.max` bytes on the wire and decoded; all of it within `limits.timeout`.
pub async fn read_body<'a>(
    mut body: axum::body::Body,
    encoding: Encoding,
    limits: BodyLimits,
    budget: &'a BodyBudget,
) -> Result<(Vec<u8>, Reservation<'a>), IngestError> {
    let max = limits.max;
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let mut held = Reservation { budget, bytes: 0 };
    // A small body comes in one frame: the rest only for more.
    let mut first: Option<Bytes> = None;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(IngestError::BodyTimeout(limits.timeout)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(IngestError::UnreadableBody(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry no data.
        let Ok(data) = frame.into_data() else { continue };
        if len + data.len() > max {
            return Err(IngestError::BodyTooLarge { max, decoded: false });
        }
        if !held.grow(data.len()) {
            return Err(IngestError::BodiesInFlight { limit: budget.limit });
        }
        len += data.len();
        match first {
            None => first = Some(data),
            Some(_) => chunks.push(data),
        }
    }
    let mut raw = Vec::with_capacity(len);
    for chunk in first.iter().chain(&chunks) {
        raw.extend_from_slice(chunk);
    }
    match encoding {
        Encoding::Identity => Ok((raw, held)),
        Encoding::Gzip => Ok((gunzip(&raw, max)?, held)),
    }
}

/// Every gzip member, bounded: a small bomb cannot grow past `max`.
pub fn gunzip(compressed: &[u8], max: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(compressed)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::MalformedBody(format!("body is not valid gzip: {e}")))?;
    if out.len() > max {
        return Err(IngestError::BodyTooLarge { max, decoded: true });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_member_is_read_and_trailing_garbage_refused() {
        let mut two = gz(b"{\"a\":1}\n");
        two.extend(gz(b"{\"b\":2}\n"));
        assert_eq!(gunzip(&two, 1024).unwrap(), b"{\"a\":1}\n{\"b\":2}\n");
        let mut trailing = gz(b"x");
        trailing.extend_from_slice(b"garbage");
        assert!(matches!(gunzip(&trailing, 1024), Err(IngestError::MalformedBody(_))));
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let bomb = gz(&vec![b'0'; 1 << 20]);
        assert!(bomb.len() < 4096);
        assert!(matches!(gunzip(&bomb, 64 * 1024), Err(IngestError::BodyTooLarge { decoded: true, .. })));
    }

    #[test]
    fn encodings_are_case_insensitive_and_x_gzip_is_gzip() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_ENCODING, v.parse().unwrap());
            encoding(&h)
        };
        assert_eq!(with("GZIP").unwrap(), Encoding::Gzip);
        assert_eq!(with("x-gzip").unwrap(), Encoding::Gzip);
        assert_eq!(with("Identity").unwrap(), Encoding::Identity);
        assert!(matches!(with("br"), Err(IngestError::UnsupportedEncoding(e)) if e == "br"));
        assert_eq!(encoding(&HeaderMap::new()).unwrap(), Encoding::Identity);
    }

    #[test]
    fn the_budget_is_shared_and_given_back() {
        let budget = BodyBudget::new(100);
        let mut a = Reservation { budget: &budget, bytes: 0 };
        let mut b = Reservation { budget: &budget, bytes: 0 };
        assert!(a.grow(60));
        assert!(!b.grow(41), "60 + 41 would pass 100");
        assert!(b.grow(40));
        assert_eq!(budget.held(), 100);
        drop(a);
        assert_eq!(budget.held(), 40);
        assert!(b.grow(60));
        drop(b);
        assert_eq!(budget.held(), 0);
    }

    /// Sends one frame, then nothing, ever.
    struct Stalls(Option<Bytes>);

    impl hyper::body::Body for Stalls {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            match self.0.take() {
                Some(data) => std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(data)))),
                None => std::task::Poll::Pending,
            }
        }
    }

    #[tokio::test]
    async fn a_body_that_stalls_times_out_and_gives_its_bytes_back() {
        let budget = BodyBudget::new(1024);
        let body = axum::body::Body::new(Stalls(Some(Bytes::from_static(b"[{\"name\""))));
        let limits = BodyLimits { max: 1024, timeout: Duration::from_millis(100) };
        let read = read_body(body, Encoding::Identity, limits, &budget);
        assert!(matches!(read.await, Err(IngestError::BodyTimeout(t)) if t == limits.timeout));
        assert_eq!(budget.held(), 0);
    }

    #[tokio::test]
    async fn a_body_past_the_budget_is_refused_and_gives_its_bytes_back() {
        let budget = BodyBudget::new(1024);
        let limits = BodyLimits { max: 4096, timeout: Duration::from_secs(5) };
        let (bytes, held) =
            read_body(axum::body::Body::from(vec![b' '; 1000]), Encoding::Identity, limits, &budget).await.unwrap();
        assert_eq!((bytes.len(), budget.held()), (1000, 1000));
        let second = read_body(axum::body::Body::from(vec![b' '; 100]), Encoding::Identity, limits, &budget).await;
        assert!(matches!(second, Err(IngestError::BodiesInFlight { limit: 1024 })));
        assert_eq!(budget.held(), 1000, "the refused body gave its share back");
        drop(held);
        assert_eq!(budget.held(), 0);
    }
}
