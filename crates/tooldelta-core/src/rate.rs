//! The bandwidth cap: one token bucket ([`RateLimiter`]) shared by every
//! download of a process — the engine's objects, chunk ranges and segments
//! alike, and the mirror's pull-through from its upstream — with an optional
//! daily schedule ([`RateSchedule`]).
//!
//! Syntax of a rate (`--max-rate`, `max_rate`, `--upstream-max-rate`):
//!
//! ```text
//! 20MiB                              20 MiB/s all day ("/s" optional)
//! 500K, 2.5MB, 1GiB, 1048576         K/M/G = KiB/MiB/GiB; KB/MB/GB decimal
//! 09:00-18:00=10MiB                  10 MiB/s from 09:00 to 18:00 local time, else unlimited
//! 09:00-18:00=10MiB,22:00-06:00=50MiB,100MiB   several windows, then the rest of the day
//! unlimited                          no cap
//! ```
//!
//! The first window that contains the local time wins; a window may wrap
//! past midnight; the bare rate (if any) applies outside every window.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

/// How much a line may run ahead after an idle spell: short, so the rate
/// holds over any second, long enough that timers do not dominate.
const BURST: Duration = Duration::from_millis(50);

/// A rate text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad rate {text:?}: {cause} (e.g. `20MiB`, `09:00-18:00=10MiB,unlimited`)")]
pub struct RateError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub cause: String,
}

/// A cap that may change with the time of day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateSchedule {
    windows: Vec<Window>,
    /// Bytes per second outside every window; `None` is unlimited.
    otherwise: Option<u64>,
}

/// `from-to=rate`, minutes since local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    from: u16,
    to: u16,
    rate: Option<u64>,
}

impl Window {
    fn contains(self, minute: u16) -> bool {
        if self.from <= self.to {
            (self.from..self.to).contains(&minute)
        } else {
            minute >= self.from || minute < self.to
        }
    }
}

impl RateSchedule {
    /// A constant cap of `bytes_per_sec`.
    pub fn constant(bytes_per_sec: u64) -> Self {
        Self {
            windows: Vec::new(),
            otherwise: Some(bytes_per_sec),
        }
    }

    /// Parses the syntax of the module documentation.
    pub fn parse(text: &str) -> Result<Self, RateError> {
        let err = |cause: &str| RateError {
            text: text.to_owned(),
            cause: cause.to_owned(),
        };
        let mut out = Self::default();
        let mut bare = None;
        for part in text.split(',').map(str::trim) {
            if let Some((window, rate)) = part.split_once('=') {
                let (from, to) = window
                    .split_once('-')
                    .ok_or_else(|| err("a window is HH:MM-HH:MM"))?;
                out.windows.push(Window {
                    from: minute_of(from.trim()).ok_or_else(|| err("a time is HH:MM"))?,
                    to: minute_of(to.trim()).ok_or_else(|| err("a time is HH:MM"))?,
                    rate: parse_rate(rate.trim()).map_err(|c| err(&c))?,
                });
            } else if bare.is_some() {
                return Err(err("only one rate outside the windows"));
            } else {
                bare = Some(parse_rate(part).map_err(|c| err(&c))?);
            }
        }
        out.otherwise = bare.flatten();
        Ok(out)
    }

    /// The cap in force at `minute` past local midnight; `None`: unlimited.
    pub fn at_minute(&self, minute: u16) -> Option<u64> {
        self.windows
            .iter()
            .find(|w| w.contains(minute))
            .map_or(self.otherwise, |w| w.rate)
    }

    /// The cap in force now (local time).
    pub fn now(&self) -> Option<u64> {
        if self.windows.is_empty() {
            return self.otherwise;
        }
        let now = jiff::Zoned::now();
        let minute =
            u16::try_from(now.hour()).unwrap_or(0) * 60 + u16::try_from(now.minute()).unwrap_or(0);
        self.at_minute(minute)
    }

    /// Whether this schedule never caps anything.
    pub fn is_unlimited(&self) -> bool {
        self.otherwise.is_none() && self.windows.iter().all(|w| w.rate.is_none())
    }
}

fn minute_of(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some((h * 60 + m) % (24 * 60))
}

/// `20MiB`, `20MiB/s`, `500K`, `2.5MB`, `1048576`, `unlimited` (`None`).
fn parse_rate(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    let text = text.strip_suffix("/s").unwrap_or(text);
    if matches!(text, "unlimited" | "none" | "0") {
        return Ok(None);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a number of bytes per second"))?;
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "K" | "KiB" | "k" => 1024.0,
        "KB" | "kB" => 1e3,
        "M" | "MiB" => 1024.0 * 1024.0,
        "MB" => 1e6,
        "G" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "GB" => 1e9,
        other => return Err(format!("unknown unit {other:?}")),
    };
    let bytes = (number * scale).round();
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!("{text:?} is out of range"));
    }
    // In range: the cast is exact enough for a rate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(bytes as u64))
}

