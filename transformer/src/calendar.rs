//! Civil dates and UTC instants as whole numbers, so that schedule start dates can be moved
//! between time zones without a clock or a time-zone database: the transformer is offline and
//! deterministic, and a schedule's own fields give its zone's offset on its start day.

/// Minutes in a day.
pub const DAY: i64 = 24 * 60;

/// A calendar date as days since 1970-01-01 (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub i64);

impl Date {
    /// `yyyy-mm-dd`, validated.
    pub fn parse_iso(text: &str) -> Option<Date> {
        let mut parts = text.trim().splitn(3, '-');
        let year: i64 = number(parts.next()?, 4)?;
        let month: i64 = number(parts.next()?, 2)?;
        let day: i64 = number(parts.next()?, 2)?;
        Date::from_civil(year, month, day)
    }

    pub fn from_civil(year: i64, month: i64, day: i64) -> Option<Date> {
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil: years start in March, so leap days come last.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Some(Date(era * 146_097 + day_of_era - 719_468))
    }

    /// (year, month, day).
    pub fn civil(self) -> (i64, i64, i64) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    /// `mm/dd/yyyy`, as Qualys's create calls take dates.
    pub fn us(self) -> String {
        let (year, month, day) = self.civil();
        format!("{month:02}/{day:02}/{year:04}")
    }

    pub fn iso(self) -> String {
        let (year, month, day) = self.civil();
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// A UTC instant as minutes since 1970-01-01T00:00Z; seconds are dropped (schedules start on
/// a minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub i64);

impl Instant {
    /// `yyyy-mm-ddThh:mm[:ss][Z]`, or a space instead of the `T`: Qualys writes the first,
    /// and the format of `START_DATE_UTC` is not documented.
    pub fn parse(text: &str) -> Option<Instant> {
        let text = text.trim();
        let text = text.strip_suffix('Z').unwrap_or(text);
        let (date, time) = text.split_once(['T', ' '])?;
        let date = Date::parse_iso(date)?;
        let mut parts = time.split(':');
        let hour: i64 = number(parts.next()?, 2)?;
        let minute: i64 = number(parts.next()?, 2)?;
        if let Some(second) = parts.next() {
            number::<i64>(second, 2).filter(|s| *s < 60)?;
        }
        (parts.next().is_none() && hour < 24 && minute < 60).then_some(Instant(date.0 * DAY + hour * 60 + minute))
    }

    /// The date at this instant in a zone `offset` minutes ahead of UTC.
    pub fn date_at(self, offset: i64) -> Date {
        Date((self.0 + offset).div_euclid(DAY))
    }

    pub fn minute_of_day(self) -> i64 {
        self.0.rem_euclid(DAY)
    }
}

fn number<T: std::str::FromStr>(text: &str, digits: usize) -> Option<T> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_day_numbers() {
        assert_eq!(Date::parse_iso("1970-01-01"), Some(Date(0)));
        assert_eq!(Date::parse_iso("2024-02-29").map(Date::us).as_deref(), Some("02/29/2024"));
        assert_eq!(Date::parse_iso("2023-02-29"), None);
        assert_eq!(Date::parse_iso("2026-1-05"), None);
        for day in -800_000..800_000 {
            let (y, m, d) = Date(day).civil();
            assert_eq!(Date::from_civil(y, m, d), Some(Date(day)));
        }
    }

    #[test]
    fn instants_read_qualys_and_space_separated_forms() {
        let instant = Instant::parse("2026-03-01T23:30:00Z").expect("parses");
        assert_eq!(instant.date_at(0).iso(), "2026-03-01");
        assert_eq!(instant.date_at(60).iso(), "2026-03-02");
        assert_eq!(instant.minute_of_day(), 23 * 60 + 30);
        assert_eq!(Instant::parse("2026-03-01 23:30"), Some(instant));
        assert_eq!(Instant::parse("2026-03-01T24:00:00Z"), None);
        assert_eq!(Instant::parse("03/01/2026 10:00"), None);
    }
}
