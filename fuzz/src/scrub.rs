//! `scrub` on arbitrary text: never a panic, idempotent, and nothing left that looks like a CPR
//! number, a phone number (8 or more digits) or an e-mail address — the checks of the property
//! tests in `src/redact/tests.rs`, made to hold for any text: dates (`2026-11-29`) survive scrubbing
//! by design, so they are set aside before the digit runs are counted.

use std::sync::OnceLock;

use regex::Regex;
use sluse::redact::{CPR_MARKER, EMAIL_MARKER, PHONE_MARKER, scrub};

/// Checks one input (its bytes as UTF-8).
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = scrub(text);
    assert_eq!(scrub(&once), once, "not idempotent on {text:?}");
    let found = leaks(&once);
    assert!(
        found.is_empty(),
        "{text:?} → {once:?} still holds {found:?}"
    );
    // Scrubbing only replaces: every character kept is in the input, in order.
    let stripped = [CPR_MARKER, EMAIL_MARKER, PHONE_MARKER]
        .iter()
        .fold(once.to_string(), |acc, marker| acc.replace(marker, ""));
    let mut rest = text.chars();
    for c in stripped.chars() {
        assert!(
            rest.any(|t| t == c),
            "{text:?} → {once:?}: `{c}` came from nowhere"
        );
    }
}

struct Patterns {
    /// The property tests' CPR shape.
    cpr: Regex,
    /// The property tests' 8 digits in a row.
    eight: Regex,
    /// The property tests' digit run (digits joined by at most one space or dash).
    run: Regex,
    /// The property tests' e-mail address, with at least one ASCII letter or digit in the local
    /// part (an address like `._@b.dk` has no letter or digit in it and is kept by design).
    email: Regex,
    /// A date the scrubber keeps: `YYYY-MM-DD`, `DD-MM-YYYY` or `DD.MM.YYYY` in ASCII digits.
    date: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let re = |pattern: &str| match Regex::new(pattern) {
            Ok(re) => re,
            Err(err) => panic!("{pattern}: {err}"),
        };
        Patterns {
            cpr: re(r"\d{6}[ -]?\d{4}"),
            eight: re(r"\d{8}"),
            run: re(r"\d(?:[ -]?\d)*"),
            email: re(
                r"[A-Za-z0-9._%+-]*[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
            ),
            date: re(concat!(
                r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])",
                r"|(?:0[1-9]|[12][0-9]|3[01])-(?:0[1-9]|1[0-2])-(?:19|20)[0-9]{2}",
                r"|(?:0[1-9]|[12][0-9]|3[01])\.(?:0[1-9]|1[0-2])\.(?:19|20)[0-9]{2}",
            )),
        }
    })
}

/// What in scrubbed text still looks like a CPR number, a phone number or an e-mail address.
pub fn leaks(text: &str) -> Vec<String> {
    let p = patterns();
    let mut found: Vec<String> = p
        .cpr
        .find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect();
    found.extend(p.eight.find_iter(text).map(|m| m.as_str().to_owned()));
    found.extend(p.email.find_iter(text).map(|m| m.as_str().to_owned()));
    // Dates survive by design: set each aside (as a letter) before counting the digits of a run.
    let undated = p.date.replace_all(text, "D");
    found.extend(
        p.run
            .find_iter(&undated)
            .map(|m| m.as_str())
            .filter(|m| m.chars().filter(|c| c.is_numeric()).count() >= 8)
            .map(str::to_owned),
    );
    found
}
