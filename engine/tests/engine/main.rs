//! Engine integration tests: one binary, one module per concern.

mod common;
mod crash;
mod restart;
mod rotation;
mod writes;
