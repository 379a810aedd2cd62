//! Shared test support.
#![allow(dead_code)]

pub mod dns;
pub mod fake_apiserver;
pub mod ports;
pub mod process;
pub mod upstream;
pub mod xfer;
