//! How the series budget holds a series' dimensions: one word each, most in place.

/// A dimension of a series in one word: its name's position in its metric's list (the top
/// 16 bits) and 48 bits of its value's hash (two values of a million share them about once
/// in 500 tables: a dimension's count of distinct values is that close).
pub type Dim = u64;
const VALUE_BITS: u64 = (1 << 48) - 1;

pub fn dim(at: usize, value: u64) -> Dim {
    ((at as u64) << 48) | (value & VALUE_BITS)
}

pub fn dim_at(d: Dim) -> usize {
    (d >> 48) as usize
}

/// A dimension value's hash as its metric's count of series by value keys it.
pub fn dim_value(d: Dim) -> [u32; 2] {
    [d as u32, ((d & VALUE_BITS) >> 32) as u32]
}

/// A series' dimensions: most have one or none, held in place.
pub enum Dims {
    None,
    One(Dim),
    Many(Box<Box<[Dim]>>),
}

impl Dims {
    pub fn of(dims: Vec<Dim>) -> Dims {
        match dims[..] {
            [] => Dims::None,
            [d] => Dims::One(d),
            _ => Dims::Many(Box::new(dims.into_boxed_slice())),
        }
    }

    pub fn as_slice(&self) -> &[Dim] {
        match self {
            Dims::None => &[],
            Dims::One(d) => std::slice::from_ref(d),
            Dims::Many(dims) => dims,
        }
    }
}
