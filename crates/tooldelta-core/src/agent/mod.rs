//! Unattended operation: one agent cycle checks every tool and applies its
//! policy (`auto`, `download`, `notify`, `manual`) inside its maintenance
//! windows. The loop around it (interval, jitter, signals, logs) belongs to
//! the binary; the time comes from a [`Clock`], so tests need no sleeping.

mod policy;
mod status;
mod window;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Zoned;

pub use policy::{Action, Policy, Situation, WaitReason, decide};
pub use status::{
    AGENT_STATUS_VERSION, AgentStatus, Outcome, ToolOutcome, read_status, write_status,
};
pub use window::{Window, WindowError, describe_when};

use crate::config::Settings;
use crate::engine::{CancellationToken, Engine, UpdateOptions};
use crate::error::{ErrorKind, UpdateError};
use crate::events::Reporter;
use crate::report::{UpdateCheck, UpdateReport};

/// Where the agent reads the time.
pub trait Clock: Send + Sync {
    /// The local time now.
    fn now(&self) -> Zoned;
}

/// The system's clock in the system's time zone.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Zoned {
        Zoned::now()
    }
}

/// A setting of the agent that does not hold, naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("setting {setting}: {source}")]
pub struct AgentSettingsError {
    /// `window`, `[tools.ID] download_window`, …
    pub setting: String,
    /// What is wrong with the window.
    #[source]
    pub source: WindowError,
}

/// What the agent applies to one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRules {
    /// The policy.
    pub policy: Policy,
    /// When it may switch (`None`: any time).
    pub window: Option<Window>,
    /// When it may download (`None`: any time).
    pub download_window: Option<Window>,
}

/// The agent's settings, windows parsed once.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    default: ToolRules,
    tools: BTreeMap<String, ToolRules>,
}

fn window(setting: String, text: Option<&String>) -> Result<Option<Window>, AgentSettingsError> {
    text.map(|t| {
        t.parse()
            .map_err(|source| AgentSettingsError { setting, source })
    })
    .transpose()
}

impl AgentSettings {
    /// Reads the global and per-tool policies and windows; a window that
    /// does not parse is an error naming its setting.
    pub fn from_settings(settings: &Settings) -> Result<Self, AgentSettingsError> {
        let default = ToolRules {
            policy: settings.policy.unwrap_or_default(),
            window: window("window".into(), settings.window.as_ref())?,
            download_window: window("download_window".into(), settings.download_window.as_ref())?,
        };
        let mut tools = BTreeMap::new();
        for (id, t) in &settings.tools {
            let own = |name: &str| format!("[tools.{id}] {name}");
            let rules = ToolRules {
                policy: t.policy.unwrap_or(default.policy),
                window: match &t.window {
                    Some(_) => window(own("window"), t.window.as_ref())?,
                    None => default.window.clone(),
                },
                download_window: match &t.download_window {
                    Some(_) => window(own("download_window"), t.download_window.as_ref())?,
                    None => default.download_window.clone(),
                },
            };
            tools.insert(id.clone(), rules);
        }
        Ok(Self { default, tools })
    }

    /// The rules of `tool_id`.
    pub fn rules_for(&self, tool_id: &str) -> &ToolRules {
        self.tools.get(tool_id).unwrap_or(&self.default)
    }

    /// The tools a cycle visits: those installed and those the settings
    /// name (an `auto` tool named there is installed by the agent).
    pub fn tool_ids(&self, installed: Vec<String>) -> Vec<String> {
        let mut ids: BTreeSet<String> = installed.into_iter().collect();
        ids.extend(self.tools.keys().cloned());
        ids.into_iter().collect()
    }

    /// The earliest next opening of a switching window among the tools the
    /// agent may switch (`auto`), at `now`.
    pub fn next_window(&self, ids: &[String], now: &Zoned) -> Option<Zoned> {
        ids.iter()
            .map(|id| self.rules_for(id))
            .filter(|r| r.policy == Policy::Auto)
            .filter_map(|r| r.window.as_ref()?.next_open(now))
            .min()
    }
}

/// One cycle over every tool, in order; a failure of one tool does not stop
/// the others. Progress of each run leaves through `reporter` (and the live
/// snapshot files of the engine).
pub async fn cycle(
    engine: &Engine,
    settings: &AgentSettings,
    clock: &dyn Clock,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> Result<Vec<ToolOutcome>, UpdateError> {
    let ids = settings.tool_ids(engine.tool_ids()?);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if cancel.is_cancelled() {
            break;
        }
        let rules = settings.rules_for(&id);
        out.push(one_tool(engine, &id, rules, clock, reporter, cancel).await);
    }
    Ok(out)
}

