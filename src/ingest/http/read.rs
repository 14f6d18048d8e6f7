//! Reading a request body: bounded before and after decompression, `gzip` (also spelled
//! `x-gzip`, in any case) with every member read and nothing after the last one.

use std::io::Read;

use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

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

/// The whole body, decoded; at most `max` bytes on the wire and at most `max` decoded.
pub async fn read_body(body: axum::body::Body, encoding: Encoding, max: usize) -> Result<Vec<u8>, IngestError> {
    let raw = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if is_length_limit(e.as_ref()) => return Err(IngestError::BodyTooLarge { max, decoded: false }),
        Err(e) => return Err(IngestError::UnreadableBody(e.to_string())),
    };
    match encoding {
        Encoding::Identity => Ok(raw.into()),
        Encoding::Gzip => gunzip(&raw, max),
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

/// Whether the limit was hit anywhere down the error's chain (hyper wraps it).
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
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
}
