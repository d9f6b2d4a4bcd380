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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tooldelta_core::events::Phase;

    use super::*;
    use crate::dto::Operation;

    fn phase(p: Phase) -> Event {
        Event::Phase {
            tool_id: "t".into(),
            phase: p,
        }
    }

    #[test]
    fn a_closed_window_drops_events_but_the_run_snapshot_still_follows() {
        let runs = Arc::new(Runs::default());
        let _guard = runs.start("t", Operation::Update).unwrap();
        let attempts = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&attempts);
        // A channel whose window is gone: every send fails.
        let channel = Channel::new(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            Err(tauri::Error::WebviewNotFound)
        });
        let reporter = ChannelReporter::new(channel, Arc::clone(&runs), "t");
        reporter.report(&phase(Phase::Fetch));
        reporter.report(&phase(Phase::Activate));
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        assert_eq!(runs.snapshot("t").unwrap().phase, Some(Phase::Activate));
    }
}
