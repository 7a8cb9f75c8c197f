//! Faults and latency (issue 15): rules that make the stand-in slow, rate-limiting or failing
//! on the calls a test chooses, in each vendor's own error format.
//!
//! - `rule.rs` — a rule: scope, firing (`times`, seeded `probability`), effect.
//! - `pattern.rs` — the `route` pattern.
//! - `delay.rs` — fixed, uniform and log-normal delays.
//! - `middleware.rs` — where requests meet the rules, before routing, inside the front door.
//! - `routes.rs` — `/__parlor/faults`.
//!
//! Rules are checked in creation order; the first that fires applies. Status and connection
//! effects are decided before the handler runs, so the request has no side effects; a
//! truncated answer is the real one, cut on its way out (`http::cut`).

mod delay;
mod middleware;
mod pattern;
mod routes;
pub mod rule;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

pub use middleware::{Faulting, Fired};
pub use routes::operations;
pub use rule::Connection;
use rule::{Effect, Rule, Seen};

use crate::domain::TenantId;

/// The rules of one server (a field of `ControlPlane`).
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Rules>,
    /// Some rule can still fire: the one check every request pays when none can.
    armed: AtomicBool,
}

#[derive(Default)]
struct Rules {
    next_id: u64,
    list: Vec<Rule>,
}

/// What the rules say about one request.
enum Verdict {
    Pass,
    Fire(Effect),
    /// A rule that takes the request names a tenant: ask again with the caller's tenant.
    NeedTenant,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Rules> {
        // A panic while holding the lock leaves the list whole (every change is one push,
        // remove or counter step), so the rules stay usable.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rearm(&self, rules: &Rules) {
        let armed = rules.list.iter().any(|r| !r.spent());
        self.armed.store(armed, Ordering::Release);
    }

    fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// `tenant`: `None` until the caller was looked up, then the caller's tenant if it has one.
    fn verdict(&self, seen: &Seen, tenant: Option<Option<TenantId>>) -> Verdict {
        let mut rules = self.lock();
        let mut fired = None;
        for rule in rules.list.iter_mut() {
            if rule.spent() || !rule.scope.admits(seen) {
                continue;
            }
            if let Some(wanted) = rule.scope.tenant {
                match tenant {
                    None => return Verdict::NeedTenant,
                    Some(known) if known != Some(wanted) => continue,
                    Some(_) => {}
                }
            }
            if let Some(effect) = rule.fire() {
                fired = Some((effect, rule.spent()));
                break;
            }
        }
        match fired {
            Some((effect, spent)) => {
                if spent {
                    self.rearm(&rules);
                }
                Verdict::Fire(effect)
            }
            None => Verdict::Pass,
        }
    }
}
