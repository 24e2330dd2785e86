#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| policywatch_fuzz::statements_json(data));
