//! Renders engine events on stderr: indicatif bars on a terminal (overall and
//! per file, with rate and ETA), plain lines otherwise, JSON Lines with
//! `--progress-json`. The engine knows none of this.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytesize::ByteSize;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tooldelta_core::events::{Event, Phase, Reporter, Versioned};

/// Writes one line to stderr in one system call (stderr is unbuffered, and
/// `eprintln!` writes each formatted piece separately).
macro_rules! say {
    ($($arg:tt)*) => {
        say_line(&format!($($arg)*))
    };
}

fn say_line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars on a terminal.
    Bars,
    /// One line per notable event.
    Plain,
    /// One JSON object per event (`Versioned`), on stderr.
    JsonLines,
}

impl Mode {
    /// JSON Lines when asked for, else bars on a terminal, else plain lines.
    pub fn pick(progress_json: bool) -> Self {
        if progress_json {
            Self::JsonLines
        } else if std::io::stderr().is_terminal() {
            Self::Bars
        } else {
            Self::Plain
        }
    }
}

/// A [`Reporter`] that draws on stderr.
pub struct Renderer {
    mode: Mode,
    multi: MultiProgress,
    overall: Mutex<Option<ProgressBar>>,
    files: Mutex<HashMap<String, ProgressBar>>,
    last_plain_progress: Mutex<Option<Instant>>,
}

/// Plain mode prints a progress line at most this often.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(2);

impl Renderer {
    /// A renderer in `mode`.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
            overall: Mutex::new(None),
            files: Mutex::new(HashMap::new()),
            last_plain_progress: Mutex::new(None),
        }
    }

    /// Removes every bar (before the final summary is printed).
    pub fn finish(&self) {
        if let Some(bar) = self.overall.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
        for (_, bar) in self.files.lock().expect("not poisoned").drain() {
            bar.finish_and_clear();
        }
    }

    /// A human line on stderr that does not tear the bars.
    pub fn line(&self, text: &str) {
        if self.mode == Mode::Bars {
            let _ = self.multi.println(text);
        } else {
            say!("{text}");
        }
    }

    fn bars(&self, event: &Event) {
        match event {
            Event::PlanReady { bytes_to_fetch, .. } => {
                let bar = self.multi.add(ProgressBar::new(*bytes_to_fetch));
                bar.set_style(overall_style());
                bar.set_message("total");
                *self.overall.lock().expect("not poisoned") = Some(bar);
            }
            Event::Progress { bytes_done, .. } => {
                if let Some(bar) = &*self.overall.lock().expect("not poisoned") {
                    bar.set_position(*bytes_done);
                }
            }
            Event::FileStarted {
                path,
                size,
                resume_from,
                ..
            } => {
                let bar = self.multi.add(ProgressBar::new(*size));
                bar.set_style(file_style());
                bar.set_message(path.clone());
                bar.set_position(*resume_from);
                bar.reset_eta();
                self.files
                    .lock()
                    .expect("not poisoned")
                    .insert(path.clone(), bar);
            }
            Event::FileProgress {
                path, bytes_done, ..
            } => {
                if let Some(bar) = self.files.lock().expect("not poisoned").get(path) {
                    bar.set_position(*bytes_done);
                }
            }
            Event::MirrorFetching {
                path,
                bytes_done,
                size,
                ..
            } => {
                if let Some(bar) = self.files.lock().expect("not poisoned").get(path) {
                    bar.set_message(format!(
                        "{path} ({})",
                        mirror_fetching_words(*bytes_done, *size)
                    ));
                }
            }
            Event::FileVerified { path, .. } => {
                if let Some(bar) = self.files.lock().expect("not poisoned").remove(path) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
            }
            Event::FileFailed {
                path,
                error,
                will_retry,
                ..
            } => self.line(&failed_line(path, &error.message, *will_retry)),
            Event::Phase { phase, .. } => {
                if let Some(bar) = &*self.overall.lock().expect("not poisoned") {
                    bar.set_message(phase_word(*phase));
                }
            }
            Event::Done { .. } | Event::Failed { .. } => self.finish(),
        }
    }

    fn plain(&self, event: &Event) {
        match event {
            Event::PlanReady {
                tool_id,
                from_version,
                to_version,
                files_to_fetch,
                bytes_to_fetch,
                files_reused,
                bytes_saved,
                files_to_remove,
            } => say!(
                "{tool_id}: {} -> {to_version}: fetch {files_to_fetch} file(s) ({}), reuse {files_reused} ({} saved), remove {files_to_remove}",
                from_version.as_deref().unwrap_or("(none)"),
                ByteSize::b(*bytes_to_fetch),
                ByteSize::b(*bytes_saved),
            ),
            Event::Phase { tool_id, phase } => say!("{tool_id}: {}", phase_word(*phase)),
            Event::FileStarted {
                path,
                size,
                resume_from,
                ..
            } if *resume_from > 0 => say!(
                "  fetching {path} ({}), resuming at {}",
                ByteSize::b(*size),
                ByteSize::b(*resume_from)
            ),
            Event::FileStarted { path, size, .. } => {
                say!("  fetching {path} ({})", ByteSize::b(*size));
            }
            Event::FileVerified { path, .. } => say!("  verified {path}"),
            Event::MirrorFetching {
                path,
                mirror,
                upstream,
                bytes_done,
                size,
                ..
            } => say!(
                "  {path}: {} ({mirror} from {upstream})",
                mirror_fetching_words(*bytes_done, *size)
            ),
            Event::FileFailed {
                path,
                error,
                will_retry,
                ..
            } => say!("{}", failed_line(path, &error.message, *will_retry)),
            Event::Progress {
                bytes_done,
                bytes_total,
                bytes_per_sec,
                max_rate,
                ..
            } => {
                let mut last = self.last_plain_progress.lock().expect("not poisoned");
                let now = Instant::now();
                if last.is_none_or(|t| now.duration_since(t) >= PLAIN_PROGRESS_EVERY)
                    || bytes_done == bytes_total
                {
                    *last = Some(now);
                    let limited = max_rate
                        .map(|cap| format!(", limited to {}/s", ByteSize::b(cap)))
                        .unwrap_or_default();
                    say!(
                        "  {} / {} ({}/s{limited})",
                        ByteSize::b(*bytes_done),
                        ByteSize::b(*bytes_total),
                        ByteSize::b(*bytes_per_sec)
                    );
                }
            }
            Event::FileProgress { .. } | Event::Done { .. } | Event::Failed { .. } => {}
        }
    }

    fn json_lines(event: &Event) {
        let mut err = std::io::stderr().lock();
        if serde_json::to_writer(&mut err, &Versioned::from(event)).is_ok() {
            let _ = writeln!(err);
        }
    }
}

