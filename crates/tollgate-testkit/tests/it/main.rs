//! Integration tests: the whole gateway in-process on a random port, against mock upstreams that
//! speak each provider's wire format. One binary, modules by area.

mod errors;
mod front_door;
mod lifecycle;
mod openai;
