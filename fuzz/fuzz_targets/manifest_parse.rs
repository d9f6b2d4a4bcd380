//! Manifest bytes from a hostile mirror: parse, rules, hash, verification.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tooldelta_fuzz::manifest_parse(data));
