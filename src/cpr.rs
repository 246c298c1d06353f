//! The Danish CPR number (personnummer): parsed once at the edge, never printed.
//!
//! A `Cpr` can only be built by `Cpr::parse`, which checks the shape and the birth date (with the
//! century taken from the 7th digit). Its `Debug` and `Display` print a mask, and no error in this
//! module echoes the input, so a CPR number cannot leak into a log line by accident. Logs and
//! statistics use a keyed `Pseudonym` instead.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use ring::hmac;
use serde::{Deserialize, Deserializer, Serialize, de};

/// Why a string is not a CPR number, or a key cannot pseudonymise one. The messages never contain
/// the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CprError {
    /// Not 10 digits, optionally split after the 6th by one dash or one space.
    #[error("expected 10 digits as DDMMYY-SSSS")]
    Format,
    /// The 10 digits do not encode a real birth date (e.g. 31 April, or 29 February in a
    /// non-leap year once the century is known).
    #[error("invalid birth date")]
    BirthDate,
    /// A [`PseudonymKey`] shorter than [`PSEUDONYM_KEY_MIN_LEN`] bytes.
    #[error("pseudonym key must be at least 32 bytes")]
    KeyTooShort,
}

/// A valid Danish CPR number.
///
/// `Debug` prints `Cpr(**********)` and `Display` prints `[cpr]`; the digits are reachable only
/// through the crate-internal `Cpr::expose_digits`. There is deliberately no `Serialize`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cpr {
    // INVARIANT: exactly 10 ASCII digits, the canonical form without a separator, and `birth`
    // is the date they encode under the century rule.
    digits: String,
    birth: Date,
}

impl Cpr {
    /// Parses `DDMMYY-SSSS`, `DDMMYYSSSS` or `DDMMYY SSSS`, ignoring surrounding whitespace.
    ///
    /// The birth date must exist in the century given by the 7th digit (the first of `SSSS`):
    /// 0–3 → 1900s; 4 or 9 → 2000s for `YY` 00–36, else 1900s; 5–8 → 2000s for `YY` 00–57,
    /// else 1800s. There is no modulus-11 check: numbers issued since 2007 need not pass it.
    pub fn parse(input: &str) -> Result<Self, CprError> {
        let bytes = input.trim().as_bytes();
        let (date_part, serial) = match bytes.len() {
            10 => bytes.split_at(6),
            11 if matches!(bytes[6], b'-' | b' ') => (&bytes[..6], &bytes[7..]),
            _ => return Err(CprError::Format),
        };
        if !date_part.iter().chain(serial).all(u8::is_ascii_digit) {
            return Err(CprError::Format);
        }

        let day = two_digits(date_part[0], date_part[1]);
        let month = two_digits(date_part[2], date_part[3]);
        let yy = i16::from(two_digits(date_part[4], date_part[5]));
        let year = birth_year(serial[0] - b'0', yy);
        let birth = Date::new(year, month, day).map_err(|_| CprError::BirthDate)?;

        let mut digits = String::with_capacity(10);
        digits.extend(date_part.iter().chain(serial).map(|&b| char::from(b)));
        Ok(Self { digits, birth })
    }

    /// The birth date encoded in the number.
    pub fn birth_date(&self) -> Date {
        self.birth
    }

    /// The age in whole years on `on`; 0 if `on` is before the birth date.
    ///
    /// A person is a year older on their birthday. Someone born on 29 February turns a year older
    /// on 1 March in non-leap years, as in Danish practice: the comparison is on (month, day), and
    /// in a non-leap year 28 February sorts before 29 February while 1 March sorts after it.
    pub fn age_on(&self, on: Date) -> u32 {
        let birth = self.birth;
        if on <= birth {
            return 0;
        }
        let mut years = i32::from(on.year()) - i32::from(birth.year());
        if (on.month(), on.day()) < (birth.month(), birth.day()) {
            years -= 1;
        }
        u32::try_from(years).unwrap_or(0)
    }

    /// The keyed pseudonym for logs and statistics: the same for every spelling of the number and
    /// the same key, unlinkable to the number without the key.
    pub fn pseudonym(&self, key: &PseudonymKey) -> Pseudonym {
        // The HMAC is over the canonical digits, so `010203-1234` and `0102031234` agree.
        let tag = hmac::sign(&key.0, self.expose_digits().as_bytes());
        Pseudonym::from_tag(tag.as_ref())
    }

