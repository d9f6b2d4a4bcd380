//! What the agent (or any other tooldelta process) does, as the app sees it:
//! the live progress snapshots the engine publishes per tool
//! (`tools/ID/progress.json`), merged with this app's own runs, and the
//! agent's status file (last cycle, next maintenance window).

// Tauri hands commands their arguments (and `State`) by value.
#![allow(clippy::needless_pass_by_value)]

use tauri::State;
use tooldelta_core::agent::{AgentStatus, Policy};
use tooldelta_core::config::Settings;
use tooldelta_core::engine::Engine;
use tooldelta_core::layout::Layout;
use tooldelta_core::live::{LiveSnapshot, LiveState};

use crate::dto::{Operation, RunSnapshot};
use crate::state::AppState;

/// The run another process is making on `tool_id` (the agent, a CLI), from
/// its published snapshot, while it is running.
pub fn external_run(engine: &Engine, tool_id: &str) -> Option<RunSnapshot> {
    let snap = engine.live(tool_id)?;
    (snap.state == LiveState::Running && snap.pid != std::process::id()).then(|| from_live(&snap))
}

fn from_live(snap: &LiveSnapshot) -> RunSnapshot {
    let started_ms = snap
        .started_at
        .parse::<jiff::Timestamp>()
        .map_or(0, |t| u64::try_from(t.as_millisecond()).unwrap_or(0));
    RunSnapshot {
        tool_id: snap.tool_id.clone(),
        operation: match snap.operation.as_str() {
            "repair" => Operation::Repair,
            "rollback" => Operation::Rollback,
            // update, download, activate: all bring a version.
            _ => Operation::Update,
        },
        to_version: snap.to_version.clone(),
        phase: snap.phase,
        bytes_done: snap.bytes_done,
        bytes_total: snap.bytes_total,
        bytes_per_sec: snap.bytes_per_sec,
        files_verified: snap.files_done,
        started_ms,
        upstream_percent: snap.upstream_percent,
        max_rate: snap.max_rate,
        by_pid: Some(snap.pid),
    }
}

/// This app's runs, and those of other processes on the other tools.
pub fn all_runs(state: &AppState) -> Vec<RunSnapshot> {
    let mut runs = state.runs.all();
    let Ok(engine) = state.engine() else {
        return runs;
    };
    let Ok(ids) = engine.tool_ids() else {
        return runs;
    };
    for id in ids {
        if runs.iter().any(|r| r.tool_id == id) {
            continue;
        }
        if let Some(run) = external_run(&engine, &id) {
            runs.push(run);
        }
    }
    runs.sort_by(|a, b| a.tool_id.cmp(&b.tool_id));
    runs
}

/// Waits while any tool update runs, in this app or another process: the
/// app's own update restarts the app, which must never cut one short.
pub async fn wait_for_tool_updates(state: &AppState) {
    let mut logged = false;
    loop {
        let runs = all_runs(state);
        if runs.is_empty() {
            return;
        }
        if !logged {
            let ids: Vec<&str> = runs.iter().map(|r| r.tool_id.as_str()).collect();
            tracing::info!(
                "app update waits for the tool updates running: {}",
                ids.join(", ")
            );
            logged = true;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// The policy the agent applies to `tool_id` under `settings`.
pub fn policy_of(settings: &Settings, tool_id: &str) -> Policy {
    settings
        .tools
        .get(tool_id)
        .and_then(|t| t.policy)
        .or(settings.policy)
        .unwrap_or_default()
}

/// The agent's last cycle and next window, when an agent runs on this root.
#[tauri::command]
pub fn agent_status(state: State<'_, AppState>) -> Option<AgentStatus> {
    let engine = state.engine().ok()?;
    tooldelta_core::agent::read_status(&Layout::new(engine.root()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tooldelta_core::engine::EngineConfig;
    use tooldelta_core::events::{Event, NullReporter, Phase, Reporter as _};
    use tooldelta_core::lock::FileLock;

    #[test]
    fn a_run_published_by_another_process_is_seen_while_it_holds_the_tool() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(EngineConfig::new(dir.path())).unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.tool_dir("t")).unwrap();
        let publisher = tooldelta_core::live::Publisher::new(&layout, "t", "update", &NullReporter);
        publisher.report(&Event::Phase {
            tool_id: "t".into(),
            phase: Phase::Fetch,
        });
        // Published by this very process: not another's run.
        assert!(external_run(&engine, "t").is_none());
        // As another process would have written it, with the tool's lock held.
        let mut snap = engine.live("t").unwrap();
        snap.pid = std::process::id() + 1;
        snap.state = LiveState::Running;
        std::fs::write(
            layout.progress_path("t"),
            serde_json::to_vec(&snap).unwrap(),
        )
        .unwrap();
        assert!(
            external_run(&engine, "t").is_none(),
            "no lock held: interrupted"
        );
        let _held = FileLock::try_exclusive(&layout.lock_path("t"))
            .unwrap()
            .unwrap();
        let run = external_run(&engine, "t").unwrap();
        assert_eq!(run.phase, Some(Phase::Fetch));
        assert_eq!(run.by_pid, Some(snap.pid));
    }
}
