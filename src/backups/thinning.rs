//! Which scheduled copies to keep: the newest few, then one an hour for a while, then one a day
//! for longer. A pure function of the copies' times and now, so the policy is tested without
//! waiting for days.

use crate::domain::clock::Millis;

const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 24 * HOUR_MS;

/// `backup_keep_last`, `backup_keep_hourly_for_hours`, `backup_keep_daily_for_days`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    pub last: u32,
    pub hourly_for_hours: u32,
    pub daily_for_days: u32,
}

/// The copies (by time taken) that `keep` lets go. Within an hour (or a day) the first copy is
/// the one kept: it stays that hour's copy as later ones come and go, instead of each new copy
/// replacing the last. Copies from the future (a clock set back) are kept.
pub fn to_prune(taken: &[Millis], now: Millis, keep: Keep) -> Vec<Millis> {
    let mut newest_first = taken.to_vec();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    newest_first.dedup();
    let mut kept = std::collections::BTreeSet::new();
    kept.extend(newest_first.iter().take(keep.last as usize));
    kept.extend(newest_first.iter().filter(|t| **t > now));
    for (window, bucket) in [
        (Millis::from(keep.hourly_for_hours) * HOUR_MS, HOUR_MS),
        (Millis::from(keep.daily_for_days) * DAY_MS, DAY_MS),
    ] {
        let mut seen = std::collections::BTreeMap::new();
        for t in newest_first.iter().filter(|t| now - **t < window) {
            // Oldest last in this order, so the last one inserted is the bucket's first copy.
            seen.insert(t.div_euclid(bucket), *t);
        }
        kept.extend(seen.into_values());
    }
    newest_first
        .into_iter()
        .filter(|t| !kept.contains(t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000 - 1_800_000_000_000 % DAY_MS + 12 * HOUR_MS + 30_000;

    fn keep(last: u32, hours: u32, days: u32) -> Keep {
        Keep {
            last,
            hourly_for_hours: hours,
            daily_for_days: days,
        }
    }

    #[test]
    fn the_newest_copies_are_kept_and_the_rest_go_without_a_window() {
        let taken: Vec<Millis> = (0..5).map(|i| NOW - i * 1_000).collect();
        assert_eq!(
            to_prune(&taken, NOW, keep(2, 0, 0)),
            vec![NOW - 2_000, NOW - 3_000, NOW - 4_000]
        );
    }

    #[test]
    fn hourly_then_daily_keeps_the_first_copy_of_each_hour_and_day() {
        // A copy every 20 minutes for three days.
        let taken: Vec<Millis> = (0..3 * 72).map(|i| NOW - i * 20 * 60_000).collect();
        let pruned = to_prune(&taken, NOW, keep(3, 24, 30));
        let kept: Vec<Millis> = taken
            .iter()
            .copied()
            .filter(|t| !pruned.contains(t))
            .collect();
        // The three newest.
        assert!(kept[..3] == taken[..3]);
        // One per hour for the last 24 hours: each kept copy older than the newest three is the
        // first of its hour.
        let hourly: Vec<&Millis> = kept[3..]
            .iter()
            .filter(|t| NOW - **t < 24 * HOUR_MS)
            .collect();
        // (The oldest may be the first of its hour inside the window, not of the whole hour.)
        let (_, whole_hours) = hourly.split_last().unwrap();
        assert!(
            whole_hours.iter().all(|t| **t % HOUR_MS < 20 * 60_000),
            "{hourly:?}"
        );
        assert!((23..=25).contains(&hourly.len()), "{}", hourly.len());
        // Beyond a day, one per calendar day: the first of the two whole days, and the first copy
        // of the day the copies began in.
        let daily: Vec<&Millis> = kept.iter().filter(|t| NOW - **t >= 24 * HOUR_MS).collect();
        assert_eq!(daily.len(), 3, "{daily:?}");
        assert!(
            daily[..2].iter().all(|t| **t % DAY_MS < 20 * 60_000),
            "{daily:?}"
        );
        assert_eq!(*daily[2], *taken.last().unwrap());
    }

    #[test]
    fn copies_older_than_every_window_go_and_copies_from_the_future_stay() {
        let old = NOW - 40 * DAY_MS;
        let future = NOW + HOUR_MS;
        let taken = vec![future, NOW, NOW - 3 * DAY_MS, old];
        assert_eq!(to_prune(&taken, NOW, keep(1, 24, 30)), vec![old]);
    }

    #[test]
    fn thinning_is_stable_as_copies_are_added() {
        // What one pass keeps, the next pass (one copy later) does not take back within the window.
        let mut taken: Vec<Millis> = Vec::new();
        let mut now = NOW;
        for _ in 0..200 {
            taken.push(now);
            let pruned = to_prune(&taken, now, keep(2, 6, 3));
            taken.retain(|t| !pruned.contains(t));
            now += 15 * 60_000;
        }
        // 2 newest + about 6 hourly + about 3 daily.
        assert!((8..=13).contains(&taken.len()), "{}", taken.len());
    }
}
