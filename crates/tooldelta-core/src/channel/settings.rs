//! How a workstation follows channels: the settings `channel` and
//! `workstation_id`, and per tool `[tools.ID]` `channel` and `hold`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DEFAULT_CHANNEL;

/// Per-tool settings (`[tools.ID]` in the settings file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSettings {
    /// The channel this tool follows (else the global one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `hold = true` (at whatever is active) or `hold = "1.2.0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldSetting>,
    /// What the agent may do with this tool (else the global `policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::agent::Policy>,
    /// When the agent may switch it (else the global `window`; none: any time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// When the agent may download for it (else the global `download_window`;
    /// none: any time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_window: Option<String>,
}

/// A hold as the settings file writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HoldSetting {
    /// `true`: held at the active version; `false`: not held.
    Flag(bool),
    /// Held at this version.
    Version(String),
}

/// The engine's view of the rollout settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutSettings {
    /// The channel every tool follows unless its own settings name one
    /// (`None`: [`DEFAULT_CHANNEL`]).
    pub channel: Option<String>,
    /// Overrides the id generated under the root.
    pub workstation_id: Option<String>,
    /// Per tool.
    pub tools: BTreeMap<String, ToolSettings>,
}

impl RolloutSettings {
    /// The channel `tool_id` follows.
    pub fn channel_for(&self, tool_id: &str) -> &str {
        self.tools
            .get(tool_id)
            .and_then(|t| t.channel.as_deref())
            .or(self.channel.as_deref())
            .unwrap_or(DEFAULT_CHANNEL)
    }

    /// The hold the settings put on `tool_id`: `Some(None)` held at the
    /// active version, `Some(Some(v))` held at `v`, `None` not held.
    pub fn hold_for(&self, tool_id: &str) -> Option<Option<String>> {
        match self.tools.get(tool_id)?.hold.as_ref()? {
            HoldSetting::Flag(true) => Some(None),
            HoldSetting::Flag(false) => None,
            HoldSetting::Version(v) => Some(Some(v.clone())),
        }
    }
}
