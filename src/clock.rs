//! The only code that reads the system time. Everything else takes a [`Clock`] or a value from one,
//! so that tests can fix "now" and age rules can be tested on exact birthdays.

use std::sync::Arc;

use jiff::{Timestamp, civil::Date, tz::TimeZone};

/// The time zone in which "today" is decided for every age rule (API.md §3).
pub fn copenhagen() -> TimeZone {
    // The tz database is compiled in (`tzdb-bundle-always`), so the lookup cannot fail at run time;
    // the fixed UTC+1 fallback only keeps this function total.
    TimeZone::get("Europe/Copenhagen").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(1)))
}

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// Today's date in Europe/Copenhagen.
    fn today(&self) -> Date {
        self.now().to_zoned(copenhagen()).date()
    }
}

/// A shared, dynamically chosen clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the one place that reads the clock"
    )]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that always says the same instant (tests, `policy explain --at`).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_the_copenhagen_date_not_the_utc_date() {
        // 22:30 UTC on 30 June is 00:30 on 1 July in Copenhagen (summer time, UTC+2).
        let clock = FixedClock("2026-06-30T22:30:00Z".parse().unwrap());
        assert_eq!(clock.today(), jiff::civil::date(2026, 7, 1));
        // 23:30 UTC on 31 December is 00:30 on 1 January (winter time, UTC+1).
        let clock = FixedClock("2026-12-31T23:30:00Z".parse().unwrap());
        assert_eq!(clock.today(), jiff::civil::date(2027, 1, 1));
        let clock = FixedClock("2026-12-31T22:30:00Z".parse().unwrap());
        assert_eq!(clock.today(), jiff::civil::date(2026, 12, 31));
    }
}
