//! Emulator compatibility: CBOR timestamps as integers.
//!
//! The SDK encodes a timestamp as CBOR tag 1 over a double. LocalStack 4.12's parser reads
//! tag 1 with `int(str(value))` and fails on every double, so no PutMetricData with a
//! `Timestamp` gets through. Tag 1 over an integer is equally valid CBOR (RFC 8949 §3.4.2)
//! and our timestamps are whole seconds (window starts), so against emulators the request
//! body is rewritten that way. Against AWS's own endpoints the SDK's bytes go out untouched.

use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_cloudwatch::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudwatch::error::BoxError;
use aws_smithy_types::body::SdkBody;

/// Rewrites `tag 1, double` to `tag 1, integer` where the double is a whole, non-negative
/// number of seconds; every other byte is copied as it is. `None` if `cbor` is malformed.
pub fn integer_timestamps(cbor: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(cbor.len());
    let mut at = 0;
    while at < cbor.len() {
        copy_item(cbor, &mut at, &mut out)?;
    }
    Some(out)
}

/// The argument of the head at `at` (after its first byte), and the head's length.
fn argument(cbor: &[u8], at: usize) -> Option<(u64, usize)> {
    let info = cbor.get(at)? & 0x1f;
    let read = |n: usize| -> Option<u64> {
        let bytes = cbor.get(at + 1..at + 1 + n)?;
        Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64))
    };
    match info {
        0..=23 => Some((info as u64, 1)),
        24 => Some((read(1)?, 2)),
        25 => Some((read(2)?, 3)),
        26 => Some((read(4)?, 5)),
        27 => Some((read(8)?, 9)),
        31 => Some((u64::MAX, 1)), // indefinite length
        _ => None,
    }
}

const BREAK: u8 = 0xff;

fn copy_item(cbor: &[u8], at: &mut usize, out: &mut Vec<u8>) -> Option<()> {
    let start = *at;
    let major = cbor.get(start)? >> 5;
    let (arg, head) = argument(cbor, start)?;
    let indefinite = arg == u64::MAX && cbor[start] & 0x1f == 31;
    *at += head;
    match major {
        0 | 1 | 7 => {
            // Integers, simple values and floats: the head is the whole item (floats carry
            // their bits in the "argument").
            out.extend_from_slice(&cbor[start..*at]);
        }
        2 | 3 if !indefinite => {
            let end = at.checked_add(usize::try_from(arg).ok()?)?;
            cbor.get(*at..end)?;
            *at = end;
            out.extend_from_slice(&cbor[start..end]);
        }
        2..=5 if indefinite => {
            out.push(cbor[start]);
            while *cbor.get(*at)? != BREAK {
                copy_item(cbor, at, out)?;
            }
            out.push(BREAK);
            *at += 1;
        }
        4 | 5 => {
            out.extend_from_slice(&cbor[start..*at]);
            let items = if major == 5 { arg.checked_mul(2)? } else { arg };
            for _ in 0..items {
                copy_item(cbor, at, out)?;
            }
        }
        6 => {
            out.extend_from_slice(&cbor[start..*at]);
            let is_double = cbor.get(*at) == Some(&0xfb);
            if arg == 1 && is_double {
                let bits = cbor.get(*at + 1..*at + 9)?;
                let seconds = f64::from_be_bytes(bits.try_into().ok()?);
                if seconds >= 0.0 && seconds.fract() == 0.0 && seconds < u32::MAX as f64 {
                    out.push(0x1a);
                    out.extend_from_slice(&(seconds as u32).to_be_bytes());
                    *at += 9;
                    return Some(());
                }
            }
            copy_item(cbor, at, out)?;
        }
        _ => return None,
    }
    Some(())
}

/// An SDK interceptor applying [`integer_timestamps`] to the serialized request. It needs
/// the body in memory: the client disables the SDK's request compression alongside it.
#[derive(Debug)]
pub struct IntegerTimestamps;

impl Intercept for IntegerTimestamps {
    fn name(&self) -> &'static str {
        "IntegerTimestamps"
    }

    fn modify_before_retry_loop(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let Some(body) = request.body().bytes() else {
            return Err("IntegerTimestamps needs an in-memory body (is request compression on?)".into());
        };
        let rewritten = integer_timestamps(body).ok_or("the serialized request is not valid CBOR")?;
        request.headers_mut().insert("content-length", rewritten.len().to_string());
        *request.body_mut() = SdkBody::from(rewritten);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_second_timestamps_become_integers_and_nothing_else_changes() {
        // {"T": tag1(1795255740.0), "V": [1.5, -2], "S": "\xc1\xfb", "M": indefinite map}
        let mut input = vec![0xa4, 0x61, b'T', 0xc1, 0xfb];
        input.extend_from_slice(&1_795_255_740.0f64.to_be_bytes());
        input.extend_from_slice(&[0x61, b'V', 0x82, 0xfb]);
        input.extend_from_slice(&1.5f64.to_be_bytes());
        input.extend_from_slice(&[0x21, 0x61, b'S', 0x42, 0xc1, 0xfb, 0x61, b'M', 0xbf, 0x61, b'k', 0xc1, 0xfb]);
        input.extend_from_slice(&60.0f64.to_be_bytes());
        input.push(0xff);
        let out = integer_timestamps(&input).unwrap();
        let mut want = vec![0xa4, 0x61, b'T', 0xc1, 0x1a];
        want.extend_from_slice(&1_795_255_740u32.to_be_bytes());
        want.extend_from_slice(&[0x61, b'V', 0x82, 0xfb]);
        want.extend_from_slice(&1.5f64.to_be_bytes());
        want.extend_from_slice(&[
            0x21, 0x61, b'S', 0x42, 0xc1, 0xfb, 0x61, b'M', 0xbf, 0x61, b'k', 0xc1, 0x1a, 0, 0, 0, 60, 0xff,
        ]);
        assert_eq!(out, want);
    }

    #[test]
    fn fractional_timestamps_and_malformed_input() {
        let mut input = vec![0xc1, 0xfb];
        input.extend_from_slice(&1.25f64.to_be_bytes());
        assert_eq!(integer_timestamps(&input).unwrap(), input);
        assert!(integer_timestamps(&[0x82, 0x01]).is_none(), "truncated array");
        assert!(integer_timestamps(&[0x5a, 0xff, 0xff, 0xff, 0xff]).is_none(), "string past the end");
    }
}
