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

/// The shard file names a version tag selects, in load order.
pub fn shards_for_tag(tag: &str) -> Result<Vec<String>, String> {
    let range = if tag == "release_latest" {
        1..=LATEST_SHARD
    } else if let Some(n) = tag.strip_prefix("release_v") {
        1..=parse_shard(n, tag)?
    } else if let Some((a, b)) = tag.split_once('_') {
        let a = parse_shard(a.strip_prefix('v').unwrap_or("x"), tag)?;
        let b = parse_shard(b.strip_prefix('v').unwrap_or("x"), tag)?;
        if a >= b {
            return Err(format!(
                "version range `{tag}` must go from a lower to a higher shard"
            ));
        }
        a..=b
    } else if let Some(n) = tag.strip_prefix('v') {
        let n = parse_shard(n, tag)?;
        n..=n
    } else {
        return Err(unknown_tag(tag));
    };
    Ok(range.map(shard_file).collect())
}

fn parse_shard(text: &str, tag: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=LATEST_SHARD).contains(&n) => Ok(n),
        _ => Err(unknown_tag(tag)),
    }
}

fn unknown_tag(tag: &str) -> String {
    format!(
        "unknown LiveCodeBench version `{tag}`: expected release_v1..release_v{LATEST_SHARD}, \
         release_latest, v1..v{LATEST_SHARD} or a range such as v4_v5"
    )
}

fn shard_file(n: u32) -> String {
    if n == 1 {
        "test.jsonl".to_owned()
    } else {
        format!("test{n}.jsonl")
    }
}

/// Parses a `contest_date` as Python's `datetime.fromisoformat` would for the dataset's values.
pub fn parse_contest_date(text: &str) -> Result<NaiveDateTime, String> {
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(dt);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .map_err(|_| format!("`{text}` is not an ISO date-time such as 2023-08-21T00:00:00"))
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
    pub fn parse(start: Option<&str>, end: Option<&str>) -> Result<Self, String> {
        let day = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("`{s}` is not a date of the form YYYY-MM-DD"))
        };
        Ok(DateWindow {
            start: start.map(day).transpose()?,
            end: end.map(day).transpose()?,
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
        for bad in ["release_v7", "v0", "v5_v4", "latest", "vx"] {
            assert!(shards_for_tag(bad).is_err(), "{bad}");
        }
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
        assert!(DateWindow::parse(Some("2025-13-01"), None).is_err());
    }
}
