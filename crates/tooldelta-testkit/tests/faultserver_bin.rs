//! The standalone `tooldelta-faultserver` binary: announces its URL, applies
//! its command-line faults, and exits cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Fixture, assert_bytes, client};
use tooldelta_testkit::ChildGuard;

#[tokio::test]
async fn binary_serves_a_folder_with_faults_and_stops_on_sigterm() {
    let f = Fixture::new();
    let mut child = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_tooldelta-faultserver"))
            .arg("--root")
            .arg(f.dir.path())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--ignore-range",
                "--throttle",
                "4000000",
            ])
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    BufReader::new(child.child_mut().stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let resp = client()
        .get(format!("{url}{}", f.route))
        .header("range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "--ignore-range must answer 200");
    assert_bytes(&resp.bytes().await.unwrap(), &f.data);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let code = child.wait_timeout(std::time::Duration::from_secs(60));
    assert_eq!(code, Some(0));
}
