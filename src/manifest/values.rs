//! Typed scalar values of the manifest: durations (`30d`, `10m`) and percentages (`10%`).

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// A duration written as a number and a unit: `45s`, `10m`, `2h`, `30d`, `1w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub seconds: u64,
}

impl Duration {
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("`{t}` has no unit (write e.g. `30d`, `12h`, `10m`, `45s`)"))?;
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(format!(
                "`{t}` does not start with a number (write e.g. `30d`)"
            ));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{num}` is too large a number"))?;
        let factor = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            other => {
                let short = match other.trim().trim_end_matches('s') {
                    "sec" | "second" => Some("s"),
                    "min" | "minute" => Some("m"),
                    "hour" | "hr" => Some("h"),
                    "day" => Some("d"),
                    "week" | "wk" => Some("w"),
                    _ => None,
                };
                return Err(match short {
                    Some(u) => format!("`{t}` is not a duration: write `{num}{u}`"),
                    None => format!(
                        "unknown unit `{}` in `{t}` (use s, m, h, d or w)",
                        other.trim()
                    ),
                });
            }
        };
        Ok(Duration {
            seconds: n
                .checked_mul(factor)
                .ok_or_else(|| format!("`{t}` is too long"))?,
        })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
            if s >= size && s.is_multiple_of(size) {
                return write!(f, "{}{unit}", s / size);
            }
        }
        write!(f, "{s}s")
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `30d`, `12h`, `10m` or `45s`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit (write e.g. `{v}s` or `{v}m`)"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "`{v}` is not a duration (write e.g. `30d`)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+[smhdw]$",
            "description": "A duration: a number and a unit, s, m, h, d or w (e.g. `30d`, `10m`)",
            "examples": ["30d", "12h", "10m", "60s"]
        })
    }
}

/// A percentage, written `10%` (or a bare number 0 to 100).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(text: &str) -> Result<Percent, String> {
        let t = text.trim();
        let num = t.strip_suffix('%').unwrap_or(t).trim();
        let v: f64 = num
            .parse()
            .map_err(|_| format!("`{t}` is not a percentage (write e.g. `10%`)"))?;
        Percent::new(v)
    }

    fn new(v: f64) -> Result<Percent, String> {
        if !(0.0..=100.0).contains(&v) || v.is_nan() {
            return Err(format!("{v}% is outside 0% to 100%"));
        }
        Ok(Percent(v))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as `10%`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                Percent::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Percent::new(v as f64).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                Percent::new(v as f64).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                Percent::new(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?%$"},
                {"type": "number", "minimum": 0, "maximum": 100}
            ],
            "description": "A percentage from 0% to 100%, e.g. `10%`",
            "examples": ["10%"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("30d").unwrap().seconds, 30 * 86_400);
        assert_eq!(Duration::parse("10m").unwrap().seconds, 600);
        assert_eq!(Duration::parse("1w").unwrap().to_string(), "1w");
        assert_eq!(Duration::parse("90s").unwrap().to_string(), "90s");
        assert!(Duration::parse("30").unwrap_err().contains("no unit"));
        assert!(Duration::parse("30y").unwrap_err().contains("unknown unit"));
        assert!(Duration::parse("d").is_err());
        assert!(Duration::parse("99999999999999999999d").is_err());
    }

    #[test]
    fn percents() {
        assert_eq!(Percent::parse("10%").unwrap(), Percent(10.0));
        assert_eq!(Percent::parse("2.5 %").unwrap(), Percent(2.5));
        assert!(Percent::parse("110%").is_err());
        assert!(Percent::parse("ten%").is_err());
    }
}
