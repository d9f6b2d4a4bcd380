//! Maintenance windows: when an agent may switch (or download). Written as
//! `"DAYS HH:MM-HH:MM"` in local time, several joined by `;`:
//! `"Sat 01:00-05:00"`, `"daily 02:00-04:00"`, `"Mon-Fri 22:00-06:00"`
//! (past midnight: the window belongs to the day it opens on),
//! `"Sat,Sun 00:00-24:00"`. DAYS is `daily`, `weekdays`, `weekends`, a day
//! (`Mon` … `Sun`), a range (`Mon-Fri`) or a comma list of those.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Weekday};
use jiff::{ToSpan, Zoned};

/// A maintenance window: one or more weekly intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    text: String,
    specs: Vec<Spec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spec {
    /// Monday first.
    days: [bool; 7],
    /// Minutes after midnight.
    start: u16,
    /// Minutes after midnight; at or before `start`: the next day.
    end: u16,
}

/// A window that does not parse, with the text and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "maintenance window {text:?}: {reason} (expected e.g. \"Sat 01:00-05:00\" or \"daily 02:00-04:00\")"
)]
pub struct WindowError {
    /// The window as written.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `Sat` or `Saturday` (any case), Monday = 0.
fn day_index(word: &str) -> Option<usize> {
    let w = word.trim().to_ascii_lowercase();
    DAYS.iter()
        .position(|d| *d == w || (w.len() == 3 && d.starts_with(&w)))
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for part in text.split(',') {
        let part = part.trim();
        match part.to_ascii_lowercase().as_str() {
            "daily" | "everyday" | "*" => days = [true; 7],
            "weekdays" => days[..5].iter_mut().for_each(|d| *d = true),
            "weekends" => days[5..].iter_mut().for_each(|d| *d = true),
            _ => {
                let (a, b) = part.split_once('-').unwrap_or((part, part));
                let from = day_index(a).ok_or_else(|| format!("unknown day {a:?}"))?;
                let to = day_index(b).ok_or_else(|| format!("unknown day {b:?}"))?;
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
        }
    }
    Ok(days)
}

fn parse_time(text: &str) -> Result<u16, String> {
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| format!("time {text:?} is not HH:MM"))?;
    let h: u16 = h
        .parse()
        .map_err(|_| format!("time {text:?} is not HH:MM"))?;
    let m: u16 = m
        .parse()
        .map_err(|_| format!("time {text:?} is not HH:MM"))?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(format!("time {text:?} is out of range"));
    }
    Ok(h * 60 + m)
}

fn parse_spec(text: &str) -> Result<Spec, String> {
    let (days, times) = text
        .trim()
        .rsplit_once(char::is_whitespace)
        .ok_or_else(|| "missing the days or the times".to_owned())?;
    let (start, end) = times
        .split_once('-')
        .ok_or_else(|| format!("{times:?} is not HH:MM-HH:MM"))?;
    Ok(Spec {
        days: parse_days(days.trim())?,
        start: parse_time(start)?,
        end: parse_time(end)?,
    })
}

impl FromStr for Window {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let specs = text
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .map(parse_spec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| WindowError {
                text: text.to_owned(),
                reason,
            })?;
        if specs.is_empty() {
            return Err(WindowError {
                text: text.to_owned(),
                reason: "it is empty".to_owned(),
            });
        }
        Ok(Self {
            text: text.to_owned(),
            specs,
        })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

impl Spec {
    fn is_open(&self, t: DateTime) -> bool {
        let minute = t.hour() as u16 * 60 + t.minute() as u16;
        let today = weekday_index(t.weekday());
        let yesterday = (today + 6) % 7;
        if self.start < self.end {
            self.days[today] && (self.start..self.end).contains(&minute)
        } else {
            // Past midnight (or all day when start == end).
            (self.days[today] && minute >= self.start)
                || (self.days[yesterday] && minute < self.end)
        }
    }
}

impl Window {
    /// Whether the window is open at local civil time `t`.
    pub fn is_open(&self, t: DateTime) -> bool {
        self.specs.iter().any(|s| s.is_open(t))
    }

