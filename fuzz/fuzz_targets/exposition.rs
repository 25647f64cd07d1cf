//! The exposition parser on arbitrary bytes, in both formats: it must never panic, and every
//! series it accepts must turn into labels (or be refused for a repeated label name).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_ingest::exposition::{Entry, Format, Parser};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Prometheus, Format::OpenMetrics, Format::detect(data)] {
        let mut parser = Parser::new(data, format);
        for entry in parser.by_ref() {
            if let Ok(Entry::Sample(sample)) = entry {
                // The line scanner accepts a series syntactically; turning it into labels can
                // only fail on a repeated label name (which fails the scrape, as in Prometheus).
                if let Err(e) = sample.labels() {
                    assert!(e.contains("more than once"), "series {:?}: {e}", sample.series);
                }
            }
        }
        let _ = parser.finish();
    }
});
