//! Embeds the web UI. `generate_context!` refuses to compile when
//! `frontendDist` is missing, and `cargo build --workspace` can run before the
//! UI was built (`make app-ui`), so a placeholder page stands in; the real UI
//! replaces it the next time `ui/` is built.

use std::path::Path;

const PLACEHOLDER: &str = "<!doctype html><meta charset=utf-8><title>tooldelta</title>\
<p>The tooldelta UI was not built. Run <code>make app</code>.</p>\n";

fn main() {
    let dist = Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(dist).expect("create ui/dist");
        std::fs::write(dist.join("index.html"), PLACEHOLDER)
            .expect("write placeholder ui/dist/index.html");
    }
    tauri_build::build();
}
