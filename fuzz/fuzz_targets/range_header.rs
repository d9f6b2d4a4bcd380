//! `Range` request headers as the mirror parses them (http-range-header).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tooldelta_fuzz::range_header(data));
