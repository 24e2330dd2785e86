#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| policywatch_fuzz::hansard_json(data));
