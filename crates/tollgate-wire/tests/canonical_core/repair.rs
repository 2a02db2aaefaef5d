//! History repair.
