//! `Cpr::parse` and `Cpr`'s `Deserialize` on arbitrary strings: never a panic; a number is accepted
//! only as 10 ASCII digits (one `-` or space after the 6th allowed, surrounding whitespace ignored)
//! that encode a real birth date under the century rule; every spelling of it is the same number
//! with the same pseudonym; and nothing printed — `Debug`, `Display`, errors, serde messages —
//! ever shows the digits.

use std::sync::OnceLock;

use jiff::civil::Date;
use sluse::cpr::{Cpr, CprError, PseudonymKey};

/// The fixed masks `Cpr` prints instead of the number.
const DEBUG_MASK: &str = "Cpr(**********)";
const DISPLAY_MASK: &str = "[cpr]";

/// Checks one input (its bytes as UTF-8, and as JSON).
pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    check_json(data);
}

fn key() -> &'static PseudonymKey {
    static KEY: OnceLock<PseudonymKey> = OnceLock::new();
    KEY.get_or_init(|| match PseudonymKey::from_bytes(&[0x5a; 32]) {
        Ok(key) => key,
        Err(err) => panic!("a 32-byte key is refused: {err}"),
    })
}

fn check_text(text: &str) {
    let parsed = Cpr::parse(text);
    assert_eq!(text.parse::<Cpr>(), parsed, "FromStr and parse disagree");

    // What the input would be if it is a number: 10 ASCII digits after taking out the separator.
    let trimmed = text.trim();
    let digits: Option<String> = match trimmed.len() {
        10 => Some(trimmed.to_owned()),
        11 if matches!(trimmed.as_bytes()[6], b'-' | b' ') => {
            Some(format!("{}{}", &trimmed[..6], &trimmed[7..]))
        }
        _ => None,
    }
    .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()));

    match &parsed {
        Ok(cpr) => {
            let digits = digits.unwrap_or_else(|| panic!("accepted {text:?}: not 10 digits"));
            assert_eq!(Some(cpr.birth_date()), birth_date(&digits), "{text:?}");
            assert_eq!(format!("{cpr:?}"), DEBUG_MASK);
            assert_eq!(format!("{cpr}"), DISPLAY_MASK);
            assert_eq!(format!("{:?}", Some(cpr)), format!("Some({DEBUG_MASK})"));
            assert_eq!(cpr.age_on(cpr.birth_date()), 0);
            // Every spelling is the same number, with the same pseudonym.
            let (date_part, serial) = digits.split_at(6);
            for spelling in [
                digits.clone(),
                format!("{date_part}-{serial}"),
                format!("{date_part} {serial}"),
            ] {
                let again = Cpr::parse(&spelling).unwrap_or_else(|e| panic!("{spelling:?}: {e}"));
                assert_eq!(&again, cpr, "{text:?} vs {spelling:?}");
                assert_eq!(again.pseudonym(key()), cpr.pseudonym(key()));
            }
        }
        Err(err) => {
            // Refused only for the shape, or for a date that does not exist.
            match (&digits, err) {
                (None, CprError::Format) => {}
                (Some(d), CprError::BirthDate) => {
                    assert_eq!(birth_date(d), None, "{text:?} refused with a real date");
                }
                (d, e) => panic!("{text:?} refused with {e:?} (digits {d:?})"),
            }
            assert!(
                ["expected 10 digits as DDMMYY-SSSS", "invalid birth date"]
                    .contains(&err.to_string().as_str()),
                "{err}"
            );
        }
    }

    // The serde form agrees with `parse`, and its error never shows the input's digits.
    let json = match serde_json::to_string(text) {
        Ok(json) => json,
        Err(err) => panic!("cannot encode a string as JSON: {err}"),
    };
    match serde_json::from_str::<Cpr>(&json) {
        Ok(cpr) => assert_eq!(Ok(cpr), parsed, "{text:?}"),
        Err(err) => {
            assert!(
                parsed.is_err(),
                "{text:?}: parse accepts, serde refuses: {err}"
            );
            assert_no_digits_of(text, &err);
        }
    }
}

/// Any JSON (a string, a number, an object…) as a `Cpr`: accepted only as a string `parse` accepts.
fn check_json(data: &[u8]) {
    match serde_json::from_slice::<Cpr>(data) {
        Ok(cpr) => {
            let text: String = match serde_json::from_slice(data) {
                Ok(text) => text,
                Err(err) => panic!("accepted a JSON value that is no string: {err}"),
            };
            assert_eq!(Cpr::parse(&text), Ok(cpr));
        }
        Err(err) => assert_no_digits_of(&String::from_utf8_lossy(data), &err),
    }
}

/// The birth date the digits encode under the century rule of `src/cpr.rs`, written again here
/// from its documentation: 7th digit 0–3 → 1900s; 4 or 9 → 2000s for YY ≤ 36, else 1900s; 5–8 →
/// 2000s for YY ≤ 57, else 1800s.
fn birth_date(digits: &str) -> Option<Date> {
    let n = |i: usize| i16::from(digits.as_bytes()[i] - b'0');
    let (day, month, yy, seventh) = (n(0) * 10 + n(1), n(2) * 10 + n(3), n(4) * 10 + n(5), n(6));
    let century = match seventh {
        0..=3 => 1900,
        4 | 9 => {
            if yy <= 36 {
                2000
            } else {
                1900
            }
        }
        _ => {
            if yy <= 57 {
                2000
            } else {
                1800
            }
        }
    };
    Date::new(
        century + yy,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

/// A serde error about the value must not show any run of 4 or more digits of the input (its own
/// "at line L column C" suffix aside). Syntax errors are serde_json's own fixed messages (one names
/// the range `\u0000-\u001F`), never the input.
fn assert_no_digits_of(input: &str, err: &serde_json::Error) {
    if !err.is_data() {
        return;
    }
    let message = err.to_string();
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |at| &message[..at]);
    for run in input
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 4)
    {
        assert!(
            !message.contains(run),
            "{message:?} shows `{run}` of the input"
        );
    }
}
