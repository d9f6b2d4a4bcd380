//! Just enough W3C WebDriver to drive a real headless Chromium through
//! Debian's `chromedriver`: open a page, run a script, take a screenshot.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tooldelta_testkit::ChildGuard;

use super::{free_port, http};

/// A browser session; the driver (and so the browser) ends when dropped.
pub struct Browser {
    port: u16,
    session: String,
    _driver: ChildGuard,
}

fn driver_path() -> &'static str {
    for path in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if Path::new(path).is_file() {
            return path;
        }
    }
    panic!(
        "chromedriver is not installed: run scripts/install-deps.sh (Debian packages chromium, chromium-driver)"
    );
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session.
    pub fn start() -> Self {
        let port = free_port();
        let driver = ChildGuard::spawn(
            Command::new(driver_path())
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while http::get(port, "/status").status != 200 {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,900"]
            }
        }}});
        let reply = call(port, "POST", "/session", &caps);
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {reply}"))
            .to_owned();
        Self {
            port,
            session,
            _driver: driver,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: &Value) -> Value {
        call(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )["value"]
            .clone()
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.cmd("POST", "/url", &json!({"url": url}));
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            &json!({"script": script, "args": []}),
        )
    }

    /// Polls `script` until it returns `true` (a bound against hangs).
    pub fn wait_until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.eval(script) != Value::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Saves a PNG screenshot.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let b64 = self.cmd("GET", "/screenshot", &Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http::request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            "",
            b"",
        );
    }
}

fn call(port: u16, method: &str, path: &str, body: &Value) -> Value {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let reply = http::request(port, method, path, "", &bytes);
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}: {}", reply.text()))
}
