//! The URL space of CONTRACT §4, written once: the route templates the mirror
//! serves, the relative paths clients, the export and the test kit build, and
//! the path-segment encoding. Paths here are relative (no leading `/`) so they
//! join onto a mirror base URL that has a path of its own.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters a URL path segment keeps as they are (RFC 3986 unreserved);
/// every other byte is percent-encoded.
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The API prefix, relative.
pub const PREFIX: &str = "api/v1";
/// The catalog of tools, relative (a folder in a static export).
pub const TOOLS: &str = "api/v1/tools";
/// The blob folder, relative (a folder in a static export).
pub const BLOBS: &str = "api/v1/blobs/sha256";
/// Where workstations send fleet reports, relative.
pub const REPORTS: &str = "api/v1/reports";

/// Route templates as the mirror's router spells them (axum syntax), and as
/// metrics label them.
pub mod template {
    /// Liveness.
    pub const HEALTHZ: &str = "/healthz";
    /// Prometheus metrics.
    pub const METRICS: &str = "/metrics";
    /// The catalog.
    pub const TOOLS: &str = "/api/v1/tools";
    /// One tool's versions.
    pub const TOOL: &str = "/api/v1/tools/{tool_id}";
    /// A manifest (`{version}` may be `latest`).
    pub const MANIFEST: &str = "/api/v1/tools/{tool_id}/{version}/manifest.json";
    /// A file by its path in a release (router form, with a catch-all).
    pub const FILE: &str = "/api/v1/tools/{tool_id}/{version}/files/{*path}";
    /// A file by its path in a release (label form).
    pub const FILE_LABEL: &str = "/api/v1/tools/{tool_id}/{version}/files/{path}";
    /// A signed channel document (router form: `{file}` is `<channel>.json`).
    pub const CHANNEL: &str = "/api/v1/tools/{tool_id}/channels/{file}";
    /// A signed channel document (label form).
    pub const CHANNEL_LABEL: &str = "/api/v1/tools/{tool_id}/channels/{channel}.json";
    /// A blob by its SHA-256.
    pub const BLOB: &str = "/api/v1/blobs/sha256/{hex}";
    /// Fleet reports (`POST`).
    pub const REPORTS: &str = "/api/v1/reports";
    /// The latest report per workstation.
    pub const FLEET: &str = "/api/v1/fleet";
    /// The fleet page.
    pub const FLEET_PAGE: &str = "/fleet";
    /// The fleet page's script.
    pub const FLEET_SCRIPT: &str = "/fleet/fleet.js";
    /// The desktop app's update feed.
    pub const APP_FEED: &str = "/api/v1/app/{target}/{arch}/{current_version}";
}

/// Percent-encodes one path segment.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// `api/v1/tools/{tool_id}`.
pub fn tool(tool_id: &str) -> String {
    format!("{TOOLS}/{}", encode_segment(tool_id))
}

/// `api/v1/tools/{tool_id}/{version}/manifest.json` (`version` may be `latest`).
pub fn manifest(tool_id: &str, version: &str) -> String {
    format!(
        "{}/{}/manifest.json",
        tool(tool_id),
        encode_segment(version)
    )
}

/// `api/v1/tools/{tool_id}/{version}/files/{path}`, each segment of the
/// release path encoded on its own.
pub fn file(tool_id: &str, version: &str, path: &str) -> String {
    let path: Vec<String> = path.split('/').map(encode_segment).collect();
    format!(
        "{}/{}/files/{}",
        tool(tool_id),
        encode_segment(version),
        path.join("/")
    )
}

/// `api/v1/tools/{tool_id}/channels/{channel}.json`.
pub fn channel(tool_id: &str, channel: &str) -> String {
    format!(
        "{}/channels/{}.json",
        tool(tool_id),
        encode_segment(channel)
    )
}

/// `api/v1/blobs/sha256/{hex}`.
pub fn blob(sha256: &str) -> String {
    format!("{BLOBS}/{sha256}")
}

/// The label of a request path: its route template, or `other` (a bounded
/// label set for metrics).
pub fn route_label(path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["healthz"] => template::HEALTHZ,
        ["metrics"] => template::METRICS,
        ["api", "v1", "tools"] => template::TOOLS,
        ["api", "v1", "tools", _] => template::TOOL,
        ["api", "v1", "tools", _, "channels", _] => template::CHANNEL_LABEL,
        ["api", "v1", "tools", _, _, "manifest.json"] => template::MANIFEST,
        ["api", "v1", "tools", _, _, "files", _, ..] => template::FILE_LABEL,
        ["api", "v1", "blobs", "sha256", _] => template::BLOB,
        ["api", "v1", "app", _, _, _] => template::APP_FEED,
        ["api", "v1", "reports"] => template::REPORTS,
        ["api", "v1", "fleet"] => template::FLEET,
        ["fleet"] => template::FLEET_PAGE,
        ["fleet", "fleet.js"] => template::FLEET_SCRIPT,
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_segment_is_encoded_on_its_own() {
        assert_eq!(
            file("t", "1.0.0+b", "models/m 1.gguf"),
            "api/v1/tools/t/1.0.0%2Bb/files/models/m%201.gguf"
        );
        assert_eq!(
            manifest("t", "latest"),
            "api/v1/tools/t/latest/manifest.json"
        );
        assert_eq!(
            route_label("/api/v1/tools/t/1/files/a/b"),
            template::FILE_LABEL
        );
        assert_eq!(route_label("/api/v1/blobs/sha256/ab"), template::BLOB);
    }
}
