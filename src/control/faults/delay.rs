//! A fault rule's latency: fixed, uniform between two bounds, or log-normal around a median
//! (the long tail real services show). Drawn from the rule's own seeded generator, so a run
//! repeats its delays as it repeats which calls fail.

use std::time::Duration;

use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The longest delay a rule may ask for (and where a log-normal draw is capped): a test that
/// waits longer has a bug, not a slow vendor.
pub const MAX_MS: u64 = 300_000;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Delay {
    FixedMs(u64),
    UniformMs([u64; 2]),
    Lognormal(Lognormal),
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lognormal {
    pub median_ms: u64,
    pub sigma: f64,
}

impl Delay {
    /// Why the delay cannot be used, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Delay::FixedMs(ms) if *ms > MAX_MS => Err(format!("must be at most {MAX_MS} ms")),
            Delay::UniformMs([low, high]) if low > high => {
                Err("uniform_ms: the lower bound comes first".into())
            }
            Delay::UniformMs([_, high]) if *high > MAX_MS => {
                Err(format!("uniform_ms: must be at most {MAX_MS} ms"))
            }
            Delay::Lognormal(l) if l.median_ms > MAX_MS => {
                Err(format!("lognormal.median_ms: must be at most {MAX_MS} ms"))
            }
            Delay::Lognormal(l) if !(l.sigma.is_finite() && (0.0..=10.0).contains(&l.sigma)) => {
                Err("lognormal.sigma: must be between 0 and 10".into())
            }
            _ => Ok(()),
        }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        let ms = match self {
            Delay::FixedMs(ms) => *ms,
            Delay::UniformMs([low, high]) => rng.gen_range(*low..=*high),
            Delay::Lognormal(l) => {
                // Box–Muller: a standard normal from two uniforms; u1 is kept off zero.
                let u1: f64 = 1.0 - rng.gen::<f64>();
                let u2: f64 = rng.gen();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let ms = l.median_ms as f64 * (l.sigma * z).exp();
                ms.clamp(0.0, MAX_MS as f64).round() as u64
            }
        };
        Duration::from_millis(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn draws_stay_in_bounds_and_repeat_with_the_seed() {
        let uniform = Delay::UniformMs([100, 300]);
        let mut a = ChaCha8Rng::seed_from_u64(7);
        let mut b = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..100 {
            let d = uniform.sample(&mut a);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(300));
            assert_eq!(d, uniform.sample(&mut b));
        }
    }

    #[test]
    fn lognormal_centres_on_its_median() {
        let delay = Delay::Lognormal(Lognormal {
            median_ms: 100,
            sigma: 0.5,
        });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut draws: Vec<_> = (0..2001).map(|_| delay.sample(&mut rng)).collect();
        draws.sort();
        let median = draws[1000].as_millis();
        assert!((85..=115).contains(&median), "median {median}");
        let flat = Delay::Lognormal(Lognormal {
            median_ms: 100,
            sigma: 0.0,
        });
        assert_eq!(flat.sample(&mut rng), Duration::from_millis(100));
    }

    #[test]
    fn bad_delays_are_named() {
        assert!(Delay::UniformMs([300, 100]).check().is_err());
        assert!(Delay::FixedMs(MAX_MS + 1).check().is_err());
        assert!(Delay::Lognormal(Lognormal {
            median_ms: 10,
            sigma: f64::NAN
        })
        .check()
        .is_err());
    }
}
