//! The fuzz smoke run of `make test`: the properties of `fuzz/src/lib.rs`
//! (manifest parsing, path rules, `Content-Range` and `Range` parsing),
//! driven on stable by a seeded mutator over the fuzz seeds and the hostile
//! fixtures. `make fuzz` drives the same functions with libFuzzer's coverage
//! guidance for longer; this run keeps them honest on every `make test`.
//!
//! `TOOLDELTA_FUZZ_SMOKE_EXECS` scales the number of inputs per target;
//! `TOOLDELTA_FUZZ_SEED` replays a run (the seed is printed).

#[allow(clippy::pedantic)]
#[path = "../../fuzz/src/lib.rs"]
mod fuzz_props;

mod fault_support;

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use fault_support::{SplitMix, count_from_env, record_figures, seed_from_env};
use serde_json::json;

/// Tokens that tend to matter to these parsers, spliced in by the mutator.
const DICTIONARY: &[&str] = &[
    "..",
    "/",
    "\\",
    ":",
    "\0",
    "\u{1b}",
    "\u{85}",
    "\u{301}",
    "é",
    "CON",
    "nul",
    "COM1",
    ".",
    " ",
    "//",
    "bytes=",
    "bytes ",
    "-",
    "*",
    ",",
    "/*",
    "0",
    "1",
    "9",
    "18446744073709551615",
    "\"",
    "{",
    "}",
    "[",
    "]",
    "\"path\":",
    "\"size\":",
    "\"sha256\":",
    "\"tool_id\":",
    "\"files\":",
    "\"expires_at\":",
    "\"signature\":",
    "null",
    "1e400",
    "-1",
    "\\u0000",
];

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut dirs = vec![repo().join("fuzz/seeds").join(target)];
    if target == "manifest_parse" {
        dirs.push(repo().join("fixtures/hostile"));
    }
    let mut out = Vec::new();
    for dir in dirs {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        out.extend(entries.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

/// One random edit: flip, insert, delete, duplicate a span, splice a token,
/// or write a "interesting" integer.
fn mutate(input: &mut Vec<u8>, rng: &mut SplitMix, corpus: &[Vec<u8>]) {
    let len = input.len() as u64;
    let at = |rng: &mut SplitMix| usize::try_from(rng.below(len + 1)).unwrap();
    match rng.below(7) {
        0 if len > 0 => {
            let i = at(rng).min(input.len() - 1);
            input[i] ^= 1 << rng.below(8);
        }
        1 => {
            let i = at(rng);
            input.insert(i, rng.below(256) as u8);
        }
        2 if len > 0 => {
            let i = at(rng).min(input.len() - 1);
            let n = usize::try_from(rng.below(16)).unwrap().min(input.len() - i);
            input.drain(i..i + n);
        }
        3 if len > 0 => {
            let i = at(rng).min(input.len() - 1);
            let n = usize::try_from(rng.below(32)).unwrap().min(input.len() - i);
            let span = input[i..i + n].to_vec();
            let j = at(rng).min(input.len());
            input.splice(j..j, span);
        }
        4 => {
            let token = DICTIONARY[usize::try_from(rng.below(DICTIONARY.len() as u64)).unwrap()];
            let i = at(rng).min(input.len());
            input.splice(i..i, token.bytes());
        }
        5 => {
            // Cross-over with another input.
            let other = &corpus[usize::try_from(rng.below(corpus.len() as u64)).unwrap()];
            let cut = at(rng).min(input.len());
            let from = usize::try_from(rng.below(other.len() as u64 + 1)).unwrap();
            input.truncate(cut);
            input.extend_from_slice(&other[from.min(other.len())..]);
        }
        _ if len >= 8 => {
            let values = [0u64, 1, 2, 255, 4095, 4096, 8191, u64::MAX, u64::MAX / 2];
            let v = values[usize::try_from(rng.below(values.len() as u64)).unwrap()];
            let i = at(rng).min(input.len() - 8);
            input[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        _ => input.push(rng.below(256) as u8),
    }
}

/// Runs `execs` mutated inputs through `property`; returns the count. A
/// panic is reported with the input (hex) that caused it.
fn drive(target: &str, execs: usize, seed: u64, property: fn(&[u8])) -> usize {
    let corpus = seeds(target);
    let mut rng = SplitMix(seed ^ target.len() as u64);
    let mut done = 0;
    for input in &corpus {
        property(input);
        done += 1;
    }
    while done < execs {
        let base = &corpus[usize::try_from(rng.below(corpus.len() as u64)).unwrap()];
        let mut input = base.clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut input, &mut rng, &corpus);
        }
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| property(&input))) {
            let hex = input.iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
            panic!(
                "{target}: property failed (TOOLDELTA_FUZZ_SEED={seed}) on input {hex}: {:?}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or(panic.downcast_ref::<&str>().copied())
            );
        }
        done += 1;
    }
    done
}

fn smoke(target: &str, default_execs: usize, property: fn(&[u8])) {
    let execs = count_from_env("TOOLDELTA_FUZZ_SMOKE_EXECS", default_execs);
    let seed = seed_from_env("TOOLDELTA_FUZZ_SEED");
    eprintln!("fuzz smoke {target}: {execs} inputs, TOOLDELTA_FUZZ_SEED={seed}");
    let done = drive(target, execs, seed, property);
    record_figures(
        &format!("fuzz-smoke-{target}"),
        &json!({"target": target, "executions": done, "seed": seed}),
    );
}

#[test]
fn fuzz_smoke_manifest_parse_never_trusts_what_it_should_not() {
    smoke("manifest_parse", 5_000, fuzz_props::manifest_parse);
}

#[test]
fn fuzz_smoke_path_rules_keep_every_accepted_path_inside_the_release() {
    smoke("path_rules", 100_000, fuzz_props::path_rules);
}

#[test]
fn fuzz_smoke_content_range_resumes_only_at_the_partial_end() {
    smoke("content_range", 100_000, fuzz_props::content_range);
}

#[test]
fn fuzz_smoke_range_header_accepts_only_ranges_inside_the_file() {
    smoke("range_header", 100_000, fuzz_props::range_header);
}

#[test]
fn the_path_property_fails_on_paths_that_escape() {
    // Honesty check: the property the smoke run relies on does fail on the
    // inputs it guards against (so a rule that let them through would be caught).
    for bad in [
        "../x",
        "a/../../b",
        "/etc/passwd",
        "C:x",
        "a\\b",
        "CON",
        "x/nul.txt",
        "a\0b",
        "dir/com1.txt",
    ] {
        let caught = catch_unwind(|| fuzz_props::assert_confined(bad));
        assert!(caught.is_err(), "{bad:?} passed the confinement property");
        assert!(
            tooldelta_core::manifest::check_path(bad).is_err(),
            "{bad:?}"
        );
    }
    fuzz_props::assert_confined("models/x-Q4_K_M.gguf");
}