/// A token bucket shared by every body read through it (see [`Body::rate`]).
///
/// Each read books the next free slot of the line (generic cell rate
/// algorithm: a theoretical arrival time, at most [`BURST`] ahead of now), so
/// concurrent downloads share the rate and an idle line banks no more.
///
/// [`Body::rate`]: crate::stream::Body::rate
#[derive(Debug)]
pub struct RateLimiter {
    schedule: RateSchedule,
    tat: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter following `schedule`.
    pub fn new(schedule: RateSchedule) -> Self {
        Self {
            schedule,
            tat: Mutex::new(None),
        }
    }

    /// The process's limiter for `schedule`: every fetcher of the process
    /// with this cap (an app builds a new engine when its settings change)
    /// shares the one bucket while any of them lives.
    pub fn shared(schedule: &RateSchedule) -> Arc<Self> {
        static SHARED: Mutex<Option<Weak<RateLimiter>>> = Mutex::new(None);
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(limiter) = shared.as_ref().and_then(Weak::upgrade)
            && limiter.schedule == *schedule
        {
            return limiter;
        }
        let limiter = Arc::new(Self::new(schedule.clone()));
        *shared = Some(Arc::downgrade(&limiter));
        limiter
    }

    /// The cap in force now, bytes per second (`None`: unlimited).
    pub fn current(&self) -> Option<u64> {
        self.schedule.now()
    }

    /// Waits until `n` more bytes may pass.
    pub async fn acquire(&self, n: u64) {
        if let Some(wait) = self.book(n, Instant::now()) {
            tokio::time::sleep_until(wait).await;
        }
    }

    /// Books `n` bytes at `now`; returns when they may pass, if later than now.
    fn book(&self, n: u64, now: Instant) -> Option<Instant> {
        let rate = self.current()?;
        let mut tat = self
            .tat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = tat.map_or(now, |t| t.max(now));
        let nanos = u128::from(n) * 1_000_000_000 / u128::from(rate.max(1));
        let end = start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        *tat = Some(end);
        let at = end.checked_sub(BURST).unwrap_or(now);
        (at > now).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_binary_and_decimal_units() {
        let rate = |t| parse_rate(t).unwrap();
        assert_eq!(rate("20MiB"), Some(20 << 20));
        assert_eq!(rate("20MiB/s"), Some(20 << 20));
        assert_eq!(rate("20M"), Some(20 << 20));
        assert_eq!(rate("2.5MB"), Some(2_500_000));
        assert_eq!(rate("500K"), Some(500 << 10));
        assert_eq!(rate("1048576"), Some(1 << 20));
        assert_eq!(rate("unlimited"), None);
        assert!(parse_rate("20 furlongs").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn a_schedule_picks_the_first_window_and_wraps_past_midnight() {
        let s = RateSchedule::parse("09:00-18:00=10MiB, 22:00-06:00=50MiB, 100MiB").unwrap();
        assert_eq!(s.at_minute(9 * 60), Some(10 << 20));
        assert_eq!(s.at_minute(18 * 60 - 1), Some(10 << 20));
        assert_eq!(s.at_minute(18 * 60), Some(100 << 20));
        assert_eq!(s.at_minute(23 * 60), Some(50 << 20));
        assert_eq!(s.at_minute(60), Some(50 << 20));
        let office = RateSchedule::parse("09:00-18:00=10MiB").unwrap();
        assert_eq!(office.at_minute(20 * 60), None, "unlimited otherwise");
        assert!(!office.is_unlimited());
        assert!(RateSchedule::parse("unlimited").unwrap().is_unlimited());
    }

    #[test]
    fn bad_schedules_name_the_text() {
        for bad in ["9-18=1M", "09:00-18:00=", "1M,2M", "25:00-01:00=1M"] {
            let err = RateSchedule::parse(bad).unwrap_err();
            assert_eq!(err.text, bad);
        }
    }

    #[test]
    fn bookings_pace_the_line_after_a_short_burst() {
        let limiter = RateLimiter::new(RateSchedule::constant(1000));
        let now = Instant::now();
        // 50 bytes fit in the 50 ms burst; the next 500 wait 500 ms more.
        assert_eq!(limiter.book(50, now), None);
        let at = limiter.book(500, now).unwrap();
        assert_eq!(at - now, Duration::from_millis(500));
        // A second line shares the same budget.
        let at = limiter.book(1000, now).unwrap();
        assert_eq!(at - now, Duration::from_millis(1500));
        // Unlimited never waits.
        let free = RateLimiter::new(RateSchedule::default());
        assert_eq!(free.book(1 << 40, now), None);
    }
}
