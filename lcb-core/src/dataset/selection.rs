//! LiveCodeBench's release versions and date windows.
//!
//! The hub dataset `livecodebench/code_generation_lite` stores shards `test.jsonl`,
//! `test2.jsonl` … `test6.jsonl`. A version tag names a set of shards: `release_vN` = shards
//! 1..=N, `vN` = shard N alone, `vA_vB` = shards A..=B, `release_latest` = all. Date bounds
//! are inclusive and compare a `YYYY-MM-DD` bound, taken as midnight, against the full
//! `contest_date` (as upstream LiveCodeBench does).

use chrono::{NaiveDate, NaiveDateTime};

/// The number of shards in the newest release (`release_v6`).
pub const LATEST_SHARD: u32 = 6;

/// What is wrong with a LiveCodeBench version tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionTagError {
    /// Not one of the tag forms, or a shard number past the newest release.
    #[error(
        "unknown LiveCodeBench version `{tag}`: expected release_v1..release_v{LATEST_SHARD}, \
         release_latest, v1..v{LATEST_SHARD} or a range such as v4_v5"
    )]
    Unknown {
        /// The tag as given.
        tag: String,
    },
    /// `vA_vB` with `A >= B`.
    #[error("version range `{tag}` must go from a lower to a higher shard")]
    BackwardsRange {
        /// The tag as given.
        tag: String,
    },
}

/// The shard file names a version tag selects, in load order.
pub fn shards_for_tag(tag: &str) -> Result<Vec<String>, VersionTagError> {
    let range = if tag == "release_latest" {
        1..=LATEST_SHARD
    } else if let Some(n) = tag.strip_prefix("release_v") {
        1..=parse_shard(n, tag)?
    } else if let Some((a, b)) = tag.split_once('_') {
        let a = parse_shard(a.strip_prefix('v').unwrap_or("x"), tag)?;
        let b = parse_shard(b.strip_prefix('v').unwrap_or("x"), tag)?;
        if a >= b {
            return Err(VersionTagError::BackwardsRange { tag: tag.into() });
        }
        a..=b
    } else if let Some(n) = tag.strip_prefix('v') {
        let n = parse_shard(n, tag)?;
        n..=n
    } else {
        return Err(VersionTagError::Unknown { tag: tag.into() });
    };
    Ok(range.map(shard_file).collect())
}

fn parse_shard(text: &str, tag: &str) -> Result<u32, VersionTagError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=LATEST_SHARD).contains(&n) => Ok(n),
        _ => Err(VersionTagError::Unknown { tag: tag.into() }),
    }
}

fn shard_file(n: u32) -> String {
    if n == 1 {
        "test.jsonl".to_owned()
    } else {
        format!("test{n}.jsonl")
    }
}

/// What is wrong with a date or a date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// A day bound that is not `YYYY-MM-DD`.
    #[error("`{text}` is not a date of the form YYYY-MM-DD")]
    Day {
        /// The text as given.
        text: String,
    },
    /// A `contest_date` that is not an ISO date-time.
    #[error("`{text}` is not an ISO date-time such as 2023-08-21T00:00:00")]
    DateTime {
        /// The text as given.
        text: String,
    },
}

/// Parses a `contest_date` as Python's `datetime.fromisoformat` would for the dataset's values.
pub fn parse_contest_date(text: &str) -> Result<NaiveDateTime, DateError> {
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(dt);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .map_err(|_| DateError::DateTime { text: text.into() })
}

/// Parses a day bound of a [`DateWindow`] (`YYYY-MM-DD`).
pub fn parse_day(text: &str) -> Result<NaiveDate, DateError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| DateError::Day { text: text.into() })
}

/// An inclusive date window; a missing bound is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DateWindow {
    /// Keep problems with `contest_date >= start` (midnight of that day).
    pub start: Option<NaiveDate>,
    /// Keep problems with `contest_date <= end` (midnight of that day, as upstream LCB does).
    pub end: Option<NaiveDate>,
}

impl DateWindow {
    /// Builds a window from `YYYY-MM-DD` strings.
    pub fn parse(start: Option<&str>, end: Option<&str>) -> Result<Self, DateError> {
        Ok(DateWindow {
            start: start.map(parse_day).transpose()?,
            end: end.map(parse_day).transpose()?,
        })
    }

    /// Whether a problem dated `date` is inside the window.
    pub fn contains(&self, date: NaiveDateTime) -> bool {
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
        self.start.is_none_or(|s| midnight(s) <= date)
            && self.end.is_none_or(|e| date <= midnight(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tags_select_shards() {
        assert_eq!(shards_for_tag("release_v1").unwrap(), vec!["test.jsonl"]);
        assert_eq!(shards_for_tag("release_v6").unwrap().len(), 6);
        assert_eq!(shards_for_tag("release_latest").unwrap().len(), 6);
        assert_eq!(shards_for_tag("v6").unwrap(), vec!["test6.jsonl"]);
        assert_eq!(shards_for_tag("v1").unwrap(), vec!["test.jsonl"]);
        assert_eq!(
            shards_for_tag("v4_v5").unwrap(),
            vec!["test4.jsonl", "test5.jsonl"]
        );
        for bad in ["release_v7", "v0", "latest", "vx"] {
            assert_eq!(
                shards_for_tag(bad),
                Err(VersionTagError::Unknown { tag: bad.into() }),
                "{bad}"
            );
        }
        assert_eq!(
            shards_for_tag("v5_v4").unwrap_err().to_string(),
            "version range `v5_v4` must go from a lower to a higher shard"
        );
    }

    #[test]
    fn end_date_is_midnight_as_upstream() {
        let w = DateWindow::parse(Some("2025-01-01"), Some("2025-04-30")).unwrap();
        let d = |s| parse_contest_date(s).unwrap();
        assert!(w.contains(d("2025-01-01T00:00:00")));
        assert!(w.contains(d("2025-04-30T00:00:00")));
        assert!(!w.contains(d("2025-04-30T18:30:00")));
        assert!(!w.contains(d("2024-12-31T23:59:59")));
        assert!(DateWindow::default().contains(d("1999-01-01T00:00:00")));
        assert_eq!(
            DateWindow::parse(Some("2025-13-01"), None)
                .unwrap_err()
                .to_string(),
            "`2025-13-01` is not a date of the form YYYY-MM-DD"
        );
        assert_eq!(
            parse_contest_date("yesterday").unwrap_err(),
            DateError::DateTime {
                text: "yesterday".into()
            }
        );
    }
}
