//! `tooldelta-mirror`: the HQ / site mirror server.

fn main() {
    eprintln!("tooldelta-mirror: not built yet");
    std::process::exit(2);
}