impl Reporter for Renderer {
    fn report(&self, event: &Event) {
        match self.mode {
            Mode::Bars => self.bars(event),
            Mode::Plain => self.plain(event),
            Mode::JsonLines => Self::json_lines(event),
        }
    }
}

fn failed_line(path: &str, message: &str, will_retry: bool) -> String {
    let next = if will_retry { " (trying again)" } else { "" };
    format!("  {path}: {message}{next}")
}

/// `site mirror fetching from upstream: 37 %`, the same words on bars and lines.
fn mirror_fetching_words(bytes_done: u64, size: u64) -> String {
    let percent = tooldelta_core::pending::UpstreamProgress {
        received: bytes_done,
        total: Some(size),
    }
    .percent()
    .unwrap_or(100);
    format!(
        "site mirror fetching from upstream: {percent} % of {}",
        ByteSize::b(size)
    )
}

fn phase_word(phase: Phase) -> &'static str {
    match phase {
        Phase::Manifest => "fetching and verifying the manifest",
        Phase::Plan => "planning",
        Phase::Fetch => "downloading",
        Phase::Stage => "staging the release",
        Phase::Activate => "activating",
        Phase::Cleanup => "cleaning up",
        Phase::Verify => "verifying",
        Phase::Repair => "repairing",
    }
}

fn overall_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:>12} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .expect("a valid template")
    .progress_chars("=> ")
}

fn file_style() -> ProgressStyle {
    ProgressStyle::with_template("  {wide_msg} [{bar:20}] {bytes}/{total_bytes} {bytes_per_sec}")
        .expect("a valid template")
        .progress_chars("=> ")
}
