//! Who is owed a notice, and when: pure bookkeeping, no I/O. A message makes each recipient
//! *pending* for `delay`; more messages to a pending user join the same entry (one notice per
//! burst). Once a notice went out the user is *noticed* until they read something (a read
//! event of theirs) or `REARM` passes, so a conversation that goes on while they are away
//! sends them nothing more. Everything is bounded: past `PENDING_CAP` users the oldest entry
//! is dropped, and the noticed marks are forgotten past `NOTICED_CAP`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::domain::{ConversationId, TenantId, UserId};

/// How long a notice keeps a user from getting another while they read nothing.
pub const REARM: Duration = Duration::from_secs(24 * 3_600);
/// The most users waiting for their delay to pass.
pub const PENDING_CAP: usize = 10_000;
/// The most conversations one entry keeps (the first ones of the burst).
const CONVERSATIONS_CAP: usize = 32;
/// The most noticed marks kept.
const NOTICED_CAP: usize = 100_000;

/// A user whose delay has passed: the conversations where they got messages, to be checked
/// (anything still unread?) before a notice is sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    pub user: UserId,
    pub tenant: TenantId,
    pub conversations: Vec<ConversationId>,
}

struct Entry {
    tenant: TenantId,
    due: Instant,
    conversations: Vec<ConversationId>,
}

pub struct Schedule {
    delay: Duration,
    pending: HashMap<UserId, Entry>,
    /// Pending users in the order they became pending, which is the order they fall due
    /// (the delay is the same for all).
    order: VecDeque<UserId>,
    noticed: HashMap<UserId, Instant>,
}

impl Schedule {
    pub fn new(delay: Duration) -> Self {
        Schedule {
            delay,
            pending: HashMap::new(),
            order: VecDeque::new(),
            noticed: HashMap::new(),
        }
    }

    /// `user` has a new message to read in `conv`. Returns how many pending users were
    /// dropped to make room (0 or 1).
    pub fn add(
        &mut self,
        user: UserId,
        tenant: TenantId,
        conv: ConversationId,
        now: Instant,
    ) -> usize {
        if let Some(at) = self.noticed.get(&user) {
            if now.saturating_duration_since(*at) < REARM {
                return 0;
            }
            self.noticed.remove(&user);
        }
        if let Some(entry) = self.pending.get_mut(&user) {
            if entry.conversations.len() < CONVERSATIONS_CAP && !entry.conversations.contains(&conv)
            {
                entry.conversations.push(conv);
            }
            return 0;
        }
        let mut dropped = 0;
        while self.pending.len() >= PENDING_CAP {
            match self.order.pop_front() {
                Some(oldest) => {
                    if self.pending.remove(&oldest).is_some() {
                        dropped += 1;
                    }
                }
                None => break,
            }
        }
        self.pending.insert(
            user,
            Entry {
                tenant,
                due: now + self.delay,
                conversations: vec![conv],
            },
        );
        self.order.push_back(user);
        dropped
    }

    /// `user` read something: the next message may notify them again.
    pub fn read_by(&mut self, user: UserId) {
        self.noticed.remove(&user);
    }

    /// `user` was sent a notice (or is about to be).
    pub fn noticed(&mut self, user: UserId, now: Instant) {
        if self.noticed.len() >= NOTICED_CAP {
            self.noticed
                .retain(|_, at| now.saturating_duration_since(*at) < REARM);
            if self.noticed.len() >= NOTICED_CAP {
                tracing::warn!(
                    "e-mail notices: more than {NOTICED_CAP} users noticed in a day; \
                     forgetting who was (some may get a second notice)"
                );
                self.noticed.clear();
            }
        }
        self.noticed.insert(user, now);
    }

    /// When the next entry falls due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.order
            .front()
            .and_then(|u| self.pending.get(u))
            .map(|e| e.due)
    }

    /// Takes the entries due at `now`, oldest first, at most `limit`.
    pub fn take_due(&mut self, now: Instant, limit: usize) -> Vec<Due> {
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(user) = self.order.front().copied() else {
                break;
            };
            match self.pending.get(&user) {
                Some(entry) if entry.due > now => break,
                Some(_) => {
                    self.order.pop_front();
                    if let Some(entry) = self.pending.remove(&user) {
                        out.push(Due {
                            user,
                            tenant: entry.tenant,
                            conversations: entry.conversations,
                        });
                    }
                }
                // Dropped for room: its place in the order is stale.
                None => {
                    self.order.pop_front();
                }
            }
        }
        out
    }

    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TenantId = TenantId(1);
    const C: ConversationId = ConversationId(7);

    #[test]
    fn a_burst_is_one_entry_due_after_the_first_message() {
        let start = Instant::now();
        let mut s = Schedule::new(Duration::from_secs(120));
        s.add(UserId(5), T, C, start);
        s.add(UserId(5), T, C, start + Duration::from_secs(60));
        s.add(
            UserId(5),
            T,
            ConversationId(8),
            start + Duration::from_secs(90),
        );
        assert_eq!(s.next_due(), Some(start + Duration::from_secs(120)));
        assert!(s.take_due(start + Duration::from_secs(119), 10).is_empty());
        let due = s.take_due(start + Duration::from_secs(120), 10);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].conversations, vec![C, ConversationId(8)]);
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn a_noticed_user_waits_for_a_read_or_a_day() {
        let start = Instant::now();
        let mut s = Schedule::new(Duration::from_secs(1));
        s.noticed(UserId(5), start);
        s.add(UserId(5), T, C, start);
        assert_eq!(s.pending(), 0);
        s.add(UserId(5), T, C, start + REARM);
        assert_eq!(s.pending(), 1);
        s.take_due(start + REARM + Duration::from_secs(1), 10);
        s.noticed(UserId(5), start);
        s.read_by(UserId(5));
        s.add(UserId(5), T, C, start);
        assert_eq!(s.pending(), 1);
    }

    #[test]
    fn past_the_cap_the_oldest_is_dropped() {
        let start = Instant::now();
        let mut s = Schedule::new(Duration::from_secs(1));
        let mut dropped = 0;
        for u in 0..(PENDING_CAP as i64 + 3) {
            dropped += s.add(UserId(u), T, C, start);
        }
        assert_eq!(dropped, 3);
        assert_eq!(s.pending(), PENDING_CAP);
        let due = s.take_due(start + Duration::from_secs(1), 1);
        assert_eq!(due[0].user, UserId(3));
    }
}
