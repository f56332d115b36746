//! The in-memory model: plain data.
