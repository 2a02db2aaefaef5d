//! Tests of the dialect-independent canonical core: the stream builder and validator, response
//! fixing, history repair and the assembler. One binary; shared event helpers in [`ev`].

mod arb;
mod assemble;
mod builder;
mod ev;
mod repair;
