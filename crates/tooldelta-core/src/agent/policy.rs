//! Per-tool policies and the one decision the agent makes for a tool, as a
//! pure function of the policy, the windows and what the mirror offers.

use serde::{Deserialize, Serialize};

/// What the agent may do with a tool (`[tools.ID] policy`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Download, and switch inside the maintenance window.
    Auto,
    /// Download only; a person (or the app) activates it later.
    Download,
    /// Only report what is available (the default: nothing changes unasked).
    #[default]
    Notify,
    /// Leave the tool alone: not even a check.
    Manual,
}

impl Policy {
    /// The settings-file name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Download => "download",
            Self::Notify => "notify",
            Self::Manual => "manual",
        }
    }

    /// Whether the agent asks the mirror about the tool at all.
    pub fn checks(self) -> bool {
        self != Self::Manual
    }
}

/// What the agent knows about a tool when it decides.
// Each input is a yes/no fact of its own; the table below combines them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// The tool's policy.
    pub policy: Policy,
    /// The offered manifest is the active one.
    pub up_to_date: bool,
    /// The offered version is already downloaded and pending.
    pub downloaded: bool,
    /// The maintenance (switching) window is open.
    pub switch_open: bool,
    /// Downloads are allowed now (`download_window`, else always).
    pub download_open: bool,
}

/// What the agent does with a tool in this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do: the tool is up to date.
    UpToDate,
    /// Report the available version (policy `notify`).
    Notify,
    /// Fill the store and record the version as pending.
    Download,
    /// Download what is missing and switch (policy `auto`, window open).
    Update,
    /// Wait; the reason says for what.
    Wait(WaitReason),
}

/// Why the agent waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Downloaded; the switch waits for the maintenance window.
    Window,
    /// Downloaded; policy `download` waits for `tooldelta activate`.
    Activation,
    /// Nothing downloaded yet, and downloads are outside their window.
    DownloadWindow,
}

impl WaitReason {
    /// The words `status` and the kiosk show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Window => "downloaded, waiting for the window",
            Self::Activation => "downloaded, waiting for activation",
            Self::DownloadWindow => "waiting for the download window",
        }
    }
}

/// The decision table (policy `manual` never gets here: it is not checked).
pub fn decide(s: Situation) -> Action {
    if s.up_to_date {
        return Action::UpToDate;
    }
    match s.policy {
        Policy::Manual | Policy::Notify => Action::Notify,
        Policy::Download if s.downloaded => Action::Wait(WaitReason::Activation),
        Policy::Auto if s.switch_open && (s.downloaded || s.download_open) => Action::Update,
        Policy::Auto if s.downloaded => Action::Wait(WaitReason::Window),
        Policy::Download | Policy::Auto if s.download_open => Action::Download,
        Policy::Download | Policy::Auto => Action::Wait(WaitReason::DownloadWindow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sit(policy: Policy, downloaded: bool, switch_open: bool, download_open: bool) -> Action {
        decide(Situation {
            policy,
            up_to_date: false,
            downloaded,
            switch_open,
            download_open,
        })
    }

    #[test]
    fn the_decision_table_of_policies_and_windows() {
        use Action::{Download, Notify, Update, Wait};
        use WaitReason::{Activation, DownloadWindow, Window};
        // (policy, downloaded, switch window open, download window open) -> action
        let table = [
            (Policy::Auto, false, true, true, Update),
            (Policy::Auto, true, true, false, Update),
            (Policy::Auto, false, true, false, Wait(DownloadWindow)),
            (Policy::Auto, false, false, true, Download),
            (Policy::Auto, true, false, true, Wait(Window)),
            (Policy::Auto, false, false, false, Wait(DownloadWindow)),
            (Policy::Download, false, true, true, Download),
            (Policy::Download, false, false, true, Download),
            (Policy::Download, true, true, true, Wait(Activation)),
            (Policy::Download, false, true, false, Wait(DownloadWindow)),
            (Policy::Notify, false, true, true, Notify),
            (Policy::Notify, true, true, true, Notify),
        ];
        for (policy, downloaded, switch, download, want) in table {
            assert_eq!(
                sit(policy, downloaded, switch, download),
                want,
                "{policy:?} downloaded={downloaded} switch={switch} download={download}"
            );
        }
    }

    #[test]
    fn an_up_to_date_tool_is_left_alone_whatever_the_policy() {
        for policy in [Policy::Auto, Policy::Download, Policy::Notify] {
            let s = Situation {
                policy,
                up_to_date: true,
                downloaded: false,
                switch_open: true,
                download_open: true,
            };
            assert_eq!(decide(s), Action::UpToDate);
        }
        assert!(!Policy::Manual.checks());
        assert_eq!(Policy::default(), Policy::Notify);
    }
}
