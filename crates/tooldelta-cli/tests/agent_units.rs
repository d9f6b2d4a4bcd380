//! The shipped agent units (packaging/systemd/tooldelta-agent.service and
//! .timer) are clean under `systemd-analyze verify`, run `agent --once`, and
//! spread a fleet's checks.

use std::path::PathBuf;
use std::process::Command;

fn unit(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../packaging/systemd")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_agent_units_pass_systemd_analyze_verify() {
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        other => {
            eprintln!(
                "SKIPPED the_agent_units_pass_systemd_analyze_verify: systemd-analyze not runnable: {other:?}"
            );
            return;
        }
    }
    // verify checks that ExecStart's program exists: point it at the binary
    // built for this test; the units keep their names (the timer names the service).
    let service = unit("tooldelta-agent.service");
    assert!(service.contains("ExecStart=/usr/bin/tooldelta agent --once "));
    let dir = tempfile::tempdir().unwrap();
    let built = env!("CARGO_BIN_EXE_tooldelta");
    std::fs::write(
        dir.path().join("tooldelta-agent.service"),
        service.replace("/usr/bin/tooldelta", built),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tooldelta-agent.timer"),
        unit("tooldelta-agent.timer"),
    )
    .unwrap();
    for name in ["tooldelta-agent.service", "tooldelta-agent.timer"] {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(dir.path().join(name))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "systemd-analyze verify {name}:\n{stderr}"
        );
    }
}

#[test]
fn the_timer_is_jittered_and_the_service_is_hardened() {
    let timer = unit("tooldelta-agent.timer");
    for setting in [
        "RandomizedDelaySec=",
        "OnUnitActiveSec=",
        "Unit=tooldelta-agent.service",
    ] {
        assert!(timer.contains(setting), "the timer lacks {setting}");
    }
    let service = unit("tooldelta-agent.service");
    for setting in [
        "Type=oneshot",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/tooldelta",
    ] {
        assert!(service.contains(setting), "the service lacks {setting}");
    }
}
