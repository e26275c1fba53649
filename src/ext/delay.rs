//! XEP-0203: Delayed Delivery.
//!
//! A server or component that delivers a stanza late (offline storage, the
//! last presence of a contact, the history of a chat room) stamps it with a
//! `<delay xmlns='urn:xmpp:delay'/>` child carrying the time the stanza was
//! originally sent, optionally who delayed it and why. The time is a
//! XEP-0082 DateTime, [`DateTime`] here, a strict parser and formatter that
//! prints exactly what it parsed.
//!
//! ```
//! use minidom::Element;
//! use xmpp_kit::ext::{Payload, delay::{DateTime, Delay}};
//!
//! let element: Element = "<delay xmlns='urn:xmpp:delay' from='capulet.com' \
//!     stamp='2002-09-10T23:08:25Z'>Offline Storage</delay>".parse()?;
//! let delay = Delay::parse(&element)?;
//! assert_eq!(delay.stamp, "2002-09-10T23:08:25Z".parse::<DateTime>()?);
//! assert_eq!(delay.stamp.unix_timestamp(), 1_031_699_305);
//! assert_eq!(delay.from.as_ref().map(|j| j.as_str()), Some("capulet.com"));
//! assert_eq!(delay.reason.as_deref(), Some("Offline Storage"));
//! assert_eq!(delay.to_element(), element);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use minidom::Element;

use super::{Payload, PayloadError, expect, jid_attr, required_attr, set_attr, set_opt_attr};
use crate::jid::Jid;

/// The delayed delivery namespace.
pub const NS: &str = "urn:xmpp:delay";

/// The `<delay/>` child of a delayed stanza.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Delay {
    /// When the stanza was originally sent (the `stamp` attribute, required).
    /// XEP-0203 says it is expressed in UTC; other offsets are accepted and
    /// kept as written.
    pub stamp: DateTime,
    /// Who originally sent the stanza or delayed its delivery (for example a
    /// chat room), the `from` attribute.
    pub from: Option<Jid>,
    /// A natural-language reason for the delay: the character data of the
    /// element, as written (whitespace included). Empty text is no reason,
    /// so `Some("")` serializes like `None`.
    pub reason: Option<String>,
}

impl Delay {
    /// A delay stamped `stamp`, without `from` or reason.
    pub fn new(stamp: DateTime) -> Self {
        Self {
            stamp,
            from: None,
            reason: None,
        }
    }

    /// Sets who delayed the stanza.
    #[must_use]
    pub fn with_from(mut self, from: Jid) -> Self {
        self.from = Some(from);
        self
    }

