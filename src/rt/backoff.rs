//! Reconnect backoff: how long to wait before the next attempt after a
//! transport fails.
//!
//! A [`ReconnectPolicy`] is plain configuration; a [`Backoff`] walks one
//! reconnect sequence under it. Neither touches a clock or a socket: the
//! adapter asks [`Backoff::next_delay`] after a failure, sleeps that long
//! with its own timer, tries again, and calls [`Backoff::reset`] once a
//! connection comes online.
//!
//! Delays grow exponentially, `d = min(max, initial * multiplier^attempt)`,
//! and carry "equal jitter": the actual delay is `d/2 + random(0..=d/2)`,
//! so many clients cut off at once do not all return in the same instant,
//! yet none returns sooner than half the nominal delay.

use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// When and how often to reconnect after a transport fails.
///
/// Start from [`ReconnectPolicy::new`] (or [`Default`]) and adjust the
/// fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// The nominal delay before the first attempt (default 1 s).
    pub initial: Duration,
    /// The largest nominal delay (default 60 s).
    pub max: Duration,
    /// The factor the nominal delay grows by per attempt (default 2).
    pub multiplier: u32,
    /// How many attempts in one sequence; `None` retries forever
    /// (the default), `Some(0)` never reconnects.
    pub max_attempts: Option<u32>,
}

impl ReconnectPolicy {
    /// The defaults: 1 s, doubling, at most 60 s, forever.
    pub fn new() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2,
            max_attempts: None,
        }
    }

    /// No reconnecting at all: [`Backoff::next_delay`] is `None` at once.
    pub fn never() -> Self {
        Self {
            max_attempts: Some(0),
            ..Self::new()
        }
    }

    /// The nominal (unjittered) delay before attempt number `attempt`
    /// (counting from 0): `min(max, initial * multiplier^attempt)`,
    /// saturating at `max` instead of overflowing.
    fn nominal(&self, attempt: u32) -> Duration {
        self.multiplier
            .checked_pow(attempt)
            .and_then(|factor| self.initial.checked_mul(factor))
            .map_or(self.max, |d| d.min(self.max))
    }
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// The delays of one reconnect sequence, with jitter.
///
/// The delay before attempt `n` (from 0) is `d/2 + random(0..=d/2)` where
/// `d = min(max, initial * multiplier^n)`, computed without overflow for
/// any `n`. The randomness comes from the seed given to [`Backoff::new`],
/// so a sequence is reproducible in tests.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    attempts: u32,
    rng: ChaCha20Rng,
}

impl Backoff {
    /// A fresh sequence under `policy`; `seed` drives the jitter (pass OS
    /// randomness, so that clients do not jitter in step).
    pub fn new(policy: ReconnectPolicy, seed: [u8; 32]) -> Self {
        Self {
            policy,
            attempts: 0,
            rng: ChaCha20Rng::from_seed(seed),
        }
    }

    /// The policy this sequence follows.
    pub fn policy(&self) -> &ReconnectPolicy {
        &self.policy
    }

    /// The delay before the next attempt, or `None` when the policy allows
    /// no more attempts. Each `Some` counts as one attempt.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.attempts >= max)
        {
            return None;
        }
        let nominal = self.policy.nominal(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        Some(self.jitter(nominal))
    }

