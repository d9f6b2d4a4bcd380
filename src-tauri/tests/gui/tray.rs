//! The tray icon as a desktop's tray host sees it: the StatusNotifierItem
//! that libayatana-appindicator exports on the session bus (its label) and
//! its menu (`com.canonical.dbusmenu`), driven with `dbus-send` on a private
//! bus. **Update all** updates the pending tool through the window's own
//! Update all; **Quit** ends the app.

use std::process::Command;
use std::time::Duration;

use crate::fixture::{Fixture, files};
use crate::{Gui, card, procs};

/// The object the tray exports for the tray id `tooldelta` (tray-icon's naming).
const TRAY_ITEM: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_tooldelta";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, tauri-driver and the workspace binaries: make test-gui"]
async fn the_trays_update_all_updates_the_pending_tool_and_quit_ends_the_app() {
    let fixture = Fixture::new(&["1.0.0", "1.1.0"], "1.0.0").await;
    let (_bus, bus) = procs::session_bus();
    let gui = Gui::open(&fixture, &[], &[("DBUS_SESSION_BUS_ADDRESS", bus.clone())]).await;
    let s = gui.s();
    s.wait_text(&card("installed-version"), "1.0.0", |t| t == "1.0.0")
        .await;
    wait_tray(&bus, "1").await;

    click(&bus, "Update all");
    s.wait_text(&card("installed-version"), "1.1.0", |t| t == "1.1.0")
        .await;
    wait_tray(&bus, "").await;
    assert_eq!(files(&fixture.current()), files(&fixture.tree("1.1.0")));

    click(&bus, "Quit");
    for _ in 0..100 {
        if tray_label(&bus).is_none() {
            return; // the app left the bus: it ended (the session goes with it)
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the app still runs after the tray's Quit");
}

/// `dbus-send --print-reply` on `bus`; `None` when the call fails.
fn send(bus: &str, args: &[&str]) -> Option<String> {
    Command::new("dbus-send")
        .arg(format!("--bus={bus}"))
        .args(["--print-reply", "--reply-timeout=2000"])
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// `path` called on whichever connection of `bus` answers for it.
fn call_tray(bus: &str, path: &str, call: &[&str]) -> Option<(String, String)> {
    let names = send(
        bus,
        &[
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.ListNames",
        ],
    )?;
    names
        .split('"')
        .filter(|n| n.starts_with(":1."))
        .find_map(|name| {
            let dest = format!("--dest={name}");
            let args: Vec<&str> = [dest.as_str(), path]
                .into_iter()
                .chain(call.iter().copied())
                .collect();
            send(bus, &args).map(|reply| (name.to_owned(), reply))
        })
}

/// The label next to the app's tray icon (`XAyatanaLabel`); `None` while no
/// connection exports the tray.
pub fn tray_label(bus: &str) -> Option<String> {
    let (_, reply) = call_tray(
        bus,
        TRAY_ITEM,
        &[
            "org.freedesktop.DBus.Properties.Get",
            "string:org.kde.StatusNotifierItem",
            "string:XAyatanaLabel",
        ],
    )?;
    // `variant       string "42 %"`
    let start = reply.find("string \"")? + "string \"".len();
    let end = reply[start..].find('"')? + start;
    Some(reply[start..end].to_owned())
}

/// Clicks the tray menu's item `label`, as a tray host does.
fn click(bus: &str, label: &str) {
    let menu = format!("{TRAY_ITEM}/Menu");
    let (name, layout) = call_tray(
        bus,
        &menu,
        &[
            "com.canonical.dbusmenu.GetLayout",
            "int32:0",
            "int32:-1",
            "array:string:",
        ],
    )
    .expect("the tray exports its menu");
    // Each item is `struct { int32 ID; [properties: "label" …] }`.
    let at = layout
        .find(&format!("string \"{label}\""))
        .unwrap_or_else(|| panic!("no {label:?} in the tray menu: {layout}"));
    let before = &layout[..at];
    let id_at = before.rfind("int32 ").expect("an item id") + "int32 ".len();
    let id: String = before[id_at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    send(
        bus,
        &[
            &format!("--dest={name}"),
            &menu,
            "com.canonical.dbusmenu.Event",
            &format!("int32:{id}"),
            "string:clicked",
            "variant:int32:0",
            "uint32:0",
        ],
    )
    .unwrap_or_else(|| panic!("clicking {label:?} in the tray menu failed"));
}

/// Waits (bounded) until the app's tray label is `want`.
pub async fn wait_tray(bus: &str, want: &str) {
    let mut label = None;
    for _ in 0..100 {
        label = tray_label(bus);
        if label.as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the tray label is {label:?}, not {want:?}");
}