    /// Sets the natural-language reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

impl Payload for Delay {
    fn matches(element: &Element) -> bool {
        element.is("delay", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "delay", NS)?;
        let stamp = required_attr(element, "stamp", "delay")?;
        let stamp = stamp.parse().map_err(|_| PayloadError::InvalidValue {
            element: "delay",
            what: "attribute 'stamp'",
            value: stamp.to_owned(),
        })?;
        let from = jid_attr(element, "from", "delay")?;
        let reason = element.text();
        Ok(Self {
            stamp,
            from,
            reason: (!reason.is_empty()).then_some(reason),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("delay", NS);
        set_opt_attr(&mut element, "from", self.from.as_ref().map(Jid::as_str));
        set_attr(&mut element, "stamp", self.stamp.to_string());
        if let Some(reason) = self.reason.as_deref().filter(|r| !r.is_empty()) {
            element.append_text_node(reason);
        }
        element
    }
}

// ---- DateTime -------------------------------------------------------------

/// The time zone definition (TZD) of a [`DateTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeZone {
    /// `Z`: UTC.
    Utc,
    /// `+hh:mm` or `-hh:mm`: this many minutes east of UTC (negative: west),
    /// at most 14 hours either way (the XML Schema bound). `Offset(0)` is
    /// written `+00:00`.
    Offset(i16),
    /// `-00:00`: the time is known in UTC but the local offset is unknown
    /// (RFC 3339 section 4.3).
    UnknownLocal,
}

impl TimeZone {
    /// Minutes east of UTC: 0 for [`Utc`](Self::Utc) and
    /// [`UnknownLocal`](Self::UnknownLocal).
    pub fn offset_minutes(self) -> i16 {
        match self {
            Self::Offset(minutes) => minutes,
            Self::Utc | Self::UnknownLocal => 0,
        }
    }
}

/// Why a string or a set of fields is not a valid [`DateTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateTimeError {
    /// The text is not of the form `CCYY-MM-DDThh:mm:ss[.sss]TZD`.
    #[error("not a date and time of the form CCYY-MM-DDThh:mm:ss[.sss]TZD")]
    Syntax,
    /// A field is out of its range, such as month 13, February 30 in a
    /// common year, hour 24 or an offset beyond 14 hours.
    #[error("the {field} is out of range")]
    OutOfRange {
        /// The field: `"year"`, `"month"`, `"day"`, `"hour"`, `"minute"`,
        /// `"second"`, `"fraction"` or `"offset"`.
        field: &'static str,
    },
}

/// A moment in time in the XEP-0082 DateTime profile,
/// `CCYY-MM-DDThh:mm:ss[.sss]TZD` (the XML Schema `dateTime` with a
/// mandatory time zone, which is also RFC 3339's `date-time` for years
/// 0000 to 9999).
///
/// Parsing is strict: separators `-`, `T`, `:`, `.` and `Z` exactly as
/// shown (upper case), two digits per field, at least one digit after a
/// `.`, a year of four or more digits (no leading zero beyond four digits,
/// optionally negative, not `-0000`), months 01–12, days valid for the month
/// (leap years in the proleptic Gregorian calendar), hours 00–23, minutes and
/// seconds 00–59 (no leap second, as XEP-0082 says), offsets up to ±14:00.
/// [`Display`](fmt::Display) writes back exactly the text that was parsed,
/// including the fraction digits as written and `Z` versus `+00:00`.
///
/// ```
/// use xmpp_kit::ext::delay::{DateTime, TimeZone};
///
/// // XEP-0082 example 3: the first human steps on the Moon, Houston time.
/// let t: DateTime = "1969-07-20T21:56:15-05:00".parse()?;
/// assert_eq!((t.year(), t.month(), t.day()), (1969, 7, 20));
/// assert_eq!(t.time_zone(), TimeZone::Offset(-300));
/// assert_eq!(t.unix_timestamp(), "1969-07-21T02:56:15Z".parse::<DateTime>()?.unix_timestamp());
/// assert_eq!(t.to_string(), "1969-07-20T21:56:15-05:00");
/// assert!("2023-02-29T00:00:00Z".parse::<DateTime>().is_err());
/// # Ok::<(), xmpp_kit::ext::delay::DateTimeError>(())
/// ```
///
/// Equality compares the written form: the same instant written with two
/// offsets gives two unequal values; compare [`unix_timestamp`](Self::unix_timestamp)
/// for instants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DateTime {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    fraction: Option<String>,
    time_zone: TimeZone,
}

