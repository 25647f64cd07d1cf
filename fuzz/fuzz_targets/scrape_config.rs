//! The scrape configuration loader on arbitrary text: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_ingest::scrape::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text);
    }
});
