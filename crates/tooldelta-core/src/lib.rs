//! The tooldelta engine.
//!
//! It knows no screen, no HTTP server and no command-line parser: the CLI, the
//! desktop app and the mirror build on it and render its typed results their
//! own way. Start at [`manifest`] (what HQ publishes), [`signing`] (how a
//! manifest becomes trusted) and [`publish`] (how one is made).

#![warn(missing_docs)]

pub mod events;
pub mod config;
pub mod hash;
pub mod manifest;
pub mod publish;
pub mod report;
pub mod signing;
