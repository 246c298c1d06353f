//! Scrubbing free text: e-mail addresses, CPR numbers and phone numbers replaced by a marker.
//!
//! A hand-written scanner, not a regular expression, so that the rules below are exact, Unicode
//! digits are handled, and text without anything to replace is returned borrowed.
//!
//! # Rules
//!
//! 1. **E-mail addresses** → `[email]`. An `@` (or full-width `＠`) with a local part of at least
//!    one letter or digit immediately before it (letters, digits and `._%+-!#$&*=?^~`) and a
//!    domain immediately after it (letters, digits, `.`, `-`, `_`, `@`, trailing punctuation not
//!    included) that ends in a letter or digit. No dot is required in the domain (`anna@skolen` is
//!    scrubbed too): for privacy, a false positive is cheaper than a miss.
//! 2. **Digit runs** → `[cpr]` or `[phone]`. Outside e-mail addresses, a *run* is a maximal
//!    sequence of digit groups joined by separators of one to three characters: spaces (also
//!    no-break, thin and full-width spaces, tab), dashes and hyphens (`-`, `‐`, `‑`, `‒`, `–`, `—`,
//!    `−`, `－`) and `.`. A run is scanned without regard to what surrounds it, so a number
//!    embedded in a word (`abc0102031234xyz`) is found too. Every run of **8 or more digits** is
//!    replaced, together with a `+` right before it (`+45 12 34 56 78`); `0045` is part of the run
//!    anyway. It is labelled `[cpr]` when it has exactly 10 digits written as `DDMMYYSSSS` or
//!    `DDMMYY?SSSS` (one group of 10, or a group of 6 and one of 4) and no `+`; every other run is
//!    `[phone]` — a Danish phone number is 8 digits, but any long number is withheld.
//! 3. **Dates survive.** Inside a run, three groups that form a date — `YYYY-MM-DD` with `-`, or
//!    `DD-MM-YYYY` / `DD.MM.YYYY` with the same `-` or `.` twice; year 1900–2099, month 01–12, day
//!    01–31, ASCII digits — are taken out of the run, and the parts before, between and after are
//!    judged on their own. So `2026-11-29` stays, `2026-08-01 - 2026-10-31` stays, and
//!    `2026-11-29 12 34 56 78` keeps the date and loses the phone number. A date is taken out only
//!    if it is joined to the rest of its run by a separator with a space in it, and the group next
//!    to it has at most 2 digits or belongs to another date; otherwise (`010203 2026-11-29`,
//!    `2026-11-29-1234`) it could hide a CPR number or a longer number and the whole run is
//!    judged. The price: an 8-digit number written exactly like a date (`2012-12-12`) passes.
//! 4. **Short numbers survive**: `15 %`, `3 dage`, `kl. 10.30`, `1.234.567` (7 digits).
//!
//! A digit is any character with [`char::is_numeric`] (ASCII, full-width `０`–`９`, Arabic-Indic
//! and other scripts' digits, but also e.g. `½` or `Ⅻ`): a number written in other digits is as
//! much a CPR number, and over-counting the odd fraction or numeral only errs on the safe side.
//! Dates are recognised in ASCII digits only, so a date in other digits is scrubbed if long.
//!
//! Not handled: numbers spelled out in words or with letters for digits (`O` for `0`), addresses
//! obfuscated as `anna (at) skolen.dk`, digits split across lines.
//!
//! Scrubbing is idempotent: the markers contain no digit and no `@`, and a marker ends every run it
//! replaces, so a second pass finds nothing new.

use std::borrow::Cow;

/// What an e-mail address is replaced by.
pub const EMAIL_MARKER: &str = "[email]";
/// What a CPR number (10 digits as `DDMMYY-SSSS`, `DDMMYYSSSS` or `DDMMYY SSSS`) is replaced by.
pub const CPR_MARKER: &str = "[cpr]";
/// What a phone number, or any other run of 8 or more digits, is replaced by.
pub const PHONE_MARKER: &str = "[phone]";

/// A run with this many digits or more is replaced.
const MIN_RUN_DIGITS: usize = 8;
/// Digit groups joined by up to this many separator characters belong to one run.
const MAX_SEPARATOR_CHARS: usize = 3;

