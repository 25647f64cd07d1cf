//! The remote-write decoder on arbitrary bodies (raw, and snappy-compressed so that the
//! protobuf layer is reached): it must never panic, and what it accepts must be consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_ingest::remote_write::decode_write_request;

fuzz_target!(|data: &[u8]| {
    let _ = decode_write_request(data);
    if let Ok(compressed) = snap::raw::Encoder::new().compress_vec(data)
        && let Ok(write) = decode_write_request(&compressed)
    {
        let counted: usize = write.series.iter().map(|s| s.timestamps.len()).sum();
        assert_eq!(counted, write.samples);
        for s in &write.series {
            assert_eq!(s.timestamps.len(), s.values.len());
            assert!(s.labels.metric_name().is_some());
        }
    }
});
