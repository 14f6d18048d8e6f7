//! The disk spool's formats: checksummed frames ([`frame`]) holding the write-ahead log's
//! records and the batch files ([`codec`]).

pub mod checkpoint;
pub mod codec;
pub mod frame;
pub mod window;
