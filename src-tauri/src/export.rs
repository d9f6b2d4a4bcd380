//! `Export report`: a verify report as pretty JSON in the user's downloads
//! folder (home, or the temp folder, when there is none).

use std::path::PathBuf;

use tooldelta_core::ErrorKind;
use tooldelta_core::events::ErrorInfo;
use tooldelta_core::report::VerifyReport;

use crate::dto::ExportedFile;

/// Where reports go.
pub fn export_dir() -> PathBuf {
    dirs::download_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir)
}

/// Writes `report` to `tooldelta-verify-<tool>-<UTC time>.json` in [`export_dir`].
pub fn write_report(tool_id: &str, report: &VerifyReport) -> Result<ExportedFile, ErrorInfo> {
    write_report_in(&export_dir(), tool_id, report)
}

fn write_report_in(
    dir: &std::path::Path,
    tool_id: &str,
    report: &VerifyReport,
) -> Result<ExportedFile, ErrorInfo> {
    // The id goes into a file name: refuse anything but a valid tool id.
    if !tooldelta_core::manifest::is_valid_tool_id(tool_id) {
        return Err(ErrorInfo {
            kind: ErrorKind::Usage,
            message: format!("{tool_id:?} is not a valid tool id"),
            retryable: false,
            chain: Vec::new(),
            hint: None,
        });
    }
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("tooldelta-verify-{tool_id}-{stamp}.json"));
    let json = serde_json::to_vec_pretty(report).expect("reports always serialize");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, json))
        .map_err(|err| ErrorInfo {
            kind: ErrorKind::Io,
            message: format!("{tool_id}: cannot write report {}: {err}", path.display()),
            retryable: true,
            chain: Vec::new(),
            hint: None,
        })?;
    Ok(ExportedFile {
        path: path.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exported_file_is_the_report_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let report = VerifyReport {
            tool_id: "demo".into(),
            version: "1.0.0".into(),
            ok: true,
            files: vec![],
        };
        let out = write_report_in(dir.path(), "demo", &report).unwrap();
        let back: VerifyReport =
            serde_json::from_slice(&std::fs::read(&out.path).unwrap()).unwrap();
        assert_eq!(back, report);
        assert!(out.path.contains("tooldelta-verify-demo-"));
        assert_eq!(
            write_report_in(dir.path(), "../x", &report)
                .unwrap_err()
                .kind,
            "usage"
        );
    }
}
