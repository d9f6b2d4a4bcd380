//! A real nginx (Debian `nginx-light`) as a child process with its own
//! prefix, config, pid and logs, on a free port; killed when dropped. It runs
//! with `master_process off`: one process, so a kill leaves no orphaned worker.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where nginx is looked for: `$NGINX`, then the Debian path, then others.
pub fn nginx_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NGINX") {
        return PathBuf::from(path);
    }
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "nginx not found (looked at $NGINX, /usr/sbin/nginx, /usr/local/sbin/nginx, /usr/bin/nginx): \
         install Debian's nginx-light (`make test` does it through scripts/install-deps.sh)"
    );
}

/// A running nginx, killed on drop.
pub struct Nginx {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Serves `root` (an export) with the `server` block of the project's
    /// `docs/nginx.conf`, changed only in port and root.
    pub fn serve_export(root: &Path) -> Self {
        Self::serve_export_with(root, "")
    }

    /// [`Nginx::serve_export`] with extra directives in the `server` block
    /// (e.g. `max_ranges 0;`, an nginx that ignores Range).
    pub fn serve_export_with(root: &Path, extra: &str) -> Self {
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/nginx.conf"),
        )
        .expect("docs/nginx.conf is shipped");
        assert!(
            shipped.contains("listen 8080;"),
            "docs/nginx.conf must contain `listen 8080;`"
        );
        // The free port may be taken by someone else before nginx binds it:
        // try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let server = shipped
                .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
                .replace("/srv/tooldelta/export", root.to_str().unwrap())
                .replace("sendfile on;", &format!("sendfile on;\n    {extra}"));
            match Self::start(&server, port) {
                Ok(nginx) => return nginx,
                Err(log) if log.contains("in use") => last = log,
                Err(log) => panic!("nginx did not start: {log}"),
            }
        }
        panic!("nginx found no free port: {last}");
    }

    /// Starts nginx with one `server` block inside a minimal `http` block;
    /// `Err` carries its error log when it exits at once.
    pub fn start(server: &str, port: u16) -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().to_owned();
        for sub in ["logs", "tmp"] {
            std::fs::create_dir_all(prefix.join(sub)).unwrap();
        }
        let conf = format!(
            "{user}daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n\
             access_log {p}/logs/access.log;\n  client_body_temp_path {p}/tmp/body;\n\
             proxy_temp_path {p}/tmp/proxy;\n  fastcgi_temp_path {p}/tmp/fastcgi;\n\
             uwsgi_temp_path {p}/tmp/uwsgi;\n  scgi_temp_path {p}/tmp/scgi;\n{server}\n}}\n",
            p = prefix.display(),
            user = user_line(),
        );
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(prefix.join("logs/error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Self { child, port, dir };
        nginx.wait_ready()?;
        Ok(nginx)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("nginx exited ({status}): {}", self.error_log()));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nginx did not listen on port {} within 20 s", self.port);
    }

    /// nginx's error log, for assertion messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }

    /// nginx's access log (combined format: status, then body bytes sent).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/access.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// As root, nginx's workers would drop to `nobody` and could not read a
/// private temp folder: keep them as the caller.
fn user_line() -> &'static str {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        "user root;\n"
    } else {
        ""
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
