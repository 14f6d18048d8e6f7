//! What a request's headers say: its body's format (`Content-Type`), and whether it carries
//! the bearer token.

use axum::http::{HeaderMap, header};

/// The body formats a request's `Content-Type` can name (its essence, in any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    NdJson,
    Protobuf,
}

pub fn media_type(headers: &HeaderMap) -> Option<MediaType> {
    let value = headers.get(header::CONTENT_TYPE)?;
    // What nearly every client sends, spelled exactly: no parsing needed.
    if value.as_bytes() == b"application/json" {
        return Some(MediaType::Json);
    }
    let ct = value.to_str().ok()?;
    let essence = ct.split(';').next()?.trim();
    let is = |name: &str| essence.eq_ignore_ascii_case(name);
    if is("application/json") {
        Some(MediaType::Json)
    } else if is("application/x-ndjson") || is("application/ndjson") {
        Some(MediaType::NdJson)
    } else if is("application/x-protobuf") || is("application/protobuf") {
        Some(MediaType::Protobuf)
    } else {
        None
    }
}

/// `Authorization: Bearer <token>`, the scheme in any case (RFC 9110 §11.1); always true
/// without a token.
pub fn authorized(token: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim());
    // Compare in constant time so the token cannot be guessed byte by byte.
    given.is_some_and(|g| {
        g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn of(content_type: &'static str) -> Option<MediaType> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        media_type(&headers)
    }

    #[test]
    fn the_essence_names_the_format_in_any_case_with_any_parameters() {
        assert_eq!(of("application/json"), Some(MediaType::Json));
        assert_eq!(of("Application/JSON; charset=utf-8"), Some(MediaType::Json));
        assert_eq!(of(" application/json ;charset=utf-8"), Some(MediaType::Json));
        assert_eq!(of("application/x-ndjson"), Some(MediaType::NdJson));
        assert_eq!(of("application/ndjson"), Some(MediaType::NdJson));
        assert_eq!(of("application/x-protobuf"), Some(MediaType::Protobuf));
        assert_eq!(of("APPLICATION/PROTOBUF"), Some(MediaType::Protobuf));
        for other in ["application/jsonx", "text/plain", "application/json-seq", ""] {
            assert_eq!(of(other), None, "{other}");
        }
        assert_eq!(media_type(&HeaderMap::new()), None);
    }
}
