//! Reading a dataset's parquet file (how the hub stores `livecodebench/execution-v2` and
//! `livecodebench/test_generation`) into the same records as a JSON Lines file, so the row
//! parsers and their errors are shared. A record's `line` is its 1-based row number.
//!
//! Values become what a JSON export of the dataset holds: strings, integers, floats, lists,
//! and timestamps as ISO date-times (`2023-08-21T00:00:00`, the text `datasets` gives for
//! them).

use std::fs::File;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, List, Row};
use serde_json::{Map, Number, Value};

use crate::error::{Error, Result};
use crate::jsonl::Record;

/// Reads every row of the parquet file at `path`.
pub fn read_rows(path: &Path) -> Result<Vec<Record>> {
    let unreadable = |e: parquet::errors::ParquetError| {
        Error::Invalid(format!(
            "{}: not a readable parquet file: {e}",
            path.display()
        ))
    };
    let file = File::open(path).map_err(|error| Error::Io {
        path: path.to_owned(),
        error,
    })?;
    let reader = SerializedFileReader::new(file).map_err(unreadable)?;
    let mut records = Vec::new();
    for (index, row) in reader.get_row_iter(None).map_err(unreadable)?.enumerate() {
        let row = row.map_err(unreadable)?;
        records.push(Record {
            line: index + 1,
            fields: object(&row),
        });
    }
    if records.is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    Ok(records)
}

fn object(row: &Row) -> Map<String, Value> {
    row.get_column_iter()
        .map(|(name, field)| (name.clone(), value(field)))
        .collect()
}

fn list(items: &List) -> Value {
    Value::Array(items.elements().iter().map(value).collect())
}

fn value(field: &Field) -> Value {
    let timestamp = |d: Option<chrono::DateTime<chrono::Utc>>| match d {
        Some(d) => Value::String(d.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string()),
        None => Value::Null,
    };
    let float = |x: f64| Number::from_f64(x).map_or(Value::Null, Value::Number);
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(x) => Value::from(*x),
        Field::Short(x) => Value::from(*x),
        Field::Int(x) => Value::from(*x),
        Field::Long(x) => Value::from(*x),
        Field::UByte(x) => Value::from(*x),
        Field::UShort(x) => Value::from(*x),
        Field::UInt(x) => Value::from(*x),
        Field::ULong(x) => Value::from(*x),
        Field::Float(x) => float(f64::from(*x)),
        Field::Double(x) => float(*x),
        Field::Str(s) => Value::String(s.clone()),
        Field::Bytes(b) => Value::String(String::from_utf8_lossy(b.data()).into_owned()),
        Field::TimestampMillis(ms) => timestamp(chrono::DateTime::from_timestamp_millis(*ms)),
        Field::TimestampMicros(us) => timestamp(chrono::DateTime::from_timestamp_micros(*us)),
        Field::Date(days) => timestamp(chrono::DateTime::from_timestamp(
            i64::from(*days) * 86_400,
            0,
        )),
        Field::Group(row) => Value::Object(object(row)),
        Field::ListInternal(items) => list(items),
        Field::MapInternal(map) => Value::Array(
            map.entries()
                .iter()
                .map(|(k, v)| Value::Array(vec![value(k), value(v)]))
                .collect(),
        ),
        other => Value::String(other.to_string()),
    }
}
