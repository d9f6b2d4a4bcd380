//! `tooldelta-app`: the desktop app. All logic lives in the library.

// Release builds on Windows get no console window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> anyhow::Result<()> {
    tooldelta_app::run()
}
