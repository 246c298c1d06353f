//! Fuzz target `policy`: every input through [`sluse_fuzz::policy::check`], which panics on a broken
//! invariant. The same check runs over the committed corpus in the root crate's `cargo test`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluse_fuzz::policy::check(data));