async fn one_tool(
    engine: &Engine,
    tool_id: &str,
    rules: &ToolRules,
    clock: &dyn Clock,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> ToolOutcome {
    let now = clock.now();
    let mut out = ToolOutcome {
        tool_id: tool_id.to_owned(),
        policy: rules.policy,
        outcome: Outcome::Manual,
        installed_version: None,
        offered_version: None,
        pending_version: None,
        message: "policy manual: left alone".to_owned(),
        next_window: rules
            .window
            .as_ref()
            .and_then(|w| w.next_open(&now))
            .map(|z| z.timestamp().to_string()),
        bytes_downloaded: 0,
        error: None,
    };
    if !rules.policy.checks() {
        return out;
    }
    match engine.held(tool_id) {
        Ok(Some(hold)) => {
            out.outcome = Outcome::Held;
            out.message = format!("held at {}", hold.version.as_deref().unwrap_or("-"));
            return out;
        }
        Ok(None) => {}
        Err(e) => return failed(out, &e),
    }
    let check = match engine.check(tool_id, &UpdateOptions::default()).await {
        Ok(check) => check,
        Err(e) => return failed(out, &e),
    };
    out.installed_version.clone_from(&check.installed_version);
    out.offered_version = Some(check.available_version.clone());
    out.pending_version = check.pending.as_ref().map(|p| p.version.clone());
    let action = decide(Situation {
        policy: rules.policy,
        up_to_date: check.up_to_date,
        downloaded: is_downloaded(&check),
        switch_open: rules
            .window
            .as_ref()
            .is_none_or(|w| w.is_open(now.datetime())),
        download_open: rules
            .download_window
            .as_ref()
            .is_none_or(|w| w.is_open(now.datetime())),
    });
    apply(engine, out, &check, action, reporter, cancel).await
}

/// The offered version is the pending one, so nothing is left to download.
fn is_downloaded(check: &UpdateCheck) -> bool {
    check.pending.as_ref().is_some_and(|p| {
        p.version == check.available_version && p.manifest_hash == check.manifest_hash
    })
}

async fn apply(
    engine: &Engine,
    mut out: ToolOutcome,
    check: &UpdateCheck,
    action: Action,
    reporter: &dyn Reporter,
    cancel: &CancellationToken,
) -> ToolOutcome {
    let offered = &check.available_version;
    let (outcome, message) = match action {
        Action::UpToDate => (Outcome::UpToDate, format!("{offered} is active")),
        Action::Notify => (Outcome::Available, format!("{offered} is available")),
        Action::Wait(reason) => (Outcome::Waiting, wait_message(check, reason)),
        Action::Download | Action::Update => {
            let opts = UpdateOptions {
                download_only: action == Action::Download,
                ..UpdateOptions::default()
            };
            let run = engine.update(&out.tool_id, &opts, reporter, cancel).await;
            return ran(out, run, &opts);
        }
    };
    out.outcome = outcome;
    out.message = message;
    out
}

fn wait_message(check: &UpdateCheck, reason: WaitReason) -> String {
    format!("{} {}", check.available_version, reason.as_str())
}

fn ran(
    mut out: ToolOutcome,
    run: Result<UpdateReport, UpdateError>,
    opts: &UpdateOptions,
) -> ToolOutcome {
    match run {
        Ok(report) => {
            out.bytes_downloaded = report.bytes_downloaded;
            if opts.download_only {
                out.outcome = Outcome::Downloaded;
                out.pending_version = Some(report.to_version.clone());
                out.message = format!("{} downloaded", report.to_version);
            } else {
                out.outcome = Outcome::Updated;
                out.installed_version = Some(report.to_version.clone());
                out.pending_version = None;
                out.message = format!(
                    "{} -> {}",
                    report.from_version.as_deref().unwrap_or("(none)"),
                    report.to_version
                );
            }
            out
        }
        Err(e) if e.kind() == ErrorKind::InUse => {
            out.outcome = Outcome::Deferred;
            out.pending_version.clone_from(&out.offered_version);
            out.message = e.to_string();
            out.error = Some(e.info());
            out
        }
        Err(e) => failed(out, &e),
    }
}

fn failed(mut out: ToolOutcome, e: &UpdateError) -> ToolOutcome {
    out.outcome = Outcome::Failed;
    out.message = e.to_string();
    out.error = Some(e.info());
    out
}