/// Returns `text` with every e-mail address, CPR number and phone number (and every other run of 8
/// or more digits) replaced by [`EMAIL_MARKER`], [`CPR_MARKER`] or [`PHONE_MARKER`]. Borrowed when
/// nothing was replaced. See the module docs for the exact rules.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !might_contain_something(text) {
        return Cow::Borrowed(text);
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut spans = emails(&chars);
    let mut numbers = Vec::new();
    let mut from = 0;
    for email in &spans {
        runs(&chars, from, email.start, &mut numbers);
        from = email.end;
    }
    runs(&chars, from, chars.len(), &mut numbers);
    if spans.is_empty() && numbers.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.append(&mut numbers);
    spans.sort_unstable_by_key(|s| s.start);

    let byte = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in &spans {
        out.push_str(text.get(last..byte(span.start)).unwrap_or_default());
        out.push_str(span.marker);
        last = byte(span.end);
    }
    out.push_str(text.get(last..).unwrap_or_default());
    Cow::Owned(out)
}

/// A stretch of `chars` (by char index, end exclusive) to replace.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    marker: &'static str,
}

/// A cheap pre-check: no at-sign and fewer than 8 digits means nothing to replace.
fn might_contain_something(text: &str) -> bool {
    let mut digits = 0;
    for c in text.chars() {
        if is_at(c) {
            return true;
        }
        if is_digit(c) {
            digits += 1;
            if digits >= MIN_RUN_DIGITS {
                return true;
            }
        }
    }
    false
}

fn is_at(c: char) -> bool {
    matches!(c, '@' | '＠')
}

fn is_digit(c: char) -> bool {
    c.is_numeric()
}

fn is_local(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '.' | '_' | '%' | '+' | '-' | '!' | '#' | '$' | '&' | '*' | '=' | '?' | '^' | '~'
        )
}

fn is_domain(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_') || is_at(c)
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\u{00A0}' // no-break space
            | '\u{2007}' // figure space
            | '\u{2009}' // thin space
            | '\u{202F}' // narrow no-break space
            | '\u{3000}' // ideographic space
            | '-'
            | '\u{2010}' // hyphen
            | '\u{2011}' // non-breaking hyphen
            | '\u{2012}' // figure dash
            | '\u{2013}' // en dash
            | '\u{2014}' // em dash
            | '\u{2212}' // minus sign
            | '\u{FF0D}' // full-width hyphen-minus
            | '.'
    )
}

/// The e-mail addresses, left to right, not overlapping.
fn emails(chars: &[(usize, char)]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut floor = 0;
    let mut i = 0;
    while i < chars.len() {
        if !chars.get(i).is_some_and(|&(_, c)| is_at(c)) {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > floor && chars.get(start - 1).is_some_and(|&(_, c)| is_local(c)) {
            start -= 1;
        }
        let mut end = i + 1;
        while chars.get(end).is_some_and(|&(_, c)| is_domain(c)) {
            end += 1;
        }
        while end > i + 1
            && !chars
                .get(end - 1)
                .is_some_and(|&(_, c)| c.is_alphanumeric())
        {
            end -= 1;
        }
        let local_ok = chars
            .get(start..i)
            .is_some_and(|l| l.iter().any(|&(_, c)| c.is_alphanumeric()));
        if local_ok && end > i + 1 {
            spans.push(Span {
                start,
                end,
                marker: EMAIL_MARKER,
            });
            floor = end;
            i = end;
        } else {
            i += 1;
        }
    }
    spans
}

/// A maximal sequence of digits, by char index (end exclusive).
#[derive(Debug, Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
}

impl Group {
    fn len(self) -> usize {
        self.end - self.start
    }
}

/// The digit runs of `chars[from..to]` that must be replaced, appended to `out`.
fn runs(chars: &[(usize, char)], from: usize, to: usize, out: &mut Vec<Span>) {
    let digit_at = |i: usize| i < to && chars.get(i).is_some_and(|&(_, c)| is_digit(c));
    let sep_at = |i: usize| i < to && chars.get(i).is_some_and(|&(_, c)| is_separator(c));
    let mut groups = Vec::new();
    let mut i = from;
    while i < to {
        if !digit_at(i) {
            i += 1;
            continue;
        }
        groups.clear();
        let mut j = i;
        loop {
            let start = j;
            while digit_at(j) {
                j += 1;
            }
            groups.push(Group { start, end: j });
            let mut k = j;
            while k - j < MAX_SEPARATOR_CHARS && sep_at(k) {
                k += 1;
            }
            if k > j && digit_at(k) {
                j = k;
            } else {
                break;
            }
        }
        judge(chars, from, &groups, out);
        i = j;
    }
}

