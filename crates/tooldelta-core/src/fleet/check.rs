//! The one gate a report passes before a mirror stores or forwards it:
//! every field bounded, every identifier in its grammar. A report that breaks
//! a rule is refused whole, with the rule named.

use super::{ToolReport, WorkstationReport};
use crate::manifest::{is_valid_tool_id, parse_version};

/// Largest report body a mirror accepts (a batch may hold [`super::MAX_BATCH`]).
pub const MAX_REPORT_BYTES: usize = 64 * 1024;
/// Most tools in one report.
pub const MAX_TOOLS: usize = 256;
const MAX_ID: usize = 128;
const MAX_HOSTNAME: usize = 253;
const MAX_VERSION: usize = 128;
const MAX_ERROR: usize = 2048;
const MAX_CHANNEL: usize = 64;

/// The rule a refused report broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report of {workstation:?}: {rule}")]
pub struct ReportRule {
    /// The workstation id as sent (shortened).
    pub workstation: String,
    /// The rule, naming the field.
    pub rule: String,
}

/// Checks a report against every rule; the first broken one is returned.
pub fn check(report: &WorkstationReport) -> Result<(), ReportRule> {
    let fail = |rule: String| ReportRule {
        workstation: report.workstation_id.chars().take(MAX_ID).collect(),
        rule,
    };
    if !is_id(&report.workstation_id) {
        return Err(fail(format!(
            "workstation_id must be 1-{MAX_ID} characters of [A-Za-z0-9._:-]"
        )));
    }
    if report.hostname.is_empty() || !is_text(&report.hostname, MAX_HOSTNAME) {
        return Err(fail(format!(
            "hostname must be 1-{MAX_HOSTNAME} printable characters"
        )));
    }
    if report.reported_at.parse::<jiff::Timestamp>().is_err() {
        return Err(fail("reported_at must be an RFC 3339 time".into()));
    }
    if report.tools.len() > MAX_TOOLS {
        return Err(fail(format!("at most {MAX_TOOLS} tools")));
    }
    if let Some(v) = &report.client_version
        && !is_text(v, MAX_VERSION)
    {
        return Err(fail("client_version too long or not printable".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for tool in &report.tools {
        if !seen.insert(tool.tool_id.as_str()) {
            return Err(fail(format!("tool {} listed twice", tool.tool_id)));
        }
        check_tool(tool).map_err(|rule| fail(format!("tool {:?}: {rule}", tool.tool_id)))?;
    }
    Ok(())
}

fn check_tool(tool: &ToolReport) -> Result<(), String> {
    if !is_valid_tool_id(&tool.tool_id) {
        return Err("tool_id must match ^[a-z0-9][a-z0-9._-]{0,63}$".into());
    }
    for (field, version) in [
        ("version", &tool.version),
        ("pending_version", &tool.pending_version),
    ] {
        if let Some(v) = version
            && (v.len() > MAX_VERSION || parse_version(v).is_err())
        {
            return Err(format!("{field} must be SemVer"));
        }
    }
    if let Some(h) = &tool.manifest_hash
        && !crate::manifest::is_sha256_hex(h)
    {
        return Err("manifest_hash must be 64 lowercase hex".into());
    }
    if let Some(e) = &tool.last_error
        && !is_text(e, MAX_ERROR)
    {
        return Err(format!(
            "last_error must be at most {MAX_ERROR} printable characters"
        ));
    }
    for (field, at) in [
        ("last_result_at", &tool.last_result_at),
        ("verified_at", &tool.verified_at),
    ] {
        if let Some(at) = at
            && at.parse::<jiff::Timestamp>().is_err()
        {
            return Err(format!("{field} must be an RFC 3339 time"));
        }
    }
    if let Some(c) = &tool.channel
        && !is_channel(c)
    {
        return Err(format!(
            "channel must be 1-{MAX_CHANNEL} characters of [a-z0-9._-]"
        ));
    }
    Ok(())
}

fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn is_channel(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_CHANNEL
        && text.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// Printable text (no control characters), at most `max` bytes.
fn is_text(text: &str, max: usize) -> bool {
    text.len() <= max && !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{Integrity, LastResult};

    type Breaker = Box<dyn Fn(&mut WorkstationReport)>;

    fn report() -> WorkstationReport {
        WorkstationReport {
            workstation_id: "ws-1".into(),
            hostname: "lab-1".into(),
            reported_at: "2026-12-01T10:00:00Z".into(),
            tools: vec![ToolReport {
                tool_id: "llama-chat".into(),
                version: Some("1.2.0".into()),
                manifest_hash: Some("a".repeat(64)),
                integrity: Integrity::Ok,
                last_result: LastResult::Ok,
                last_error: None,
                last_result_at: None,
                verified_at: None,
                channel: Some("stable".into()),
                held: false,
                pending_version: None,
            }],
            free_disk_bytes: Some(1),
            client_version: None,
        }
    }

    #[test]
    fn a_plain_report_passes_and_each_broken_field_is_named() {
        assert_eq!(check(&report()), Ok(()));
        let cases: Vec<(&str, Breaker)> = vec![
            (
                "workstation_id",
                Box::new(|r| r.workstation_id = "a b".into()),
            ),
            ("hostname", Box::new(|r| r.hostname = "x\u{1b}[31m".into())),
            (
                "reported_at",
                Box::new(|r| r.reported_at = "yesterday".into()),
            ),
            ("tool_id", Box::new(|r| r.tools[0].tool_id = "../x".into())),
            (
                "version",
                Box::new(|r| r.tools[0].version = Some("<script>".into())),
            ),
            (
                "manifest_hash",
                Box::new(|r| r.tools[0].manifest_hash = Some("zz".into())),
            ),
            (
                "last_error",
                Box::new(|r| r.tools[0].last_error = Some("e".repeat(5000))),
            ),
            (
                "channel",
                Box::new(|r| r.tools[0].channel = Some("Beta!".into())),
            ),
            ("twice", Box::new(|r| r.tools.push(r.tools[0].clone()))),
        ];
        for (field, break_it) in cases {
            let mut r = report();
            break_it(&mut r);
            let err = check(&r).unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