    /// After a connection succeeded (came online): start over from
    /// `initial`, with the full number of attempts.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Equal jitter: `d/2 + random(0..=d - d/2)`, always within `[d/2, d]`.
    fn jitter(&mut self, d: Duration) -> Duration {
        let half = d / 2;
        let span = (d - half).as_nanos();
        let draw = (u128::from(self.rng.next_u64()) << 64) | u128::from(self.rng.next_u64());
        // `span` is at most `Duration::MAX` in nanoseconds (< 2^95), so the
        // addition cannot overflow and the modulo bias is below 2^-33.
        let extra = draw % (span + 1);
        let secs = u64::try_from(extra / 1_000_000_000).unwrap_or(u64::MAX);
        let nanos = u32::try_from(extra % 1_000_000_000).unwrap_or(0);
        half.saturating_add(Duration::new(secs, nanos)).min(d)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn defaults() {
        let p = ReconnectPolicy::default();
        assert_eq!(p, ReconnectPolicy::new());
        assert_eq!(p.initial, secs(1));
        assert_eq!(p.max, secs(60));
        assert_eq!(p.multiplier, 2);
        assert_eq!(p.max_attempts, None);
    }

    #[test]
    fn delays_grow_within_jitter_bounds_and_cap_at_max() {
        for seed in 0..50u8 {
            let mut b = Backoff::new(ReconnectPolicy::new(), [seed; 32]);
            for (attempt, nominal) in [1, 2, 4, 8, 16, 32, 60, 60, 60, 60].into_iter().enumerate() {
                let d = secs(nominal);
                let got = b.next_delay().unwrap();
                assert!(
                    got >= d / 2 && got <= d,
                    "attempt {attempt}: {got:?} outside [{:?}, {d:?}]",
                    d / 2
                );
                assert_eq!(b.attempts(), u32::try_from(attempt).unwrap() + 1);
            }
        }
    }

    #[test]
    fn nominal_delays() {
        let p = ReconnectPolicy::new();
        let got: Vec<u64> = (0..8).map(|n| p.nominal(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60]);
        let mut q = ReconnectPolicy::new();
        q.multiplier = 3;
        q.initial = Duration::from_millis(100);
        q.max = secs(2);
        assert_eq!(q.nominal(2), Duration::from_millis(900));
        assert_eq!(q.nominal(3), secs(2));
    }

    #[test]
    fn never_gives_none_at_once() {
        let mut b = Backoff::new(ReconnectPolicy::never(), [0; 32]);
        assert_eq!(b.next_delay(), None);
        assert_eq!(b.next_delay(), None);
        assert_eq!(b.attempts(), 0);
    }

    #[test]
    fn max_attempts_respected() {
        let mut p = ReconnectPolicy::new();
        p.max_attempts = Some(3);
        let mut b = Backoff::new(p, [1; 32]);
        assert!(b.next_delay().is_some());
        assert!(b.next_delay().is_some());
        assert!(b.next_delay().is_some());
        assert_eq!(b.next_delay(), None);
        assert_eq!(b.next_delay(), None);
        assert_eq!(b.attempts(), 3);
    }

    #[test]
    fn reset_restarts_the_sequence() {
        let mut p = ReconnectPolicy::new();
        p.max_attempts = Some(4);
        let mut b = Backoff::new(p, [2; 32]);
        for _ in 0..4 {
            b.next_delay().unwrap();
        }
        assert_eq!(b.next_delay(), None);
        b.reset();
        assert_eq!(b.attempts(), 0);
        let first = b.next_delay().unwrap();
        assert!(first >= Duration::from_millis(500) && first <= secs(1));
        assert_eq!(b.attempts(), 1);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let p = ReconnectPolicy::new();
        for n in [31, 32, 63, 64, 1000, u32::MAX - 1, u32::MAX] {
            assert_eq!(p.nominal(n), secs(60));
        }
        let mut b = Backoff::new(p.clone(), [3; 32]);
        b.attempts = u32::MAX - 1;
        for _ in 0..5 {
            let d = b.next_delay().unwrap();
            assert!(d >= secs(30) && d <= secs(60));
        }
        assert_eq!(b.attempts(), u32::MAX);

        // Extreme policies: no cap to speak of, huge initial, zero delays.
        let mut wild = ReconnectPolicy::new();
        wild.initial = Duration::MAX;
        wild.max = Duration::MAX;
        wild.multiplier = u32::MAX;
        let mut b = Backoff::new(wild, [4; 32]);
        for _ in 0..100 {
            assert!(b.next_delay().unwrap() >= Duration::MAX / 2);
        }
        let mut zero = ReconnectPolicy::new();
        zero.initial = Duration::ZERO;
        zero.multiplier = 0;
        let mut b = Backoff::new(zero, [5; 32]);
        for _ in 0..10 {
            assert_eq!(b.next_delay(), Some(Duration::ZERO));
        }
    }

    #[test]
    fn jitter_varies_across_seeds_and_draws() {
        let first: Vec<Duration> = (0..32u8)
            .map(|seed| {
                Backoff::new(ReconnectPolicy::new(), [seed; 32])
                    .next_delay()
                    .unwrap()
            })
            .collect();
        let mut distinct = first.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 16, "{first:?}");

        // Same seed, same sequence.
        let run = |seed| {
            let mut b = Backoff::new(ReconnectPolicy::new(), seed);
            (0..10).map(|_| b.next_delay().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run([9; 32]), run([9; 32]));
        assert_ne!(run([9; 32]), run([10; 32]));
    }
}
