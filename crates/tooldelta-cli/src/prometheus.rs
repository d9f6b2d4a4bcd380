//! `tooldelta status --prometheus`: the node_exporter textfile-collector
//! format, for fleets that scrape workstations directly (docs/fleet.md).

use std::fmt::Write as _;

use tooldelta_core::fleet::{Integrity, LastResult, WorkstationReport};

/// The report as Prometheus text exposition (gauges only; no timestamps, as
/// the textfile collector requires).
pub fn render(report: &WorkstationReport) -> String {
    let mut out = String::new();
    let ws = escape(&report.workstation_id);
    gauge(
        &mut out,
        "tooldelta_tool_info",
        "Active release of each tool (always 1; the labels carry the state)",
        report.tools.iter().map(|t| {
            let labels = format!(
                "tool_id=\"{}\",version=\"{}\",channel=\"{}\",workstation_id=\"{ws}\"",
                t.tool_id,
                escape(t.version.as_deref().unwrap_or("")),
                escape(t.channel.as_deref().unwrap_or(""))
            );
            (labels, 1)
        }),
    );
    let per_tool = |f: &dyn Fn(&tooldelta_core::fleet::ToolReport) -> i64| {
        report
            .tools
            .iter()
            .map(|t| (format!("tool_id=\"{}\"", t.tool_id), f(t)))
            .collect::<Vec<_>>()
    };
    gauge(
        &mut out,
        "tooldelta_tool_modified",
        "1 when the last verify of the active release found a bad file, 0 when it passed, -1 when not verified",
        per_tool(&|t| match t.integrity {
            Integrity::Ok => 0,
            Integrity::Modified => 1,
            Integrity::Unknown => -1,
        }),
    );
    gauge(
        &mut out,
        "tooldelta_tool_update_failed",
        "1 when the last update of the tool failed",
        per_tool(&|t| i64::from(t.last_result == LastResult::Failed)),
    );
    gauge(
        &mut out,
        "tooldelta_tool_held",
        "1 when the tool is held at a version",
        per_tool(&|t| i64::from(t.held)),
    );
    gauge(
        &mut out,
        "tooldelta_tool_pending",
        "1 when a newer release is downloaded and waits for activation",
        per_tool(&|t| i64::from(t.pending_version.is_some())),
    );
    if let Some(free) = report.free_disk_bytes {
        gauge(
            &mut out,
            "tooldelta_disk_free_bytes",
            "Free bytes on the file system of the install root",
            [(String::new(), i64::try_from(free).unwrap_or(i64::MAX))],
        );
    }
    let now = jiff::Timestamp::now().as_second();
    gauge(
        &mut out,
        "tooldelta_status_timestamp_seconds",
        "When this file was written (Unix time); alert when it stops moving",
        [(String::new(), now)],
    );
    out
}

fn gauge(
    out: &mut String,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, i64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// A label value as the exposition format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
