//! Manifest paths: the rules that keep every file inside its release.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tooldelta_fuzz::path_rules(data));
