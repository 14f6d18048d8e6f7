//! Cost control: metric rules ([`rules`]), the series budget ([`budget`]) and the bill they
//! come to ([`price`]). The admission stages of [`crate::pipeline::admission`] apply the
//! first two to every input's records; all of it is pure and tested directly.

pub mod budget;
pub mod price;
pub mod rules;

#[cfg(test)]
mod pipeline_tests;