/// Splits a run's groups at the dates in it and records each remaining part of 8 or more digits.
fn judge(chars: &[(usize, char)], from: usize, groups: &[Group], out: &mut Vec<Span>) {
    // Date candidates, left to right, by the index of their first group.
    let mut candidates = Vec::new();
    let mut k = 0;
    while k < groups.len() {
        if is_date(chars, groups.get(k..).unwrap_or_default()) {
            candidates.push(k);
            k += 3;
        } else {
            k += 1;
        }
    }
    let mut part_start = 0;
    for &k in &candidates {
        let near = |g: usize, x: &Group, y: &Group| {
            let spaced = chars
                .get(x.end..y.start)
                .is_some_and(|sep| sep.iter().any(|&(_, c)| c.is_whitespace()));
            let harmless = groups.get(g).is_some_and(|n| n.len() <= 2)
                || candidates.contains(&g)
                || g.checked_sub(2).is_some_and(|s| candidates.contains(&s));
            spaced && harmless
        };
        let left_ok = match k.checked_sub(1) {
            None => true,
            Some(p) => match (groups.get(p), groups.get(k)) {
                (Some(x), Some(y)) => near(p, x, y),
                _ => false,
            },
        };
        let right_ok = match (groups.get(k + 2), groups.get(k + 3)) {
            (_, None) => true,
            (Some(x), Some(y)) => near(k + 3, x, y),
            _ => false,
        };
        if left_ok && right_ok {
            part(
                chars,
                from,
                groups.get(part_start..k).unwrap_or_default(),
                out,
            );
            part_start = k + 3;
        }
    }
    part(
        chars,
        from,
        groups.get(part_start..).unwrap_or_default(),
        out,
    );
}

/// Records one part of a run if it has 8 or more digits.
fn part(chars: &[(usize, char)], from: usize, groups: &[Group], out: &mut Vec<Span>) {
    let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
        return;
    };
    let digits: usize = groups.iter().map(|g| g.len()).sum();
    if digits < MIN_RUN_DIGITS {
        return;
    }
    let plus = first.start > from
        && chars
            .get(first.start - 1)
            .is_some_and(|&(_, c)| matches!(c, '+' | '＋'));
    let cpr_shape = match groups {
        [g] => g.len() == 10,
        [a, b] => a.len() == 6 && b.len() == 4,
        _ => false,
    };
    out.push(Span {
        start: if plus { first.start - 1 } else { first.start },
        end: last.end,
        marker: if cpr_shape && !plus {
            CPR_MARKER
        } else {
            PHONE_MARKER
        },
    });
}

