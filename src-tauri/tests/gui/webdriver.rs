//! A small W3C WebDriver client over HTTP, enough to drive the app through
//! tauri-driver: find, click, read text and attributes, run a script, take
//! screenshots. Waits are bounded polls, never timed assertions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `wait_*` polls before giving up (a guard against hangs, not a measurement).
const WAIT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(200);

pub struct Session {
    http: reqwest::Client,
    base: String,
    id: String,
}

#[derive(Clone)]
pub struct Element(String);

impl Session {
    /// Opens the app `binary` with `args` through the driver on `port`.
    pub async fn start(port: u16, binary: &Path, args: &[&str]) -> Session {
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": binary, "args": args }}}});
        Self::create(port, caps).await
    }

    /// A session on the app a driver on `port` is attached to
    /// (`WebKitWebDriver --target`): it drives that process, starts none.
    #[allow(dead_code)] // the package test's; this file is shared with it
    pub async fn attach(port: u16) -> Session {
        Self::create(port, json!({"capabilities": {"alwaysMatch": {}}})).await
    }

    async fn create(port: u16, caps: Value) -> Session {
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let v = send(
            &http,
            reqwest::Method::POST,
            &format!("{base}/session"),
            Some(caps),
        )
        .await;
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Session { http, base, id }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.id);
        send(&self.http, method, &url, body).await
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()?
            .first()
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element(id.to_owned()))
    }

    pub async fn text(&self, el: &Element) -> String {
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/text", el.0),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn click(&self, el: &Element) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{}/click", el.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn enabled(&self, el: &Element) -> bool {
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/enabled", el.0),
                None,
            )
            .await;
        v.as_bool().unwrap_or(false)
    }

    /// Runs `script` in the page and returns its value.
    pub async fn exec(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs `script` asynchronously: it ends by calling `arguments[0]` with its result.
    pub async fn exec_async(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Moves the window to the top-left corner and gives it `width`×`height`.
    pub async fn set_window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"x": 0, "y": 0, "width": width, "height": height})),
        )
        .await;
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.exec("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        for _ in 0..(WAIT.as_millis() / POLL.as_millis()) {
            if let Some(el) = self.find(css).await {
                return el;
            }
            tokio::time::sleep(POLL).await;
        }
        let text = self.page_text().await;
        self.screenshot("failure").await;
        panic!("no element {css} after {WAIT:?}; page text (screenshot failure.png):\n{text}");
    }

    /// Waits until the text of `css` satisfies `ok`; returns that text.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..(WAIT.as_millis() / POLL.as_millis()) {
            if let Some(el) = self.find(css).await {
                last = self.text(&el).await;
                if ok(&last) {
                    return last;
                }
            }
            tokio::time::sleep(POLL).await;
        }
        let text = self.page_text().await;
        self.screenshot("failure").await;
        panic!(
            "{css} never showed {what} within {WAIT:?}; last text: {last:?}; \
             page text (screenshot failure.png):\n{text}"
        );
    }

    /// Saves a PNG of the window to `target/gui-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot is base64"))
            .expect("screenshot decodes");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Closes the app.
    pub async fn close(self) {
        self.cmd(reqwest::Method::DELETE, "", None).await;
    }
}

pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/gui-screenshots")
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method.clone(), url);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {url}: HTTP {status}: {text}");
    v["value"].clone()
}
