//! The tooldelta engine.
//!
//! It knows no screen, no HTTP server and no command-line parser: the CLI, the
//! desktop app and the mirror build on it and render its typed results their
//! own way. Start at [`manifest`] (what HQ publishes), [`signing`] (how a
//! manifest becomes trusted), [`publish`] (how one is made) and [`engine`]
//! (how a workstation installs, verifies, repairs and rolls back tools).

#![warn(missing_docs)]

pub mod activate;
pub mod agent;
pub mod api;
pub mod channel;
pub mod chunks;
pub mod config;
pub mod delta;
pub mod diff;
pub mod disk;
pub mod engine;
pub mod error;
pub mod events;
pub mod explain;
pub mod fetch;
pub mod fleet;
pub mod fs;
pub mod hash;
pub mod layout;
pub mod live;
pub mod lock;
pub mod manifest;
pub mod packs;
pub mod pending;
pub mod publish;
pub mod rate;
pub mod report;
pub mod signing;
pub mod state;
pub mod store;
pub mod stream;
pub mod throttle;
pub mod tls;
pub mod verify;

pub use engine::{
    CancellationToken, Engine, EngineConfig, RepairReport, RollbackReport, ToolStatus, UpdateCheck,
    UpdateOptions,
};
pub use error::{ErrorKind, FetchError, UpdateError};
