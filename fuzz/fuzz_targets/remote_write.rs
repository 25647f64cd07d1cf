//! The remote-write decoders (1.0 and 2.0) on arbitrary bodies (raw, and snappy-compressed so
//! that the protobuf layer is reached): they must never panic, and what they accept must be
//! consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_ingest::remote_write::{DecodedWrite, decode_write_request, decode_write_request_v2};

fn check(write: &DecodedWrite) {
    let counted: usize = write.series.iter().map(|s| s.timestamps.len()).sum();
    assert_eq!(counted, write.samples);
    for s in &write.series {
        assert_eq!(s.timestamps.len(), s.values.len());
        assert!(s.start_timestamps.is_empty() || s.start_timestamps.len() == s.timestamps.len());
        assert!(s.labels.metric_name().is_some());
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = decode_write_request(data);
    let _ = decode_write_request_v2(data);
    if let Ok(compressed) = snap::raw::Encoder::new().compress_vec(data) {
        if let Ok(write) = decode_write_request(&compressed) {
            check(&write);
        }
        if let Ok(write) = decode_write_request_v2(&compressed) {
            check(&write);
        }
    }
});
