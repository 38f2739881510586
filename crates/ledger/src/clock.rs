//! Time, injected: the wall clock and the hybrid logical clock (HLC).
//!
//! Nothing in the core calls `now()` directly; a [`Clock`] is handed in so that
//! tests and the sync simulator are deterministic. The HLC stamps every event
//! with `(physical ms << 16) | counter`, a single `i64` that sorts in time
//! order; ties between nodes are broken by node id.

use chrono::NaiveDate;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Bits of an HLC value that hold the logical counter.
pub const HLC_COUNTER_BITS: u32 = 16;

/// The source of wall time and of "today" for expiry rules.
pub trait Clock: Send {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// The calendar date at the workstation, for expiry checks.
    fn today(&self) -> NaiveDate;
}

/// The real clock: system time, local calendar date.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
    fn today(&self) -> NaiveDate {
        chrono::Local::now().date_naive()
    }
}

/// A clock for tests: starts at a given instant and moves only when told.
/// Clones share the same time, so a test can keep a handle and advance it.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now_ms: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock at midnight UTC of `date`.
    pub fn at_date(date: NaiveDate) -> ManualClock {
        let ms = date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis();
        ManualClock { now_ms: Arc::new(AtomicI64::new(ms)) }
    }
    /// Moves the clock by `delta_ms` (negative moves it back, as a badly set PC would).
    pub fn advance_ms(&self, delta_ms: i64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
    /// Moves the clock forward by whole days.
    pub fn advance_days(&self, days: i64) {
        self.advance_ms(days * 86_400_000);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
    fn today(&self) -> NaiveDate {
        chrono::DateTime::from_timestamp_millis(self.now_ms()).expect("clock in range").date_naive()
    }
}

/// A hybrid logical clock value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hlc(pub i64);

impl Hlc {
    /// The HLC value for a physical time with counter zero.
    pub fn from_physical_ms(ms: i64) -> Hlc {
        Hlc(ms << HLC_COUNTER_BITS)
    }
    /// The physical part, in ms since the epoch.
    pub fn physical_ms(self) -> i64 {
        self.0 >> HLC_COUNTER_BITS
    }
    /// The logical counter within one millisecond.
    pub fn counter(self) -> i64 {
        self.0 & ((1 << HLC_COUNTER_BITS) - 1)
    }
    /// The next local timestamp: wall time if it has moved past `self`, else
    /// `self + 1` (the counter; it carries into the ms part if it ever fills).
    pub fn tick(self, now_ms: i64) -> Hlc {
        let wall = Hlc::from_physical_ms(now_ms);
        if wall > self {
            wall
        } else {
            Hlc(self.0 + 1)
        }
    }
}

impl std::fmt::Display for Hlc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:05}", self.physical_ms(), self.counter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_never_goes_backwards_when_the_wall_clock_does() {
        let start = Hlc::from_physical_ms(10_000);
        let a = start.tick(10_000);
        assert_eq!(a, Hlc(start.0 + 1));
        let b = a.tick(5_000);
        assert!(b > a);
        let c = b.tick(20_000);
        assert_eq!(c, Hlc::from_physical_ms(20_000));
        assert_eq!(c.physical_ms(), 20_000);
        assert_eq!(c.counter(), 0);
    }

    #[test]
    fn manual_clock_reports_its_date_and_advances() {
        let clock = ManualClock::at_date(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert_eq!(clock.today().to_string(), "2026-11-25");
        clock.advance_days(7);
        assert_eq!(clock.today().to_string(), "2026-12-02");
    }
}
