//! responses dialect. Files: `convert` (whole requests and responses <-> canonical), `codec` (the
//! stream, decoded and encoded).

pub mod codec;
pub mod convert;
pub mod request;