impl DateTime {
    /// A date and time without fraction of a second.
    ///
    /// # Errors
    /// [`DateTimeError::OutOfRange`] for an invalid field (see the type docs).
    pub fn new(
        year: i32,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        time_zone: TimeZone,
    ) -> Result<Self, DateTimeError> {
        let out = |field| Err(DateTimeError::OutOfRange { field });
        if !(1..=12).contains(&month) {
            return out("month");
        }
        if day < 1 || day > days_in_month(year, month) {
            return out("day");
        }
        if hour > 23 {
            return out("hour");
        }
        if minute > 59 {
            return out("minute");
        }
        if second > 59 {
            return out("second");
        }
        if let TimeZone::Offset(minutes) = time_zone
            && minutes.unsigned_abs() > MAX_OFFSET_MINUTES
        {
            return out("offset");
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            fraction: None,
            time_zone,
        })
    }

    /// A date and time in UTC (`Z`), without fraction of a second.
    ///
    /// # Errors
    /// [`DateTimeError::OutOfRange`] for an invalid field.
    pub fn utc(
        year: i32,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, DateTimeError> {
        Self::new(year, month, day, hour, minute, second, TimeZone::Utc)
    }

    /// Sets the fraction of a second, as the digits written after the `.`
    /// (`"5"` is half a second, `"500"` too, but is written `.500`).
    ///
    /// # Errors
    /// [`DateTimeError::OutOfRange`] (field `"fraction"`) unless `digits` is
    /// one or more ASCII digits.
    pub fn with_fraction(mut self, digits: &str) -> Result<Self, DateTimeError> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DateTimeError::OutOfRange { field: "fraction" });
        }
        self.fraction = Some(digits.to_owned());
        Ok(self)
    }

    /// Removes the fraction of a second.
    #[must_use]
    pub fn without_fraction(mut self) -> Self {
        self.fraction = None;
        self
    }

    /// The moment `seconds` after 1970-01-01T00:00:00Z, in UTC (`Z`).
    ///
    /// # Errors
    /// [`DateTimeError::OutOfRange`] (field `"year"`) when the year does not
    /// fit an `i32`.
    pub fn from_unix_timestamp(seconds: i64) -> Result<Self, DateTimeError> {
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let in_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let year = i32::try_from(year).map_err(|_| DateTimeError::OutOfRange { field: "year" })?;
        // in_day < 86400, so each part fits.
        let hour = u8::try_from(in_day / 3600).unwrap_or(0);
        let minute = u8::try_from(in_day % 3600 / 60).unwrap_or(0);
        let second = u8::try_from(in_day % 60).unwrap_or(0);
        Self::utc(year, month, day, hour, minute, second)
    }

    /// The year (negative before year 0, which is 1 BCE).
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The hour, 0 to 23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0 to 59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// The second, 0 to 59.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The fraction of a second as written: the digits after the `.`.
    pub fn fraction(&self) -> Option<&str> {
        self.fraction.as_deref()
    }

    /// The fraction of a second in nanoseconds (digits beyond the ninth are
    /// dropped).
    pub fn nanosecond(&self) -> u32 {
        let Some(digits) = self.fraction.as_deref() else {
            return 0;
        };
        let mut nanos = 0u32;
        let mut written = 0;
        for digit in digits.chars().take(9) {
            nanos = nanos * 10 + digit.to_digit(10).unwrap_or(0);
            written += 1;
        }
        for _ in written..9 {
            nanos *= 10;
        }
        nanos
    }

    /// The time zone definition.
    pub fn time_zone(&self) -> TimeZone {
        self.time_zone
    }

    /// The offset from UTC in minutes (0 for `Z`).
    pub fn offset_minutes(&self) -> i16 {
        self.time_zone.offset_minutes()
    }

    /// Whole seconds since 1970-01-01T00:00:00Z (negative before), the
    /// offset applied and the fraction ignored. Use it to compare instants.
    pub fn unix_timestamp(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        days * SECONDS_PER_DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes()) * 60
    }
}

impl FromStr for DateTime {
    type Err = DateTimeError;

    fn from_str(s: &str) -> Result<Self, DateTimeError> {
        let mut cursor = Cursor(s.as_bytes());
        let negative = cursor.eat(b'-');
        let year_digits = cursor.digits();
        if year_digits.len() < 4 || (year_digits.len() > 4 && year_digits.first() == Some(&b'0')) {
            return Err(DateTimeError::Syntax);
        }
        let out_of_range = DateTimeError::OutOfRange { field: "year" };
        let mut magnitude: i64 = 0;
        for &digit in year_digits {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|y| y.checked_add(i64::from(digit - b'0')))
                .ok_or(out_of_range)?;
        }
        if negative && magnitude == 0 {
            return Err(out_of_range);
        }
        let year = i32::try_from(if negative { -magnitude } else { magnitude })
            .map_err(|_| out_of_range)?;
        cursor.expect(b'-')?;
        let month = cursor.two_digits()?;
        cursor.expect(b'-')?;
        let day = cursor.two_digits()?;
        cursor.expect(b'T')?;
        let hour = cursor.two_digits()?;
        cursor.expect(b':')?;
        let minute = cursor.two_digits()?;
        cursor.expect(b':')?;
        let second = cursor.two_digits()?;
        let fraction = if cursor.eat(b'.') {
            let digits = cursor.digits();
            if digits.is_empty() {
                return Err(DateTimeError::Syntax);
            }
            // Only ASCII digits, so valid UTF-8.
            Some(String::from_utf8_lossy(digits).into_owned())
        } else {
            None
        };
        let time_zone = if cursor.eat(b'Z') {
            TimeZone::Utc
        } else {
            let sign: i16 = if cursor.eat(b'+') {
                1
            } else if cursor.eat(b'-') {
                -1
            } else {
                return Err(DateTimeError::Syntax);
            };
            let hours = cursor.two_digits()?;
            cursor.expect(b':')?;
            let minutes = cursor.two_digits()?;
            if minutes > 59 {
                return Err(DateTimeError::OutOfRange { field: "offset" });
            }
            let total = i16::from(hours) * 60 + i16::from(minutes);
            if total.unsigned_abs() > MAX_OFFSET_MINUTES {
                return Err(DateTimeError::OutOfRange { field: "offset" });
            }
            if total == 0 && sign < 0 {
                TimeZone::UnknownLocal
            } else {
                TimeZone::Offset(sign * total)
            }
        };
        if !cursor.0.is_empty() {
            return Err(DateTimeError::Syntax);
        }
        let mut value = Self::new(year, month, day, hour, minute, second, time_zone)?;
        value.fraction = fraction;
        Ok(value)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.year < 0 {
            write!(f, "-{:04}", self.year.unsigned_abs())?;
        } else {
            write!(f, "{:04}", self.year)?;
        }
        write!(
            f,
            "-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.month, self.day, self.hour, self.minute, self.second
        )?;
        if let Some(fraction) = &self.fraction {
            write!(f, ".{fraction}")?;
        }
        match self.time_zone {
            TimeZone::Utc => f.write_str("Z"),
            TimeZone::UnknownLocal => f.write_str("-00:00"),
            TimeZone::Offset(minutes) => {
                let sign = if minutes < 0 { '-' } else { '+' };
                let minutes = minutes.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", minutes / 60, minutes % 60)
            }
        }
    }
}

