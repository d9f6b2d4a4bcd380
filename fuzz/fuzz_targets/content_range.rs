//! `Content-Range` answers and the resume decision built on them.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tooldelta_fuzz::content_range(data));
