//! A protobuf message walked field by field without decoding it or allocating: what the
//! decoded-size budgets of OTLP and remote-write count before anything is decoded. The walk
//! checks the framing the decoder checks (varints of at most 10 bytes, lengths within the
//! buffer, groups closed by their own number, nested at most 100 deep); the field values are
//! the decoder's to check.

/// One field's payload.
pub enum Field<'b> {
    Varint,
    Fixed,
    Bytes(&'b [u8]),
}

/// Calls `each` with every field of the message `buf` (groups skipped); `Err(None)` when the
/// bytes are no message. `depth` bounds the nesting of groups as the decoder's recursion limit
/// would.
pub fn walk<'b, E>(
    buf: &'b [u8],
    depth: usize,
    mut each: impl FnMut((u64, Field<'b>)) -> Result<(), Option<E>>,
) -> Result<(), Option<E>> {
    let mut r = Reader { buf, pos: 0 };
    while r.pos < buf.len() {
        let (number, field) = r.field(depth)?;
        if let Some(field) = field {
            each((number, field))?;
        }
    }
    Ok(())
}

struct Reader<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Reader<'b> {
    fn varint<E>(&mut self) -> Result<u64, Option<E>> {
        let mut v = 0u64;
        for shift in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(None)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (shift * 7);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(None)
    }

    fn take<E>(&mut self, n: u64) -> Result<&'b [u8], Option<E>> {
        let n = usize::try_from(n).map_err(|_| None)?;
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(None)?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    /// The next field: its number and payload (none for a group, skipped whole).
    fn field<E>(&mut self, depth: usize) -> Result<(u64, Option<Field<'b>>), Option<E>> {
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 {
            return Err(None);
        }
        let field = match key & 7 {
            0 => {
                self.varint()?;
                Field::Varint
            }
            1 => {
                self.take(8)?;
                Field::Fixed
            }
            2 => {
                let n = self.varint()?;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed
            }
            3 => {
                if depth >= 100 {
                    return Err(None);
                }
                loop {
                    if self.pos >= self.buf.len() {
                        return Err(None);
                    }
                    let at = self.pos;
                    let end = self.varint()?;
                    if end & 7 == 4 {
                        if end >> 3 != number {
                            return Err(None);
                        }
                        break;
                    }
                    self.pos = at;
                    self.field(depth + 1)?;
                }
                return Ok((number, None));
            }
            _ => return Err(None),
        };
        Ok((number, Some(field)))
    }
}
