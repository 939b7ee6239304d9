//! Durations as plans spell them: `500ms`, `30s`, `15m`, `1h`, `1h30m`.
//!
//! Units go from largest to smallest, each at most once; the value is kept
//! in milliseconds. Bounds (greater than zero, at most 24h for a task) are
//! the validator's business, not the syntax's.

const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Parses a duration into milliseconds, or says what is wrong with it.
pub fn parse(text: &str) -> Result<u64, String> {
    let expected = "expected a duration like 500ms, 30s, 15m, 1h or 1h30m";
    if text.is_empty() {
        return Err(format!("empty duration; {expected}"));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    // Index into UNITS of the smallest unit used so far; the next must be smaller.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("{text:?} is not a duration; {expected}"));
        }
        let (number, tail) = rest.split_at(digits);
        let letters = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(letters);
        let Some(position) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("{text:?} has a number without a unit (h, m, s or ms); {expected}")
            } else {
                format!("{text:?} has an unknown unit {unit:?} (use h, m, s or ms)")
            });
        };
        if position < next_unit {
            return Err(format!(
                "{text:?}: units must go from largest to smallest, each at most once"
            ));
        }
        next_unit = position + 1;
        let amount = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(UNITS[position].1))
            .and_then(|ms| ms.checked_add(total));
        total = amount.ok_or_else(|| format!("{text:?} is too long"))?;
        rest = tail;
    }
    Ok(total)
}

/// Formats milliseconds the way plans spell them (`1h30m`, `500ms`, `0s`).
pub fn format(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut left = ms;
    for (name, size) in UNITS {
        let amount = left / size;
        if amount > 0 {
            out.push_str(&amount.to_string());
            out.push_str(name);
            left %= size;
        }
    }
    out
}
