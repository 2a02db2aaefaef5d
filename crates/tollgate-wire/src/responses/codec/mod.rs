//! This dialect's stream, decoded into canonical events (`decoder`: a Responses provider's
//! stream) and encoded from them (`encoder`: the stream a Responses client gets). Sans-IO state
//! machines: frames in, events out; events in, bytes out.

mod decoder;
mod encoder;

pub use decoder::Decoder;
pub use encoder::Encoder;