    /// When the window next opens: `now` itself when it is open, else the
    /// earliest opening within the coming week (in `now`'s time zone).
    pub fn next_open(&self, now: &Zoned) -> Option<Zoned> {
        if self.is_open(now.datetime()) {
            return Some(now.clone());
        }
        let today: Date = now.date();
        (0..=7i64)
            .filter_map(|d| today.checked_add(d.days()).ok())
            .flat_map(|date| {
                self.specs
                    .iter()
                    .filter(move |s| s.days[weekday_index(date.weekday())])
                    .filter_map(move |s| {
                        let (h, m) = ((s.start / 60) as i8, (s.start % 60) as i8);
                        // 24:00 as a start is the next day's midnight.
                        let at = if h == 24 {
                            date.checked_add(1.day()).ok()?.at(0, 0, 0, 0)
                        } else {
                            date.at(h, m, 0, 0)
                        };
                        at.to_zoned(now.time_zone().clone()).ok()
                    })
            })
            .filter(|z| z > now)
            .min()
    }
}

/// `today 02:00`, `tomorrow 02:00`, `Sat 01:00` (within a week), else the date.
pub fn describe_when(when: &Zoned, now: &Zoned) -> String {
    let days = (when.date() - now.date()).get_days();
    let hm = when.strftime("%H:%M");
    match days {
        0 => format!("today {hm}"),
        1 => format!("tomorrow {hm}"),
        2..=6 => format!("{} {hm}", when.strftime("%a")),
        _ => when.strftime("%Y-%m-%d %H:%M").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    fn zoned(s: &str) -> Zoned {
        at(s).to_zoned(jiff::tz::TimeZone::UTC).unwrap()
    }

    #[test]
    fn a_saturday_window_is_open_on_saturday_night_only() {
        let w: Window = "Sat 01:00-05:00".parse().unwrap();
        // 2026-12-05 is a Saturday.
        assert!(w.is_open(at("2026-12-05T01:00")));
        assert!(w.is_open(at("2026-12-05T04:59")));
        assert!(!w.is_open(at("2026-12-05T05:00")));
        assert!(!w.is_open(at("2026-12-05T00:59")));
        assert!(!w.is_open(at("2026-12-06T02:00")));
    }

    #[test]
    fn an_overnight_window_belongs_to_the_day_it_opens_on() {
        let w: Window = "Mon-Fri 22:00-06:00".parse().unwrap();
        // Friday 23:00 and Saturday 05:00 are inside; Saturday 23:00 is not.
        assert!(w.is_open(at("2026-12-04T23:00")));
        assert!(w.is_open(at("2026-12-05T05:00")));
        assert!(!w.is_open(at("2026-12-05T23:00")));
        // Monday 03:00 belongs to Sunday night: closed.
        assert!(!w.is_open(at("2026-12-07T03:00")));
    }

    #[test]
    fn daily_and_lists_and_several_intervals_parse() {
        let w: Window = "daily 02:00-04:00; Sat,Sun 12:00-13:00".parse().unwrap();
        assert!(w.is_open(at("2026-12-02T03:00")));
        assert!(w.is_open(at("2026-12-06T12:30")));
        assert!(!w.is_open(at("2026-12-02T12:30")));
        let all: Window = "weekends 00:00-24:00".parse().unwrap();
        assert!(all.is_open(at("2026-12-06T23:59")));
        assert!(!all.is_open(at("2026-12-07T00:00")));
    }

    #[test]
    fn the_next_opening_is_today_tomorrow_or_next_week() {
        let w: Window = "daily 02:00-04:00".parse().unwrap();
        let evening = zoned("2026-12-02T20:00");
        assert_eq!(w.next_open(&evening), Some(zoned("2026-12-03T02:00")));
        let night = zoned("2026-12-02T01:00");
        assert_eq!(w.next_open(&night), Some(zoned("2026-12-02T02:00")));
        let inside = zoned("2026-12-02T03:00");
        assert_eq!(w.next_open(&inside), Some(inside.clone()));
        let sat: Window = "Sat 01:00-05:00".parse().unwrap();
        let after = zoned("2026-12-05T06:00");
        assert_eq!(sat.next_open(&after), Some(zoned("2026-12-12T01:00")));
    }

    #[test]
    fn openings_are_described_relative_to_today() {
        let now = zoned("2026-12-02T20:00");
        assert_eq!(
            describe_when(&zoned("2026-12-02T22:00"), &now),
            "today 22:00"
        );
        assert_eq!(
            describe_when(&zoned("2026-12-03T02:00"), &now),
            "tomorrow 02:00"
        );
        assert_eq!(describe_when(&zoned("2026-12-05T01:00"), &now), "Sat 01:00");
        assert_eq!(
            describe_when(&zoned("2026-12-12T01:00"), &now),
            "2026-12-12 01:00"
        );
    }

    #[test]
    fn bad_windows_are_refused_with_the_text_and_the_reason() {
        for (text, reason) in [
            ("Sat", "missing"),
            ("Sut 01:00-02:00", "unknown day"),
            ("daily 25:00-02:00", "out of range"),
            ("daily 0100-0200", "HH:MM"),
            ("", "empty"),
        ] {
            let err = text.parse::<Window>().unwrap_err().to_string();
            assert!(err.contains(reason) && err.contains(text), "{text}: {err}");
        }
    }
}
