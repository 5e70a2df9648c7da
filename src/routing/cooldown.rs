//! Cooldowns: a model that keeps failing with retryable errors is skipped for a while, so a
//! dead model does not cost every call its timeouts.
//!
//! Per model, the times of recent retryable failures are kept; `threshold` of them within
//! `window` put the model in cooldown for `period`. A success clears its record. The state is
//! per process and guarded by a mutex held only for a map lookup (never across an await).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Cooldown settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CooldownConfig {
    /// Retryable failures within `window` that start a cooldown (0 disables cooldowns).
    pub threshold: u32,
    pub window: Duration,
    /// How long a cooled-down model is skipped.
    pub period: Duration,
}

impl Default for CooldownConfig {
    fn default() -> Self {
        Self {
            threshold: 3,
            window: Duration::from_secs(60),
            period: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct Health {
    failures: VecDeque<Instant>,
    cooling_until: Option<Instant>,
}

/// The health of every model this process has called.
#[derive(Debug, Default)]
pub struct Cooldowns {
    config: CooldownConfig,
    models: Mutex<HashMap<String, Health>>,
}

impl Cooldowns {
    pub fn new(config: CooldownConfig) -> Self {
        Self {
            config,
            models: Mutex::default(),
        }
    }

    /// How much longer `model` is cooling down, if it is.
    pub fn remaining(&self, model: &str, now: Instant) -> Option<Duration> {
        let models = self.models.lock().ok()?;
        let until = models.get(model)?.cooling_until?;
        (until > now).then(|| until - now)
    }

    /// Records a retryable failure; returns true when it started a cooldown.
    pub fn failure(&self, model: &str, now: Instant) -> bool {
        if self.config.threshold == 0 {
            return false;
        }
        let Ok(mut models) = self.models.lock() else {
            return false;
        };
        let health = models.entry(model.to_owned()).or_default();
        health.failures.push_back(now);
        while health
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.config.window)
        {
            health.failures.pop_front();
        }
        if health.failures.len() as u32 >= self.config.threshold {
            health.failures.clear();
            health.cooling_until = Some(now + self.config.period);
            return true;
        }
        false
    }

    /// Records a success: the model's failure record is cleared.
    pub fn success(&self, model: &str) {
        if let Ok(mut models) = self.models.lock() {
            models.remove(model);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_failures_within_the_window_start_a_cooldown() {
        let c = Cooldowns::new(CooldownConfig::default());
        let t0 = Instant::now();
        assert!(!c.failure("m", t0));
        assert!(!c.failure("m", t0 + Duration::from_secs(1)));
        assert!(c.failure("m", t0 + Duration::from_secs(2)));
        let now = t0 + Duration::from_secs(3);
        assert_eq!(c.remaining("m", now), Some(Duration::from_secs(29)));
        assert_eq!(c.remaining("other", now), None);
        assert_eq!(c.remaining("m", t0 + Duration::from_secs(40)), None);
    }

    #[test]
    fn old_failures_fall_out_of_the_window_and_success_clears() {
        let c = Cooldowns::new(CooldownConfig::default());
        let t0 = Instant::now();
        c.failure("m", t0);
        c.failure("m", t0 + Duration::from_secs(1));
        assert!(!c.failure("m", t0 + Duration::from_secs(100)));
        c.success("m");
        assert!(!c.failure("m", t0 + Duration::from_secs(101)));
    }
}
