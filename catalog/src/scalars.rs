//! Custom scalars: `DateTime` (cluster time as RFC 3339) and `AssetType`
//! (an asset type string, checked when given as an argument).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use cortex_consensus::catalog::check_asset_type;
use cortex_consensus::ClusterTime;

/// A point in cluster time, shown as RFC 3339 in UTC with milliseconds
/// (`2025-12-21T10:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub ClusterTime);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        Err(InputValueError::custom(format!(
            "DateTime is only ever an output, got {value}"
        )))
    }

    fn to_value(&self) -> Value {
        Value::String(rfc3339(self.0))
    }
}

/// Formats milliseconds since the Unix epoch as RFC 3339 in UTC.
pub fn rfc3339(time: ClusterTime) -> String {
    let millis = time.0;
    let seconds = millis / 1000;
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        millis % 1000
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// An asset type: `k8s.<kind>` or one of the plain types (`repository`,
/// `image`, `finding`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetType(pub String);

#[Scalar(name = "AssetType")]
impl ScalarType for AssetType {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(kind) => match check_asset_type(&kind) {
                Ok(()) => Ok(AssetType(kind)),
                Err(reason) => Err(InputValueError::custom(reason)),
            },
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_time_formats_as_rfc3339() {
        assert_eq!(rfc3339(ClusterTime(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(ClusterTime(1_766_311_200_123)),
            "2025-12-21T10:00:00.123Z"
        );
        assert_eq!(
            rfc3339(ClusterTime(951_825_599_999)),
            "2000-02-29T11:59:59.999Z"
        );
    }
}