const SECONDS_PER_DAY: i64 = 86_400;
const MAX_OFFSET_MINUTES: u16 = 14 * 60;

/// A tiny byte cursor for the parser; never indexes out of bounds.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn eat(&mut self, byte: u8) -> bool {
        match self.0.split_first() {
            Some((&first, rest)) if first == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), DateTimeError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(DateTimeError::Syntax)
        }
    }

    fn digits(&mut self) -> &'a [u8] {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.0.split_at(n);
        self.0 = rest;
        digits
    }

    fn two_digits(&mut self) -> Result<u8, DateTimeError> {
        match self.0 {
            [a, b, rest @ ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
                self.0 = rest;
                Ok((a - b'0') * 10 + (b - b'0'))
            }
            _ => Err(DateTimeError::Syntax),
        }
    }
}

fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // month is 1..=12 and day 1..=31 by construction.
    (
        year,
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    /// XEP-0082 examples 2 and 3 (the first human steps on the Moon).
    #[test]
    fn xep_0082_examples() {
        let utc = dt("1969-07-21T02:56:15Z");
        assert_eq!(
            (
                utc.year(),
                utc.month(),
                utc.day(),
                utc.hour(),
                utc.minute(),
                utc.second()
            ),
            (1969, 7, 21, 2, 56, 15)
        );
        assert_eq!(utc.time_zone(), TimeZone::Utc);
        assert_eq!(utc.fraction(), None);
        let houston = dt("1969-07-20T21:56:15-05:00");
        assert_eq!(houston.offset_minutes(), -300);
        assert_eq!(houston.unix_timestamp(), utc.unix_timestamp());
        assert_eq!(utc.unix_timestamp(), -14_159_025);
        assert_ne!(houston, utc);
        assert_eq!(houston.to_string(), "1969-07-20T21:56:15-05:00");
    }

    #[test]
    fn display_round_trips_exactly() {
        for s in [
            "2002-09-10T23:08:25Z",
            "2002-09-10T23:08:25.1Z",
            "2002-09-10T23:08:25.000Z",
            "2002-09-10T23:08:25.123456789012+14:00",
            "2000-02-29T00:00:00+00:00",
            "2000-02-29T00:00:00-00:00",
            "1600-02-29T12:30:00-14:00",
            "0000-01-01T00:00:00Z",
            "-0044-03-15T12:00:00Z",
            "12345-12-31T23:59:59+05:30",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(dt(s).to_string(), s);
        }
        assert_eq!(
            dt("2000-02-29T00:00:00-00:00").time_zone(),
            TimeZone::UnknownLocal
        );
        assert_eq!(
            dt("2000-02-29T00:00:00+00:00").time_zone(),
            TimeZone::Offset(0)
        );
    }

    #[test]
    fn fractions() {
        assert_eq!(dt("2002-09-10T23:08:25.5Z").nanosecond(), 500_000_000);
        assert_eq!(dt("2002-09-10T23:08:25.000001Z").nanosecond(), 1_000);
        assert_eq!(
            dt("2002-09-10T23:08:25.1234567899Z").nanosecond(),
            123_456_789
        );
        assert_eq!(dt("2002-09-10T23:08:25Z").nanosecond(), 0);
        let t = DateTime::utc(2002, 9, 10, 23, 8, 25).unwrap();
        assert_eq!(
            t.clone().with_fraction("250").unwrap().to_string(),
            "2002-09-10T23:08:25.250Z"
        );
        assert_eq!(
            t.clone().with_fraction(""),
            Err(DateTimeError::OutOfRange { field: "fraction" })
        );
        assert_eq!(
            t.clone().with_fraction("1a"),
            Err(DateTimeError::OutOfRange { field: "fraction" })
        );
        assert_eq!(t.clone().with_fraction("5").unwrap().without_fraction(), t);
    }

    #[test]
    fn syntax_errors() {
        for s in [
            "",
            "2002",
            "2002-09-10",
            "2002-09-10T23:08:25",
            "2002-09-10 23:08:25Z",
            "2002-09-10t23:08:25Z",
            "2002-09-10T23:08:25z",
            "20020910T23:08:25Z",
            "02-09-10T23:08:25Z",
            "002002-09-10T23:08:25Z",
            "+2002-09-10T23:08:25Z",
            "2002-9-10T23:08:25Z",
            "2002-09-10T23:08:25.Z",
            "2002-09-10T23:08Z",
            "2002-09-10T23:08:25+0100",
            "2002-09-10T23:08:25+01",
            "2002-09-10T23:08:25Z ",
            " 2002-09-10T23:08:25Z",
            "2002-09-10T23:08:25ZZ",
            "2002-09-10T23:08:25\u{ff10}Z",
            "２００２-09-10T23:08:25Z",
            "--2002-09-10T23:08:25Z",
        ] {
            assert_eq!(s.parse::<DateTime>(), Err(DateTimeError::Syntax), "{s:?}");
        }
    }

    #[test]
    fn range_errors() {
        for (s, field) in [
            ("2002-00-10T23:08:25Z", "month"),
            ("2002-13-10T23:08:25Z", "month"),
            ("2002-09-00T23:08:25Z", "day"),
            ("2002-09-31T23:08:25Z", "day"),
            ("2002-01-32T23:08:25Z", "day"),
            ("2023-02-29T00:00:00Z", "day"),
            ("1900-02-29T00:00:00Z", "day"),
            ("2002-09-10T24:00:00Z", "hour"),
            ("2002-09-10T23:60:25Z", "minute"),
            ("2002-09-10T23:59:60Z", "second"),
            ("2002-09-10T23:08:25+14:01", "offset"),
            ("2002-09-10T23:08:25-15:00", "offset"),
            ("2002-09-10T23:08:25+01:60", "offset"),
            ("-0000-01-01T00:00:00Z", "year"),
            ("99999999999-01-01T00:00:00Z", "year"),
        ] {
            assert_eq!(
                s.parse::<DateTime>(),
                Err(DateTimeError::OutOfRange { field }),
                "{s:?}"
            );
        }
        assert!("2000-02-29T00:00:00Z".parse::<DateTime>().is_ok());
        assert!("2024-02-29T00:00:00Z".parse::<DateTime>().is_ok());
        assert!("-0001-02-29T00:00:00Z".parse::<DateTime>().is_err());
        assert!("-0004-02-29T00:00:00Z".parse::<DateTime>().is_ok());
        assert_eq!(
            DateTime::new(2002, 9, 10, 0, 0, 0, TimeZone::Offset(-841)),
            Err(DateTimeError::OutOfRange { field: "offset" })
        );
    }

    #[test]
    fn unix_timestamps() {
        assert_eq!(dt("1970-01-01T00:00:00Z").unix_timestamp(), 0);
        assert_eq!(dt("1970-01-01T01:00:00+01:00").unix_timestamp(), 0);
        assert_eq!(dt("2000-03-01T00:00:00Z").unix_timestamp(), 951_868_800);
        assert_eq!(dt("1969-12-31T23:59:59Z").unix_timestamp(), -1);
        for seconds in [
            0,
            -1,
            951_868_800,
            1_031_699_305,
            -62_135_596_800,
            253_402_300_799,
            -14_159_025,
        ] {
            let t = DateTime::from_unix_timestamp(seconds).unwrap();
            assert_eq!(t.unix_timestamp(), seconds, "{t}");
        }
        assert_eq!(
            DateTime::from_unix_timestamp(-62_135_596_800)
                .unwrap()
                .to_string(),
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(
            DateTime::from_unix_timestamp(1_031_699_305)
                .unwrap()
                .to_string(),
            "2002-09-10T23:08:25Z"
        );
        assert_eq!(
            DateTime::from_unix_timestamp(i64::MAX),
            Err(DateTimeError::OutOfRange { field: "year" })
        );
        let max = dt("2147483647-12-31T23:59:59-14:00");
        assert_eq!(
            DateTime::from_unix_timestamp(max.unix_timestamp() - 14 * 3600)
                .unwrap()
                .year(),
            i32::MAX
        );
        let min = dt("-2147483648-01-01T00:00:00+14:00");
        assert_eq!(min.year(), i32::MIN);
        assert_eq!(min.to_string(), "-2147483648-01-01T00:00:00+14:00");
        assert!(min.unix_timestamp() < 0);
        assert_eq!(
            "2147483648-01-01T00:00:00Z".parse::<DateTime>(),
            Err(DateTimeError::OutOfRange { field: "year" })
        );
    }

    /// XEP-0203 example 1 (a message sent while offline), the payload.
    #[test]
    fn xep_0203_example_1() {
        let e: Element = "<delay xmlns='urn:xmpp:delay'
             from='capulet.com'
             stamp='2002-09-10T23:08:25Z'>
            Offline Storage
          </delay>"
            .parse()
            .unwrap();
        assert!(Delay::matches(&e));
        let delay = Delay::parse(&e).unwrap();
        assert_eq!(delay.stamp, DateTime::utc(2002, 9, 10, 23, 8, 25).unwrap());
        assert_eq!(delay.from, Some("capulet.com".parse().unwrap()));
        assert_eq!(
            delay.reason.as_deref().map(str::trim),
            Some("Offline Storage")
        );
        assert_eq!(delay.to_element(), e);
        assert_eq!(Delay::parse(&delay.to_element()).unwrap(), delay);
    }

    /// XEP-0203 examples 2 (last presence) and 3 (chat room history).
    #[test]
    fn xep_0203_examples_2_and_3() {
        let e: Element = "<delay xmlns='urn:xmpp:delay'
             from='juliet@capulet.com/balcony'
             stamp='2002-09-10T23:41:07Z'/>"
            .parse()
            .unwrap();
        let delay = Delay::parse(&e).unwrap();
        assert_eq!(delay.from.as_ref().and_then(Jid::resource), Some("balcony"));
        assert_eq!(delay.reason, None);
        assert_eq!(delay.to_element(), e);

        let e: Element = "<delay xmlns='urn:xmpp:delay'
             from='coven@macbeth.shakespeare.lit'
             stamp='2002-09-10T23:05:37Z'/>"
            .parse()
            .unwrap();
        let delay = Delay::parse(&e).unwrap();
        assert_eq!(delay.stamp.to_string(), "2002-09-10T23:05:37Z");
        assert_eq!(delay.to_element(), e);
    }

    #[test]
    fn builders_and_unknown_content() {
        let delay = Delay::new(dt("2002-09-10T23:08:25.123+02:00"))
            .with_from("capulet.com".parse().unwrap())
            .with_reason("Offline Storage");
        assert_eq!(Delay::parse(&delay.to_element()).unwrap(), delay);
        let e: Element = "<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z' foo='bar'><x xmlns='urn:x'/></delay>"
            .parse()
            .unwrap();
        assert_eq!(
            Delay::parse(&e).unwrap(),
            Delay::new(dt("2002-09-10T23:08:25Z"))
        );
        // Empty reason is no reason.
        let delay = Delay::new(dt("2002-09-10T23:08:25Z")).with_reason("");
        assert_eq!(Delay::parse(&delay.to_element()).unwrap().reason, None);
    }

    #[test]
    fn malformed_delays() {
        let parse = |s: &str| Delay::parse(&s.parse::<Element>().unwrap());
        assert_eq!(
            parse("<delay xmlns='urn:xmpp:delay' from='capulet.com'/>"),
            Err(PayloadError::MissingAttribute {
                element: "delay",
                attribute: "stamp"
            })
        );
        assert_eq!(
            parse("<delay xmlns='urn:xmpp:delay' stamp='20020910T23:08:25'/>"),
            Err(PayloadError::InvalidValue {
                element: "delay",
                what: "attribute 'stamp'",
                value: "20020910T23:08:25".into()
            })
        );
        assert!(matches!(
            parse(
                "<delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z' from='@capulet.com'/>"
            ),
            Err(PayloadError::InvalidJid {
                element: "delay",
                ..
            })
        ));
        // The legacy XEP-0091 element is another payload.
        let legacy: Element = "<x xmlns='jabber:x:delay' stamp='20020910T23:08:25'/>"
            .parse()
            .unwrap();
        assert!(!Delay::matches(&legacy));
        assert!(matches!(
            Delay::parse(&legacy),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
