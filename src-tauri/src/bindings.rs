//! The TypeScript twins of every type the UI receives, generated with ts-rs
//! into `ui/src/lib/bindings.ts`. The test below fails when that file is
//! stale; `make app-types` (`UPDATE_BINDINGS=1`) rewrites it.

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ts_rs::{Config, TS};

    use crate::dto;
    use tooldelta_core::{channel, disk, engine, error, events, report, signing};

    const HEADER: &str = "// Generated from the Rust types by `make app-types` (src-tauri/src/bindings.rs).\n\
// Do not edit: change the Rust type and regenerate.\n\n";

    fn declarations(cfg: &Config) -> Vec<String> {
        vec![
            events::Phase::decl(cfg),
            error::ErrorKind::decl(cfg),
            events::ErrorInfo::decl(cfg),
            events::Event::decl(cfg),
            signing::SignatureStatus::decl(cfg),
            signing::SignatureCheck::decl(cfg),
            report::UpdateReport::decl(cfg),
            report::FileStatus::decl(cfg),
            report::FileCheck::decl(cfg),
            report::VerifyReport::decl(cfg),
            report::Delta::decl(cfg),
            channel::ChannelDecision::decl(cfg),
            channel::local::Hold::decl(cfg),
            engine::UpdateCheck::decl(cfg),
            engine::RepairReport::decl(cfg),
            engine::SharedRepair::decl(cfg),
            engine::RollbackReport::decl(cfg),
            engine::HistoryEntry::decl(cfg),
            tooldelta_core::state::Pending::decl(cfg),
            tooldelta_core::agent::Policy::decl(cfg),
            tooldelta_core::agent::Outcome::decl(cfg),
            tooldelta_core::agent::ToolOutcome::decl(cfg),
            tooldelta_core::agent::AgentStatus::decl(cfg),
            dto::Integrity::decl(cfg),
            dto::Savings::decl(cfg),
            dto::Operation::decl(cfg),
            dto::RunSnapshot::decl(cfg),
            dto::ToolView::decl(cfg),
            dto::TrustedKey::decl(cfg),
            dto::SettingsView::decl(cfg),
            dto::NetworkView::decl(cfg),
            dto::SettingsInput::decl(cfg),
            dto::AppInfo::decl(cfg),
            dto::AppUpdateView::decl(cfg),
            dto::AppUpdateStatus::decl(cfg),
            dto::AppUpdateEvent::decl(cfg),
            dto::ExportedFile::decl(cfg),
            dto::ToolModified::decl(cfg),
            disk::ReleaseUsage::decl(cfg),
            disk::ToolUsage::decl(cfg),
            disk::DiskUsage::decl(cfg),
            disk::GcReport::decl(cfg),
            disk::RemoveReport::decl(cfg),
        ]
    }

    fn render() -> String {
        // JSON numbers: every count and size here stays far below 2^53.
        let cfg = Config::new().with_large_int("number");
        let mut out = HEADER.to_owned();
        for decl in declarations(&cfg) {
            out.push_str("export ");
            out.push_str(&decl);
            out.push_str("\n\n");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    fn target() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts")
    }

    #[test]
    fn generated_typescript_bindings_are_up_to_date() {
        let fresh = render();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(target(), &fresh).expect("write ui/src/lib/bindings.ts");
            return;
        }
        let committed = std::fs::read_to_string(target()).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/lib/bindings.ts is stale: run `make app-types` and commit it"
        );
    }
}
