//! The tooldelta mirror (CONTRACT §4): a content-addressed store served over
//! HTTP with Range and conditional requests, pull-through from an upstream
//! mirror, a static export for nginx or a CDN, and Prometheus metrics.
//!
//! Start at [`Store`] (what is on disk and how it gets there), then [`serve`]
//! (or [`RunningMirror`] / [`MirrorThread`] to run one in-process).

#![warn(missing_docs)]

pub mod app;
mod cache;
mod conn;
pub mod export;
mod export_subset;
pub mod fleet;
mod http;
pub mod metrics;
pub mod prefetch;
mod singleflight;
pub mod store;
pub mod upstream;

pub use conn::{ConnectionOptions, NofileLimit, raise_nofile_limit};
pub use export::{ExportError, ExportReport, Selection, export, export_selected};
pub use http::{MirrorThread, RunningMirror, ServeError, ServeOptions, TlsFiles, serve};
pub use prefetch::{PrefetchError, PrefetchOptions, PrefetchReport, prefetch};
pub use store::{
    BundleError, BundleReport, ChannelImport, ChannelImportError, ImportError, ImportOptions,
    ImportReport, ManifestOutcome, Store, StoreError, ToolIndex, VersionSel,
};

pub use tooldelta_core::tls::install_crypto_provider;
