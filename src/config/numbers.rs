//! Whole-number options (TTLs, timeouts, sizes, counts): one parser for all of them, so a
//! flag, an environment variable and a config file value that is not a whole number in
//! range (`-1`, `5.5`, `"five"`) all get the same sentence, naming the unit and the range,
//! instead of Rust's "invalid digit found in string".

use std::marker::PhantomData;

/// An unsigned integer type an option holds.
pub trait Unsigned: TryFrom<u64> + Clone + Send + Sync + 'static {
    /// Its largest value.
    const MAX: u64;
}

impl Unsigned for u16 {
    const MAX: u64 = u16::MAX as u64;
}
impl Unsigned for u32 {
    const MAX: u64 = u32::MAX as u64;
}
impl Unsigned for u64 {
    const MAX: u64 = u64::MAX;
}
impl Unsigned for usize {
    const MAX: u64 = usize::MAX as u64;
}

/// The parser of a whole number of `unit`, for `#[arg(value_parser = whole::<u32>("seconds"))]`.
#[derive(Clone)]
pub struct Whole<T> {
    unit: &'static str,
    min: u64,
    max: u64,
    /// Whether `max` was given (then the range is named), rather than the type's.
    bounded: bool,
    _type: PhantomData<T>,
}

/// Whole numbers of `unit`, from 0 to `T`'s largest.
pub fn whole<T: Unsigned>(unit: &'static str) -> Whole<T> {
    Whole { unit, min: 0, max: T::MAX, bounded: false, _type: PhantomData }
}

impl<T: Unsigned> Whole<T> {
    /// At least `min`.
    pub fn at_least(self, min: u64) -> Self {
        Self { min, ..self }
    }

    /// From `min` to `max`.
    pub fn range(self, min: u64, max: u64) -> Self {
        Self { min, max: max.min(T::MAX), bounded: true, ..self }
    }

    /// The value, or the sentence saying what is expected.
    pub fn parse(&self, value: &str) -> Result<T, String> {
        let number: Option<u64> = value.trim().parse().ok();
        if let Some(n) = number.filter(|n| (self.min..=self.max).contains(n))
            && let Ok(n) = T::try_from(n)
        {
            return Ok(n);
        }
        let unit = self.unit;
        Err(match (self.bounded, number) {
            (true, _) => format!("expected a whole number of {unit} from {} to {}", self.min, self.max),
            (false, Some(n)) if n > self.max => {
                format!("expected a whole number of {unit}, at most {}", self.max)
            }
            (false, _) => format!("expected a whole number of {unit}, {} or more", self.min),
        })
    }
}

impl<T: Unsigned> clap::builder::TypedValueParser for Whole<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        // Through clap's parser of a function, so the error is clap's usual one naming the
        // option and the value given, with our sentence as the reason.
        let this = self.clone();
        (move |text: &str| this.parse(text)).parse_ref(cmd, arg, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anything_but_a_whole_number_in_range_names_the_unit_and_the_range() {
        let seconds = whole::<u32>("seconds");
        assert_eq!(seconds.parse("30"), Ok(30));
        assert_eq!(seconds.parse("0"), Ok(0));
        for given in ["-1", "5.5", "five", "", "1e3"] {
            assert_eq!(
                seconds.parse(given),
                Err("expected a whole number of seconds, 0 or more".to_owned()),
                "{given}"
            );
        }
        assert_eq!(
            seconds.parse("4294967296"),
            Err("expected a whole number of seconds, at most 4294967295".to_owned())
        );
        let workers = whole::<u16>("threads").at_least(1);
        assert_eq!(workers.parse("0"), Err("expected a whole number of threads, 1 or more".to_owned()));
        let timeout = whole::<u64>("seconds").range(1, 3600);
        assert_eq!(timeout.parse("3600"), Ok(3600));
        assert_eq!(
            timeout.parse("3601"),
            Err("expected a whole number of seconds from 1 to 3600".to_owned())
        );
    }

    #[test]
    fn a_flag_s_error_names_the_option_and_the_value() {
        #[derive(clap::Parser, Debug)]
        struct Options {
            #[arg(long, value_parser = whole::<u32>("seconds"), allow_negative_numbers = true)]
            ttl: u32,
        }
        let error = <Options as clap::Parser>::try_parse_from(["x", "--ttl", "-1"]).unwrap_err().to_string();
        assert!(
            error.contains(
                "invalid value '-1' for '--ttl <TTL>': expected a whole number of seconds, 0 or more"
            ),
            "{error}"
        );
    }
}
