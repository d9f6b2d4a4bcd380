//! Sending a report to the workstation's mirrors: the one function the agent
//! and `tooldelta report` call.

use std::time::Duration;

use super::WorkstationReport;
use crate::api;
use crate::engine::Engine;
use crate::error::UpdateError;

/// How long one mirror may take to accept a report.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a report was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report could not be built from the installed state.
    #[error(transparent)]
    Build(#[from] UpdateError),
    /// No mirror is configured.
    #[error("report: no mirror: pass --mirror URL or set `mirrors` in the settings")]
    NoMirror,
    /// A mirror refused the report (bad token, rate limit, a broken rule).
    #[error("report: {url} refused it: HTTP {status}: {message}")]
    Refused {
        /// The report route.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The mirror's explanation.
        message: String,
    },
    /// No mirror could be reached (every one failed; the last cause is kept).
    #[error("report: {url}: {cause}")]
    Unreachable {
        /// The last report route tried.
        url: String,
        /// Why it failed.
        cause: String,
    },
}

impl ReportError {
    /// The class of the failure (the CLI's exit code follows it).
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            Self::Build(e) => e.kind(),
            Self::Refused { status, .. } if *status == 429 || *status >= 500 => {
                crate::ErrorKind::Network
            }
            Self::NoMirror | Self::Refused { .. } => crate::ErrorKind::Input,
            Self::Unreachable { .. } => crate::ErrorKind::Network,
        }
    }

    /// Whether sending again later can help (a mirror down, a rate limit).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Build(e) => e.retryable(),
            _ => self.kind() == crate::ErrorKind::Network,
        }
    }
}

/// The report route of a mirror base URL.
pub fn report_url(mirror: &str) -> String {
    format!("{}/{}", mirror.trim_end_matches('/'), api::REPORTS)
}

/// Builds this workstation's report from the installed state and sends it to
/// the engine's mirrors in order (the next one on connection errors, 404 and
/// 5xx), with `token` as a bearer token when given. Returns what was sent.
///
/// The agent calls this after each cycle:
/// `tooldelta_core::fleet::send_report(&engine, settings.report_token.as_deref()).await`.
pub async fn send_report(
    engine: &Engine,
    token: Option<&str>,
) -> Result<WorkstationReport, ReportError> {
    let report = engine.fleet_report()?;
    let mirrors = engine.config().mirrors.clone();
    if mirrors.is_empty() {
        return Err(ReportError::NoMirror);
    }
    let body = serde_json::to_vec(&report).expect("reports serialize");
    let mut last = None;
    for mirror in &mirrors {
        let url = report_url(mirror);
        match post(engine, &url, &body, token).await {
            Ok(()) => return Ok(report),
            Err(e @ ReportError::Refused { status, .. }) if status != 404 && status < 500 => {
                return Err(e);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one mirror was tried"))
}

async fn post(
    engine: &Engine,
    url: &str,
    body: &[u8],
    token: Option<&str>,
) -> Result<(), ReportError> {
    let unreachable = |cause: String| ReportError::Unreachable {
        url: url.to_owned(),
        cause,
    };
    let client = engine.http_client_for(url).map_err(unreachable)?;
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .timeout(SEND_TIMEOUT)
        .body(body.to_vec());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(crate::explain::explain(&e).line))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    // The explanation is bounded: a mirror's error body is one short line.
    let text = response.text().await.unwrap_or_default();
    Err(ReportError::Refused {
        url: url.to_owned(),
        status: status.as_u16(),
        message: text.chars().take(300).collect::<String>().trim().to_owned(),
    })
}