/// Whether the first three groups are a date: `YYYY-MM-DD`, `DD-MM-YYYY` or `DD.MM.YYYY`, each
/// joined by one and the same separator character.
fn is_date(chars: &[(usize, char)], groups: &[Group]) -> bool {
    let [a, b, c, ..] = groups else {
        return false;
    };
    let sep = |x: &Group, y: &Group| -> Option<char> {
        (y.start == x.end + 1)
            .then(|| chars.get(x.end).map(|&(_, c)| c))
            .flatten()
    };
    let (Some(s1), Some(s2)) = (sep(a, b), sep(b, c)) else {
        return false;
    };
    if s1 != s2 {
        return false;
    }
    let value = |g: &Group| -> Option<u32> {
        if g.len() > 4 {
            return None;
        }
        chars
            .get(g.start..g.end)?
            .iter()
            .try_fold(0u32, |acc, &(_, ch)| {
                let d = if ch.is_ascii_digit() {
                    ch.to_digit(10)
                } else {
                    None
                }?;
                acc.checked_mul(10)?.checked_add(d)
            })
    };
    let (Some(va), Some(vb), Some(vc)) = (value(a), value(b), value(c)) else {
        return false;
    };
    let date = |y: u32, m: u32, d: u32| {
        (1900..=2099).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
    };
    match (a.len(), b.len(), c.len()) {
        (4, 2, 2) => s1 == '-' && date(va, vb, vc),
        (2, 2, 4) => matches!(s1, '-' | '.') && date(vc, vb, va),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(scrub(input), expected, "scrub({input:?})");
        assert_eq!(scrub(expected), expected, "not idempotent on {expected:?}");
    }

    #[test]
    fn cpr_numbers_in_every_spelling() {
        for (input, expected) in [
            ("0102031234", "[cpr]"),
            ("010203-1234", "[cpr]"),
            ("010203 1234", "[cpr]"),
            ("CPR: 010203-1234.", "CPR: [cpr]."),
            ("cpr 010203–1234 (en dash)", "cpr [cpr] (en dash)"),
            ("cpr 010203\u{00A0}1234", "cpr [cpr]"),
            ("abc0102031234xyz", "abc[cpr]xyz"),
            ("x010203-1234y", "x[cpr]y"),
            ("nr.0102031234,", "nr.[cpr],"),
            ("010203 - 1234", "[cpr]"),
            ("０１０２０３－１２３４", "[cpr]"),
            ("０１０２０３１２３４", "[cpr]"),
            ("٠١٠٢٠٣١٢٣٤", "[cpr]"),
            ("a 0102031234 og 3112991234 b", "a [cpr] og [cpr] b"),
            // Not the CPR shape, but 8 or more digits: withheld all the same.
            ("01.02.03-1234", "[phone]"),
            ("0102031-234", "[phone]"),
            ("01020312345", "[phone]"),
            ("010203-123", "[phone]"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn danish_phone_numbers_in_every_spelling() {
        for (input, expected) in [
            ("12345678", "[phone]"),
            ("1234 5678", "[phone]"),
            ("12 34 56 78", "[phone]"),
            ("123 45 678", "[phone]"),
            ("12-34-56-78", "[phone]"),
            ("12.34.56.78", "[phone]"),
            ("+4512345678", "[phone]"),
            ("+45 12345678", "[phone]"),
            ("+45 12 34 56 78", "[phone]"),
            ("+45 1234 5678", "[phone]"),
            ("+45-12-34-56-78", "[phone]"),
            ("004512345678", "[phone]"),
            ("0045 12345678", "[phone]"),
            ("0045 1234 5678", "[phone]"),
            ("0045 12 34 56 78", "[phone]"),
            (
                "ring på tlf. 12 34 56 78 i morgen",
                "ring på tlf. [phone] i morgen",
            ),
            ("tlf:12345678.", "tlf:[phone]."),
            ("tlf12345678x", "tlf[phone]x"),
            ("(+45) 1234 5678", "(+45) [phone]"),
            (
                "mobil +45 20 30 40 50, fastnet 86 12 34 56",
                "mobil [phone], fastnet [phone]",
            ),
            ("１２３４５６７８", "[phone]"),
            ("１２ ３４ ５６ ７８", "[phone]"),
            ("1234\u{202F}5678", "[phone]"),
            ("1234 - 5678", "[phone]"),
            // Any long number, whatever it is.
            ("123456789012", "[phone]"),
            ("konto 1234-567890", "konto [phone]"),
            ("12 34 56 78 90", "[phone]"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn email_addresses() {
        for (input, expected) in [
            ("anna@skolen.dk", "[email]"),
            (
                "Skriv til anna.b-hansen+x@mail.kommune.dk.",
                "Skriv til [email].",
            ),
            ("<anna@x.dk>", "<[email]>"),
            (
                "mail: ANNA_1@Sub-Domain.EXAMPLE.com, tak",
                "mail: [email], tak",
            ),
            ("anna@skolen", "[email]"),
            ("søren.ærø@københavn.dk", "[email]"),
            ("anna＠skolen.dk", "[email]"),
            ("a@b@c.dk", "[email]"),
            ("0102031234@sms.dk", "[email]"),
            ("x anna@x.dk 12345678", "x [email] [phone]"),
            ("anna@x.dk-", "[email]-"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn what_must_survive() {
        for text in [
            "",
            "Ingen personoplysninger her.",
            "Fravær 15 % i perioden 2026-08-01 til 2026-10-31.",
            "2026-11-29",
            "den 29-11-2026 og 29.11.2026 og 29/11/2026",
            "3 dage",
            "15 %",
            "kl. 10.30",
            "kl 8-16",
            "1.234.567 kr.",
            "uge 12-13",
            "2 + 2 = 4",
            "1234567",
            "123 4567",
            "@skolen på twitter",
            "mødet @ 10",
            "x@",
            "@x",
            "foo@.",
            "½ time",
            "version 1.2.3",
        ] {
            check(text, text);
            assert!(
                matches!(scrub(text), Cow::Borrowed(_)),
                "{text:?} was copied"
            );
        }
    }

    #[test]
    fn dates_are_kept_and_numbers_around_them_judged_alone() {
        for (input, expected) in [
            ("2026-11-29 12 34 56 78", "2026-11-29 [phone]"),
            ("12 2026-11-29", "12 2026-11-29"),
            // A date glued to a longer number, or joined by a dash, is not taken out.
            ("12345678 2026-11-29", "[phone]"),
            ("010203 2026-11-29", "[phone]"),
            ("010203-2026-11-29", "[phone]"),
            ("2026-11-29-1", "[phone]"),
            ("2026-11-29 1234", "[phone]"),
            ("2026-11-29 - 2026-12-31", "2026-11-29 - 2026-12-31"),
            ("2026-11-29 10 elever", "2026-11-29 10 elever"),
            // Not a date: month 56.
            ("1234-56-78", "[phone]"),
            // Not a date: mixed separators.
            ("2026-11 29", "[phone]"),
            // A date in other digits is not recognised: scrubbed, which is the safe side.
            ("２０２６-１１-２９", "[phone]"),
        ] {
            check(input, expected);
        }
    }
}
