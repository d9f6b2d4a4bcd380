//! Dev-only helpers for tooldelta tests. **Never ship or link these in a
//! product binary**: the keys here are public test keys.
//!
//! - [`FaultServer`]: a correct HTTP file server on 127.0.0.1 with fault
//!   switches (ignore Range, cut, corrupt, stall, 5xx, wrong Content-Range,
//!   changed ETag, throttle, …) and a request log.
//! - Fixtures: [`ToolTree`] (tool folders with fast deterministic "model"
//!   files), [`TestKeys`] (fixed Ed25519 test keys as PEM files) and
//!   [`StaticMirror`] (published tools in the mirror's static export layout,
//!   with hostile variants).
//! - Processes: [`bin_path`] finds built binaries, [`run`] runs one and
//!   captures its output.
//!
//! Fixture helpers panic with a message naming the path when the file system
//! fails: in a test that is a broken environment, not a case to handle.

#![warn(missing_docs)]

mod fixtures;
mod process;
mod server;

pub use fixtures::{PseudoRandom, StaticMirror, TestKeys, ToolTree};
pub use process::{
    ChildGuard, CmdOutput, DEFAULT_TIMEOUT, bin_path, run, run_with_timeout, target_dir,
};
pub use server::{
    Builder, EtagChange, Fault, FaultServer, Faults, Origin, PathFilter, PathStats, RangeMutation,
    RequestLog, RequestRecord, Rule, ServerError, When,
};

pub use tooldelta_core::tls::install_crypto_provider;