    /// The canonical 10 digits, without a separator. Sensitive: only for keyed hashing and for
    /// the one request to a source system that needs the number; never log or return it.
    pub(crate) fn expose_digits(&self) -> &str {
        &self.digits
    }
}

/// The number of two ASCII digits (checked by the caller); at most 99, so it fits an `i8`.
fn two_digits(tens: u8, ones: u8) -> i8 {
    ((tens - b'0') * 10 + (ones - b'0')) as i8
}

/// The full birth year from the 7th digit (0–9) and the two-digit year `yy` (0–99).
fn birth_year(seventh: u8, yy: i16) -> i16 {
    let century = match seventh {
        0..=3 => 1900,
        4 | 9 if yy <= 36 => 2000,
        4 | 9 => 1900,
        // 5–8: the only digits left.
        _ if yy <= 57 => 2000,
        _ => 1800,
    };
    century + yy
}

impl FromStr for Cpr {
    type Err = CprError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for Cpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cpr(**********)")
    }
}

impl fmt::Display for Cpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[cpr]")
    }
}

/// Reads a CPR number from a string through [`Cpr::parse`]. An error names what is wrong, never the
/// input: even a JSON number is refused without echoing its digits (serde's default message would).
impl<'de> Deserialize<'de> for Cpr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_any`, not `deserialize_str`: with the latter serde_json reports a JSON
        // number itself ("invalid type: integer `0102031234`") before the visitor sees it.
        deserializer.deserialize_any(CprVisitor)
    }
}

struct CprVisitor;

impl CprVisitor {
    fn not_a_string<E: de::Error>() -> E {
        E::custom("expected a CPR number as a string")
    }
}

impl de::Visitor<'_> for CprVisitor {
    type Value = Cpr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CPR number as a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cpr, E> {
        Cpr::parse(v).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Cpr, E> {
        let s = std::str::from_utf8(v).map_err(|_| E::custom(CprError::Format))?;
        self.visit_str(s)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Cpr, E> {
        Err(Self::not_a_string())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Cpr, E> {
        Err(Self::not_a_string())
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Cpr, E> {
        Err(Self::not_a_string())
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Cpr, E> {
        Err(Self::not_a_string())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Cpr, E> {
        Err(Self::not_a_string())
    }

    fn visit_char<E: de::Error>(self, _: char) -> Result<Cpr, E> {
        Err(E::custom(CprError::Format))
    }
}

/// The shortest accepted [`PseudonymKey`], in bytes: the output size of SHA-256.
pub const PSEUDONYM_KEY_MIN_LEN: usize = 32;

/// The secret key for [`Cpr::pseudonym`] (HMAC-SHA256). `Debug` prints no key material.
#[derive(Clone)]
pub struct PseudonymKey(hmac::Key);

impl PseudonymKey {
    /// Uses `bytes` as an HMAC-SHA256 key. At least [`PSEUDONYM_KEY_MIN_LEN`] bytes, so that an
    /// empty or truncated secret in the configuration is refused at start-up.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CprError> {
        if bytes.len() < PSEUDONYM_KEY_MIN_LEN {
            return Err(CprError::KeyTooShort);
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }
}

impl PseudonymKey {
    /// A 32-byte key for another purpose, derived from this one as HMAC-SHA256(key, `label`), so
    /// the data directory holds one secret and each use has its own key (the HMAC is a PRF).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.0, label.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(&tag.as_ref()[..32]);
        out
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// A keyed pseudonym of a CPR number: `ps_` followed by the HMAC-SHA256 of the canonical 10 digits
/// in 64 lowercase hex digits. Safe to log and to export for statistics; a new key gives every
/// subject a new pseudonym.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pseudonym(String);

impl Pseudonym {
    /// The prefix that marks a string as a pseudonym rather than an identifier.
    pub const PREFIX: &'static str = "ps_";

    fn from_tag(tag: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(Self::PREFIX.len() + 2 * tag.len());
        out.push_str(Self::PREFIX);
        for &byte in tag {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Self(out)
    }

    /// A pseudonym read back from storage, where only pseudonyms are ever written.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The pseudonym as text, e.g. for a log field or a statistics export.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn cpr(s: &str) -> Cpr {
        Cpr::parse(s).unwrap()
    }

    #[test]
    fn the_seventh_digit_and_yy_choose_the_century_at_every_boundary() {
        // (DDMMYY-SSSS, expected birth year)
        let table = [
            ("010100-0000", 1900),
            ("010199-3999", 1999),
            ("010100-4000", 2000),
            ("010136-4000", 2036),
            ("010137-4000", 1937),
            ("010199-4999", 1999),
            ("010100-5000", 2000),
            ("010157-5000", 2057),
            ("010158-5000", 1858),
            ("010199-5000", 1899),
            ("010157-8999", 2057),
            ("010158-8999", 1858),
            ("010100-9000", 2000),
            ("010136-9000", 2036),
            ("010137-9000", 1937),
            ("010199-9999", 1999),
        ];
        for (input, year) in table {
            assert_eq!(cpr(input).birth_date(), date(year, 1, 1), "{input}");
        }
        for seventh in 0..=3 {
            for yy in [0, 36, 37, 57, 58, 99] {
                let input = format!("0101{yy:02}{seventh}000");
                assert_eq!(cpr(&input).birth_date().year(), 1900 + yy, "{input}");
            }
        }
    }

    #[test]
    fn impossible_birth_dates_are_rejected() {
        for input in [
            "310423-1234", // 31 April
            "000123-1234", // day 0
            "320123-1234", // day 32
            "010023-1234", // month 0
            "011323-1234", // month 13
            "290201-1234", // 29 February 1901
            "290200-1234", // 29 February 1900: a century, not a leap year
            "290201-4234", // 29 February 2001
            "290259-5234", // 29 February 1859
        ] {
            assert_eq!(Cpr::parse(input), Err(CprError::BirthDate), "{input}");
        }
    }

    #[test]
    fn the_29th_of_february_is_accepted_in_leap_years_of_the_right_century() {
        assert_eq!(cpr("290204-1234").birth_date(), date(1904, 2, 29));
        assert_eq!(cpr("290200-4234").birth_date(), date(2000, 2, 29));
        assert_eq!(cpr("290204-4234").birth_date(), date(2004, 2, 29));
        assert_eq!(cpr("290256-5234").birth_date(), date(2056, 2, 29));
        assert_eq!(cpr("290296-9234").birth_date(), date(1996, 2, 29));
        // 1800 was no leap year but 1896 was.
        assert_eq!(cpr("290296-5234").birth_date(), date(1896, 2, 29));
    }

    #[test]
    fn every_accepted_spelling_gives_the_same_number() {
        let canonical = cpr("0102031234");
        for input in [
            "010203-1234",
            "0102031234",
            "010203 1234",
            "  010203-1234  ",
            "\t0102031234\n",
            " 010203 1234\r\n",
        ] {
            let parsed = cpr(input);
            assert_eq!(parsed, canonical, "{input:?}");
            assert_eq!(parsed.expose_digits(), "0102031234");
            assert_eq!(parsed.birth_date(), date(1903, 2, 1));
        }
        assert_eq!("010203-1234".parse::<Cpr>(), Ok(canonical));
    }

    #[test]
    fn anything_else_is_a_format_error() {
        for input in [
            "",
            "   ",
            "01020312345",          // 11 digits
            "010203123",            // 9 digits
            "010203-123",           // 9 digits with dash
            "010203-12345",         // 11 digits with dash
            "010203--1234",         // two dashes
            "01-0203-1234",         // dash elsewhere
            "0102-031234",          // dash elsewhere
            "010203_1234",          // other separator
            "010203/1234",          // other separator
            "010203  1234",         // two spaces
            "010203- 1234",         // dash and space
            "010203\t1234",         // tab as separator
            "01020A-1234",          // letter
            "010203-123X",          // letter
            "0102031234a",          // trailing letter
            "+102031234",           // sign
            "٠١٠٢٠٣١٢٣٤",           // Arabic-Indic digits
            "０１０２０３１２３４", // full-width digits
            "0102031234\u{0}",      // NUL
        ] {
            assert_eq!(Cpr::parse(input), Err(CprError::Format), "{input:?}");
        }
    }

    #[test]
    fn debug_and_display_never_print_the_number() {
        let number = cpr("010203-1234");
        assert_eq!(format!("{number:?}"), "Cpr(**********)");
        assert_eq!(format!("{number}"), "[cpr]");
        assert_eq!(format!("{:?}", Some(&number)), "Some(Cpr(**********))");
    }

    #[test]
    fn error_messages_are_lowercase_and_do_not_echo_the_input() {
        assert_eq!(
            CprError::Format.to_string(),
            "expected 10 digits as DDMMYY-SSSS"
        );
        assert_eq!(CprError::BirthDate.to_string(), "invalid birth date");
        let err = Cpr::parse("310423-1234").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("310423"));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[expect(dead_code, reason = "only deserialized")]
        subject: Cpr,
    }

    #[test]
    fn deserializes_from_a_json_string_in_every_spelling() {
        for json in [
            r#""010203-1234""#,
            r#""0102031234""#,
            r#""010203 1234""#,
            r#"" 010203-1234 ""#,
        ] {
            let parsed: Cpr = serde_json::from_str(json).unwrap();
            assert_eq!(parsed.expose_digits(), "0102031234", "{json}");
        }
    }

    #[test]
    fn serde_errors_say_what_is_wrong_without_the_digits() {
        let cases = [
            (r#"{"subject": "310423-1234"}"#, "invalid birth date"),
            (
                r#"{"subject": "310423-12345"}"#,
                "expected 10 digits as DDMMYY-SSSS",
            ),
            (
                r#"{"subject": 3104231234}"#,
                "expected a CPR number as a string",
            ),
            (
                r#"{"subject": -3104231234}"#,
                "expected a CPR number as a string",
            ),
            (
                r#"{"subject": 3104231234.5}"#,
                "expected a CPR number as a string",
            ),
            (r#"{"subject": ["3104231234"]}"#, "a CPR number as a string"),
        ];
        for (json, message) in cases {
            let err = serde_json::from_str::<Body>(json).unwrap_err().to_string();
            assert!(err.contains(message), "{json}: {err}");
            assert!(!err.contains("310423"), "{json}: {err}");
            assert!(!err.contains("1234"), "{json}: {err}");
        }
    }

    fn key(byte: u8) -> PseudonymKey {
        PseudonymKey::from_bytes(&[byte; PSEUDONYM_KEY_MIN_LEN]).unwrap()
    }

    #[test]
    fn the_pseudonym_is_prefixed_lowercase_hex_hmac_sha256_of_the_canonical_digits() {
        // Known answer, from Python: hmac.new(bytes(range(32)), b"0102031234", "sha256").
        let key: Vec<u8> = (0..32).collect();
        let key = PseudonymKey::from_bytes(&key).unwrap();
        let pseudonym = cpr("010203-1234").pseudonym(&key);
        assert_eq!(
            pseudonym.as_str(),
            "ps_fcf66987641587e917b1418042e595417b79d689423149e06057c68ce57da059"
        );
        assert_eq!(pseudonym.to_string(), pseudonym.as_str());
    }

    #[test]
    fn the_pseudonym_is_the_same_for_every_spelling_and_differs_by_key_and_number() {
        let spellings = ["010203-1234", "0102031234", "010203 1234"];
        let pseudonyms: Vec<_> = spellings.map(|s| cpr(s).pseudonym(&key(1))).into();
        assert!(pseudonyms.iter().all(|p| *p == pseudonyms[0]));
        assert_ne!(cpr("010203-1234").pseudonym(&key(2)), pseudonyms[0]);
        assert_ne!(cpr("010203-1235").pseudonym(&key(1)), pseudonyms[0]);
    }

    #[test]
    fn a_pseudonym_round_trips_through_json_as_a_plain_string() {
        let pseudonym = cpr("010203-1234").pseudonym(&key(1));
        let json = serde_json::to_string(&pseudonym).unwrap();
        assert_eq!(json, format!("\"{}\"", pseudonym.as_str()));
        assert_eq!(serde_json::from_str::<Pseudonym>(&json).unwrap(), pseudonym);
    }

    #[test]
    fn a_pseudonym_key_needs_32_bytes_and_its_debug_shows_nothing() {
        assert_eq!(
            PseudonymKey::from_bytes(&[7; 31]).map(|_| ()),
            Err(CprError::KeyTooShort)
        );
        assert_eq!(
            PseudonymKey::from_bytes(&[]).map(|_| ()),
            Err(CprError::KeyTooShort)
        );
        assert!(PseudonymKey::from_bytes(&[7; 64]).is_ok());
        assert_eq!(format!("{:?}", key(7)), "PseudonymKey(..)");
        assert_eq!(
            CprError::KeyTooShort.to_string(),
            "pseudonym key must be at least 32 bytes"
        );
    }

    #[test]
    fn age_goes_up_on_the_birthday_not_the_day_before() {
        let number = cpr("150608-4321"); // born 15 June 2008
        assert_eq!(number.age_on(date(2023, 6, 14)), 14);
        assert_eq!(number.age_on(date(2023, 6, 15)), 15);
        assert_eq!(number.age_on(date(2026, 6, 14)), 17);
        assert_eq!(number.age_on(date(2026, 6, 15)), 18);
        assert_eq!(number.age_on(date(2033, 6, 14)), 24);
        assert_eq!(number.age_on(date(2033, 6, 15)), 25);
        assert_eq!(number.age_on(date(2033, 12, 31)), 25);
    }

    #[test]
    fn age_is_zero_up_to_the_first_birthday_and_before_birth() {
        let number = cpr("150608-4321");
        assert_eq!(number.age_on(date(1990, 1, 1)), 0);
        assert_eq!(number.age_on(date(2008, 6, 14)), 0);
        assert_eq!(number.age_on(date(2008, 6, 15)), 0);
        assert_eq!(number.age_on(date(2009, 6, 14)), 0);
        assert_eq!(number.age_on(date(2009, 6, 15)), 1);
    }

    #[test]
    fn someone_born_on_29_february_turns_a_year_older_on_1_march_in_non_leap_years() {
        let number = cpr("290208-4321"); // born 29 February 2008
        // 2026 is not a leap year: still 17 on 28 February, 18 on 1 March.
        assert_eq!(number.age_on(date(2026, 2, 28)), 17);
        assert_eq!(number.age_on(date(2026, 3, 1)), 18);
        // 2028 is a leap year: 20 on 29 February itself.
        assert_eq!(number.age_on(date(2028, 2, 28)), 19);
        assert_eq!(number.age_on(date(2028, 2, 29)), 20);
    }

    #[test]
    fn age_spans_the_1800s() {
        let number = cpr("311299-5000"); // 31 December 1899
        assert_eq!(number.age_on(date(1999, 12, 30)), 99);
        assert_eq!(number.age_on(date(1999, 12, 31)), 100);
    }

    mod properties {
        use jiff::civil::{Date, date};
        use proptest::prelude::*;

        use super::super::*;

        /// The 7th digits that may encode a birth in `year`, written from the rule in the issue
        /// rather than from `birth_year`, so the two check each other.
        fn sevenths_for(year: i16) -> Vec<u8> {
            match year {
                1858..=1899 => vec![5, 6, 7, 8],
                1900..=1936 => vec![0, 1, 2, 3],
                1937..=1999 => vec![0, 1, 2, 3, 4, 9],
                2000..=2036 => vec![4, 5, 6, 7, 8, 9],
                2037..=2057 => vec![5, 6, 7, 8],
                _ => vec![],
            }
        }

        /// Any CPR number that can exist: its canonical digits and its birth date.
        fn valid_cpr() -> impl Strategy<Value = (String, Date)> {
            // Half of the years at the edges of the century rule, where mistakes would hide.
            let edges = [
                1858, 1899, 1900, 1936, 1937, 1957, 1958, 1999, 2000, 2036, 2037, 2057,
            ];
            let year = prop_oneof![1858i16..=2057, prop::sample::select(edges.to_vec())];
            (year, 1i8..=12, 0i8..31)
                .prop_map(|(year, month, day0)| {
                    let first = date(year, month, 1);
                    date(year, month, 1 + day0 % first.days_in_month())
                })
                .prop_flat_map(|birth| {
                    let sevenths = prop::sample::select(sevenths_for(birth.year()));
                    (Just(birth), sevenths, 0u16..=999)
                })
                .prop_map(|(birth, seventh, rest)| {
                    let (d, m, yy) = (birth.day(), birth.month(), birth.year() % 100);
                    (format!("{d:02}{m:02}{yy:02}{seventh}{rest:03}"), birth)
                })
        }

        fn spellings(digits: &str) -> [String; 4] {
            let (date_part, serial) = digits.split_at(6);
            [
                format!("{date_part}-{serial}"),
                digits.to_owned(),
                format!("{date_part} {serial}"),
                format!(" \t{date_part}-{serial}\n"),
            ]
        }

        /// Everything a log line could show of a parse attempt on `input`.
        fn printed(input: &str) -> String {
            let parsed = match Cpr::parse(input) {
                Ok(cpr) => format!("{cpr:?} {cpr} {:?}", Some(&cpr)),
                Err(err) => format!("{err:?} {err}"),
            };
            let json = serde_json::to_string(input).unwrap();
            let from_json = match serde_json::from_str::<Cpr>(&json) {
                Ok(cpr) => format!("{cpr:?}"),
                Err(err) => format!("{err:?} {err}"),
            };
            format!("{parsed} {from_json}")
        }

        proptest! {
            #[test]
            fn every_spelling_of_a_valid_number_parses_back((digits, birth) in valid_cpr()) {
                for spelling in spellings(&digits) {
                    let cpr = Cpr::parse(&spelling).unwrap();
                    prop_assert_eq!(cpr.birth_date(), birth);
                    prop_assert_eq!(cpr.expose_digits(), digits.as_str());
                }
            }

            #[test]
            fn nothing_printed_contains_the_digits(
                (valid, _) in valid_cpr(),
                noise in "[0-9]{10}",
                separator in prop::sample::select(vec!["", "-", " ", "--", "/", "  "]),
            ) {
                for digits in [&valid, &noise] {
                    let (date_part, serial) = digits.split_at(6);
                    let input = format!("{date_part}{separator}{serial}");
                    let shown = printed(&input);
                    prop_assert!(!shown.contains(date_part), "{}", shown);
                    prop_assert!(!shown.contains(serial), "{}", shown);
                }
                let number = serde_json::from_str::<Cpr>(&noise).unwrap_err().to_string();
                prop_assert!(!number.contains(&noise[..6]), "{}", number);
            }

            #[test]
            fn parse_never_panics_and_accepts_only_ten_digits(
                input in prop_oneof![any::<String>(), "[0-9 \\-]{0,14}", "\\s*[0-9]{6}.[0-9]{4}\\s*"],
            ) {
                if let Ok(cpr) = Cpr::parse(&input) {
                    let digits = cpr.expose_digits();
                    prop_assert_eq!(digits.len(), 10);
                    prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
                    let squeezed: String = input.trim().chars().filter(|c| !matches!(c, '-' | ' ')).collect();
                    prop_assert_eq!(squeezed.as_str(), digits);
                }
            }

            #[test]
            fn the_pseudonym_ignores_the_spelling_and_depends_on_the_key(
                (digits, _) in valid_cpr(),
                key_a in prop::collection::vec(any::<u8>(), 32..64),
                key_b in prop::collection::vec(any::<u8>(), 32..64),
            ) {
                prop_assume!(key_a != key_b);
                let key_a = PseudonymKey::from_bytes(&key_a).unwrap();
                let key_b = PseudonymKey::from_bytes(&key_b).unwrap();
                let expected = Cpr::parse(&digits).unwrap().pseudonym(&key_a);
                for spelling in spellings(&digits) {
                    prop_assert_eq!(&Cpr::parse(&spelling).unwrap().pseudonym(&key_a), &expected);
                }
                prop_assert_ne!(Cpr::parse(&digits).unwrap().pseudonym(&key_b), expected);
            }

            #[test]
            fn age_goes_up_by_one_on_each_birthday((digits, birth) in valid_cpr(), years in 1i16..=120) {
                let cpr = Cpr::parse(&digits).unwrap();
                let year = birth.year() + years;
                // 29 February in a non-leap year: the birthday is 1 March.
                let birthday = Date::new(year, birth.month(), birth.day())
                    .unwrap_or_else(|_| date(year, 3, 1));
                let expected = u32::from(years.unsigned_abs());
                prop_assert_eq!(cpr.age_on(birthday), expected);
                prop_assert_eq!(cpr.age_on(birthday.yesterday().unwrap()), expected - 1);
            }
        }
    }
}
