//! The retry policy: how many times one model is tried, and how long to wait in between.
//!
//! Exponential backoff with ±jitter, capped, as AIsa advises; a `Retry-After` from the gateway
//! replaces the computed delay, and when it asks for longer than the cap the executor moves on
//! to the next model instead of sleeping.

use std::time::Duration;

/// Retry settings (one per process; from the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Tries per model, the first included (1 = no retry).
    pub attempts: u32,
    /// The delay before the second try; doubles each time.
    pub base_delay: Duration,
    /// The longest wait: computed delays are capped here, and a longer `Retry-After` moves on
    /// to the next model.
    pub max_delay: Duration,
    /// Relative jitter, 0–1 (0.25 = ±25%).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            jitter: 0.25,
        }
    }
}

/// What to do after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Sleep this long, then try the same model again.
    RetryAfter(Duration),
    /// Give up on this model and move to the next one.
    NextModel,
}

impl RetryConfig {
    /// The plan after failed try number `try_no` (1-based), given the gateway's `Retry-After`.
    pub fn next(&self, try_no: u32, retry_after: Option<Duration>) -> Next {
        if try_no >= self.attempts {
            return Next::NextModel;
        }
        match retry_after {
            Some(wait) if wait > self.max_delay => Next::NextModel,
            Some(wait) => Next::RetryAfter(wait),
            None => Next::RetryAfter(self.backoff(try_no)),
        }
    }

    /// `base × 2^(try_no-1)`, ±jitter, capped at `max_delay`.
    pub fn backoff(&self, try_no: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << try_no.saturating_sub(1).min(16));
        let factor = 1.0 + self.jitter * (fastrand::f64() * 2.0 - 1.0);
        exp.mul_f64(factor.max(0.0)).min(self.max_delay)
    }
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let c = RetryConfig::default();
        for _ in 0..100 {
            let first = c.backoff(1).as_secs_f64();
            assert!((0.375..=0.625).contains(&first), "{first}");
            let third = c.backoff(3).as_secs_f64();
            assert!((1.5..=2.5).contains(&third), "{third}");
            assert!(c.backoff(20) <= c.max_delay);
        }
    }

    #[test]
    fn retry_after_is_honored_unless_longer_than_the_cap() {
        let c = RetryConfig::default();
        assert_eq!(
            c.next(1, Some(Duration::from_secs(2))),
            Next::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(c.next(1, Some(Duration::from_secs(31))), Next::NextModel);
        assert_eq!(c.next(3, None), Next::NextModel);
        let once = RetryConfig { attempts: 1, ..c };
        assert_eq!(once.next(1, None), Next::NextModel);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
