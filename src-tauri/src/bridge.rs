//! Engine events to the UI: a [`Reporter`] that forwards each event through a
//! `tauri::ipc::Channel` and folds it into the run's snapshot.

use std::sync::Arc;

use tauri::ipc::Channel;
use tooldelta_core::events::{Event, Reporter};

use crate::runs::Runs;

/// Forwards engine events to one window's channel.
pub struct ChannelReporter {
    channel: Channel<Event>,
    runs: Arc<Runs>,
    tool_id: String,
}

impl ChannelReporter {
    /// A reporter for the run of `tool_id`.
    pub fn new(channel: Channel<Event>, runs: Arc<Runs>, tool_id: &str) -> Self {
        Self {
            channel,
            runs,
            tool_id: tool_id.to_owned(),
        }
    }
}

impl Reporter for ChannelReporter {
    fn report(&self, event: &Event) {
        self.runs.observe(&self.tool_id, event);
        // A closed window must never abort the work: the event is dropped.
        if let Err(err) = self.channel.send(event.clone()) {
            tracing::debug!(tool = %self.tool_id, %err, "progress event dropped: the window is gone");
        }
    }
}
