//! The fuzz targets' committed inputs, each run through the same check as its fuzz target: the
//! checks are the files of `fuzz/src/`, compiled in here by path, and the inputs are every file of
//! `fuzz/corpus/<target>/` — the minimised corpus of the runs so far, crashes that were fixed
//! included — so that what fuzzing found once stays fixed under a plain `cargo test`. How to run
//! the fuzzers: `fuzz/README.md`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use sluse::policy::PolicyBundle;

#[path = "../../fuzz/src/cpr.rs"]
mod cpr;
#[path = "../../fuzz/src/jwt.rs"]
mod jwt;
#[path = "../../fuzz/src/policy.rs"]
mod policy;
#[path = "../../fuzz/src/redact.rs"]
mod redact;
#[path = "../../fuzz/src/scrub.rs"]
mod scrub;
#[path = "../../fuzz/src/shipped.rs"]
mod shipped;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs every committed input of `target` through `check`; fails listing each input that panics.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = repo().join("fuzz/corpus").join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    inputs.sort();
    assert!(
        !inputs.is_empty(),
        "no committed inputs in {}",
        dir.display()
    );
    let failed: Vec<String> = inputs
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "fuzz check `{target}` fails on {failed:#?}"
    );
}

#[test]
fn every_committed_cpr_input_passes_its_fuzz_check() {
    replay("cpr", cpr::check);
}

#[test]
fn every_committed_policy_input_passes_its_fuzz_check() {
    replay("policy", policy::check);
}

#[test]
fn every_committed_redact_input_passes_its_fuzz_check() {
    replay("redact", redact::check);
}

#[test]
fn every_committed_scrub_input_passes_its_fuzz_check() {
    replay("scrub", scrub::check);
}

#[test]
fn every_committed_jwt_input_passes_its_fuzz_check() {
    replay("jwt", jwt::check);
}

#[test]
fn the_fuzz_targets_compile_in_every_shipped_policy_file() {
    let dir = repo().join("policies");
    let mut on_disk = Vec::new();
    for sub in ["", "categories", "flows"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_file() && name.ends_with(".toml") {
                on_disk.push(if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                });
            }
        }
    }
    on_disk.sort();
    let compiled_in: Vec<&str> = shipped::FILES.iter().map(|(rel, _)| *rel).collect();
    assert_eq!(compiled_in, on_disk, "update fuzz/src/shipped.rs");
    assert_eq!(
        shipped::bundle().version(),
        PolicyBundle::load(&dir).unwrap().version()
    );
}

/// The `jwt` check does reach acceptance: a well-formed token signed with either fixed key passes,
/// so the fuzzer's "accepted only if validly signed" assertions are not vacuous.
#[test]
fn the_jwt_check_accepts_a_token_signed_with_its_keys() {
    let claims = serde_json::json!({
        "iss": jwt::ISSUER, "aud": [jwt::AUDIENCE], "sub": "jonas.kp", "dept": jwt::DEPARTMENTS[0],
        "role": "contact_person", "exp": jwt::NOW + 3600,
    })
    .to_string();
    let ed = br#"{"alg":"EdDSA","kid":"fuzz-ed"}"#;
    let rsa = br#"{"alg":"RS256","kid":"fuzz-rsa"}"#;
    assert!(jwt::check_signed(ed, claims.as_bytes(), false));
    assert!(jwt::check_signed(rsa, claims.as_bytes(), true));
    assert!(!jwt::check_signed(rsa, claims.as_bytes(), false));
}
