//! The retention sweep: for each tenant, each kind of pruning (`Pruning`; today the messages,
//! tomorrow the audit trail's own six years) finds what expired on a reader, a page of
//! `store::retention::PAGE` rows at a time, then removes it in batches of at most `BATCH` rows,
//! each batch one command of the writer, so a large purge never holds the writer for long and
//! requests go on between batches.
//!
//! The counts are exact: a dry run walks the same pages and counts what a real run would
//! remove; a real run counts what each batch actually removed (each row is checked again in
//! the writer, so a hold placed meanwhile wins).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::MILLIS_PER_DAY;
use crate::domain::{ConversationId, IdRef, TenantId};
use crate::error::Result;
use crate::service::Service;
use crate::store::retention::{self as store, Policy};
use crate::store::{conversations, participants, tenants};

/// The most rows one writer command removes (see the README's measurement, "Retention and
/// legal hold"): a few statements per row, so a batch holds the writer for milliseconds.
pub const BATCH: usize = 100;

/// An expired row as a pruning finds it.
#[derive(Clone, Copy, Debug)]
pub struct Due {
    pub id: i64,
    /// The conversation it belongs to, when it belongs to one.
    pub conversation: Option<ConversationId>,
    /// Kept: a legal hold covers it.
    pub held: bool,
}

/// What one batch removed, and what it kept because a hold placed since the page was read
/// covers it.
#[derive(Clone, Debug, Default)]
pub struct Removed {
    pub rows: u64,
    pub held: u64,
    pub conversations: Vec<ConversationId>,
}

/// One kind of pruning the sweep runs in every tenant.
pub trait Pruning: Send + Sync + 'static {
    /// Its name in the summary ("messages").
    fn name(&self) -> &'static str;
    /// Rows created before this time are due in the tenant; None: it keeps everything there.
    fn cutoff(&self, policy: &Policy, now: i64) -> Option<i64>;
    /// On a reader: the tenant's due rows with an id above `after`, in id order, at most
    /// `store::retention::PAGE`; fewer means there are no more.
    fn due_after(
        &self,
        c: &Connection,
        tenant: TenantId,
        cutoff: i64,
        after: i64,
    ) -> Result<Vec<Due>>;
    /// In one writer command: removes those of `ids` (at most `BATCH`) that are still due and
    /// not held, counting those a hold now covers.
    fn remove(&self, c: &Connection, tenant: TenantId, cutoff: i64, ids: &[i64])
        -> Result<Removed>;
    /// After a real run, in one writer command: keeps what it did where the admin page shows it.
    fn record(&self, _c: &Connection, _tenant: TenantId, _counts: &StepCounts) -> Result<()> {
        Ok(())
    }
}

/// What one pruning found (dry run) or did in one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepCounts {
    pub step: &'static str,
    /// Rows created before this (Unix ms) were due.
    pub cutoff: i64,
    pub removed: u64,
    /// Conversations that lost at least one row.
    pub conversations: u64,
    /// Due rows kept because a legal hold covers them.
    pub held: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantSweep {
    pub tenant: TenantId,
    pub name: String,
    pub steps: Vec<StepCounts>,
}

/// The summary of one run: counts per tenant and pruning, never content. This is the value an
/// audit entry of the run records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    pub at: i64,
    pub dry_run: bool,
    /// The tenants where some pruning applies (a tenant that keeps everything is not listed).
    pub tenants: Vec<TenantSweep>,
    /// Audit entries removed for being older than the trail's own retention.
    pub audit_removed: u64,
}

#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Count what would go; change nothing.
    pub dry_run: bool,
    /// Only this tenant (id or uuid).
    pub tenant: Option<IdRef>,
    /// Where the run is recorded in the audit trail from (`system` for the server's daily
    /// sweep, `cli`); None: the trail is off, nothing is recorded.
    pub audited_as: Option<&'static str>,
    /// Remove audit entries older than this many days (`audit_retention_days`); None: keep
    /// them.
    pub audit_days: Option<u32>,
}

/// The prunings every sweep runs, in order.
pub fn default_steps() -> Vec<Arc<dyn Pruning>> {
    vec![Arc::new(Messages)]
}

/// Messages older than the tenant's `message_days`, with everything attached to them.
pub struct Messages;

pub const MESSAGES: &str = "messages";

impl Pruning for Messages {
    fn name(&self) -> &'static str {
        MESSAGES
    }

    fn cutoff(&self, policy: &Policy, now: i64) -> Option<i64> {
        policy
            .message_days
            .map(|days| now.saturating_sub(days.saturating_mul(MILLIS_PER_DAY)))
    }

    fn due_after(
        &self,
        c: &Connection,
        tenant: TenantId,
        cutoff: i64,
        after: i64,
    ) -> Result<Vec<Due>> {
        Ok(store::expired_after(c, tenant, cutoff, after)?
            .into_iter()
            .map(|e| Due {
                id: e.id,
                conversation: Some(e.conversation_id),
                held: e.held,
            })
            .collect())
    }

    fn remove(
        &self,
        c: &Connection,
        tenant: TenantId,
        cutoff: i64,
        ids: &[i64],
    ) -> Result<Removed> {
        store::securely(c, || remove_messages(c, tenant, cutoff, ids))
    }

    fn record(&self, c: &Connection, tenant: TenantId, counts: &StepCounts) -> Result<()> {
        store::record_run(
            c,
            tenant,
            (counts.removed, counts.conversations, counts.held),
        )
    }
}

/// The read-state invariant (`service::read_state`) holds through a purge: a live message
/// leaves one fewer unread for each member who had not read it (before its single reads
/// go), a soft-deleted one was already uncounted; horizons stay where they are, and each
/// touched conversation's last message, count and sort keys follow what is left.
fn remove_messages(c: &Connection, tenant: TenantId, cutoff: i64, ids: &[i64]) -> Result<Removed> {
    // Per conversation: the live messages removed, and every id removed.
    let mut touched: BTreeMap<ConversationId, (i64, Vec<i64>)> = BTreeMap::new();
    let (mut rows, mut held) = (0, 0);
    for &id in ids {
        let Some(m) = store::purgeable(c, tenant, cutoff, id)? else {
            continue;
        };
        if m.held {
            held += 1;
            continue;
        }
        if m.live {
            participants::on_message_deleted(c, m.conversation_id, m.seq, m.sender_id)?;
        }
        store::delete_message(c, m.id)?;
        let entry = touched.entry(m.conversation_id).or_default();
        entry.0 += i64::from(m.live);
        entry.1.push(m.id);
        rows += 1;
    }
    for (&conv, (live, removed)) in &touched {
        // Expired messages are old, so rarely the last one: then only the count moves.
        // Otherwise the last message, the count and the sort keys follow what is left.
        match store::last_message_id(c, conv)? {
            Some(last) if removed.contains(&last) => {
                conversations::refresh_last_message(c, conv)?;
                participants::resort(c, conv)?;
            }
            _ => store::discount_messages(c, conv, *live)?,
        }
    }
    Ok(Removed {
        rows,
        held,
        conversations: touched.into_keys().collect(),
    })
}

impl Service {
    /// Runs the sweep with the default prunings. The returned summary is what the audit entry
    /// of the run records (one per run, counts only).
    pub async fn run_retention(&self, options: SweepOptions) -> Result<Sweep> {
        self.run_retention_with(&default_steps(), options).await
    }

    pub async fn run_retention_with(
        &self,
        steps: &[Arc<dyn Pruning>],
        options: SweepOptions,
    ) -> Result<Sweep> {
        let at = self.now();
        let chosen = match options.tenant {
            Some(r) => vec![self.store.read(move |c| tenants::find(c, &r)).await?],
            None => self.store.read(tenants::list).await?,
        };
        let mut summary = Sweep {
            at,
            dry_run: options.dry_run,
            tenants: Vec::new(),
            audit_removed: 0,
        };
        for tenant in chosen {
            let id = tenant.id;
            let policy = self.store.read(move |c| store::policy(c, id)).await?;
            let mut done = Vec::new();
            for step in steps {
                let Some(cutoff) = step.cutoff(&policy, at) else {
                    continue;
                };
                let counts = self
                    .prune(step.clone(), id, cutoff, options.dry_run)
                    .await?;
                if !options.dry_run {
                    let (step, counts) = (step.clone(), counts.clone());
                    self.store
                        .write(move |c| {
                            step.record(c, id, &counts)?;
                            // The time is the run's, the same for every tenant.
                            store::stamp_run(c, id, at)
                        })
                        .await?;
                }
                done.push(counts);
            }
            if !done.is_empty() {
                summary.tenants.push(TenantSweep {
                    tenant: id,
                    name: tenant.name,
                    steps: done,
                });
            }
        }
        if let (Some(days), false) = (options.audit_days, options.dry_run) {
            let before = at - i64::from(days) * 86_400_000;
            // In writer commands of bounded size, like the messages: six years of a busy
            // clinic's trail is millions of rows.
            const AUDIT_BATCH: u32 = 5_000;
            loop {
                let removed = self
                    .store
                    .write(move |c| crate::store::audit::prune(c, before, AUDIT_BATCH))
                    .await?;
                summary.audit_removed += removed;
                if removed < u64::from(AUDIT_BATCH) {
                    break;
                }
            }
        }
        if let Some(surface) = options.audited_as {
            for entry in summary.audit_entries(surface) {
                self.store.record(entry).await?;
            }
        }
        Ok(summary)
    }

    /// One pruning in one tenant: page by page on a reader, each page's removable rows in
    /// writer commands of at most `BATCH`.
    async fn prune(
        &self,
        step: Arc<dyn Pruning>,
        tenant: TenantId,
        cutoff: i64,
        dry_run: bool,
    ) -> Result<StepCounts> {
        let mut counts = StepCounts {
            step: step.name(),
            cutoff,
            ..StepCounts::default()
        };
        let mut touched = BTreeSet::new();
        let mut after = 0;
        loop {
            let reader = step.clone();
            let page = self
                .store
                .read(move |c| reader.due_after(c, tenant, cutoff, after))
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let full = page.len() >= store::PAGE;
            let (held, due): (Vec<Due>, Vec<Due>) = page.into_iter().partition(|d| d.held);
            counts.held += held.len() as u64;
            if dry_run {
                counts.removed += due.len() as u64;
                touched.extend(due.iter().filter_map(|d| d.conversation));
            } else {
                for chunk in due.chunks(BATCH) {
                    let ids: Vec<i64> = chunk.iter().map(|d| d.id).collect();
                    let writer = step.clone();
                    let removed = self
                        .store
                        .write(move |c| writer.remove(c, tenant, cutoff, &ids))
                        .await?;
                    counts.held += removed.held;
                    counts.removed += removed.rows;
                    touched.extend(removed.conversations);
                }
            }
            if !full {
                break;
            }
        }
        counts.conversations = touched.len() as u64;
        Ok(counts)
    }
}

/// When the server's first sweep runs after it starts: late enough to stay out of the way of
/// a start-up (fixtures, a burst of reconnecting clients), soon enough to be seen the same day.
pub const FIRST_RUN_AFTER: Duration = Duration::from_secs(5 * 60);
/// Between two sweeps of a running server.
pub const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Starts the daily sweep on the current actix runtime (`retention_sweep = true`), each run
/// with `options`. A failed run is logged and tried again the next day; every run's counts are
/// logged.
pub fn spawn_daily(service: Service, options: SweepOptions) {
    spawn_schedule(service, FIRST_RUN_AFTER, EVERY, options);
}

/// `spawn_daily` with its times given (tests run it at once).
pub fn spawn_schedule(
    service: Service,
    first_after: Duration,
    every: Duration,
    options: SweepOptions,
) {
    actix_web::rt::spawn(async move {
        actix_web::rt::time::sleep(first_after).await;
        loop {
            match service.run_retention(options.clone()).await {
                Ok(sweep) => {
                    for line in sweep.lines() {
                        tracing::info!("retention: {line}");
                    }
                }
                Err(e) => tracing::warn!("the retention sweep failed (tried again tomorrow): {e}"),
            }
            actix_web::rt::time::sleep(every).await;
        }
    });
}

impl Sweep {
    /// The run in words, one line per tenant and pruning (`parlor retention run`, the log).
    pub fn lines(&self) -> Vec<String> {
        let verb = if self.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let mut lines = Vec::new();
        for t in &self.tenants {
            for s in &t.steps {
                lines.push(format!(
                    "tenant {} ({}), {}: {verb} {} from {} conversation(s); {} kept under legal hold \
                     (cutoff {})",
                    t.tenant.0,
                    t.name,
                    s.step,
                    s.removed,
                    s.conversations,
                    s.held,
                    crate::domain::time::rfc3339_ms(s.cutoff)
                ));
            }
        }
        if lines.is_empty() {
            lines.push("no tenant has a retention policy: nothing expires".into());
        }
        if self.audit_removed > 0 {
            lines.push(format!(
                "audit trail: removed {} entries past its retention",
                self.audit_removed
            ));
        }
        lines
    }

    /// The run in the audit trail: one entry for each tenant it looked at (that tenant's
    /// counts, so each clinic sees its own runs), and one for the trail's own pruning. Counts
    /// only, never content.
    pub fn audit_entries(&self, surface: &'static str) -> Vec<crate::audit::Entry> {
        let action = if self.dry_run {
            "retention.dry_run"
        } else {
            "retention.run"
        };
        let base = crate::audit::Entry {
            at: self.at,
            actor: crate::audit::Actor::System,
            surface: surface.into(),
            outcome: "ok".into(),
            ..crate::audit::Entry::default()
        };
        let mut entries: Vec<_> = self
            .tenants
            .iter()
            .map(|t| {
                let steps: Vec<_> = t
                    .steps
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "step": s.step,
                            "cutoff": crate::domain::time::rfc3339_ms(s.cutoff),
                            "removed": s.removed,
                            "conversations": s.conversations,
                            "held": s.held,
                        })
                    })
                    .collect();
                crate::audit::Entry {
                    tenant: Some(t.tenant),
                    action: action.into(),
                    detail: Some(serde_json::json!({ "steps": steps }).to_string()),
                    ..base.clone()
                }
            })
            .collect();
        if self.audit_removed > 0 {
            entries.push(crate::audit::Entry {
                action: "audit.prune".into(),
                detail: Some(serde_json::json!({ "removed": self.audit_removed }).to_string()),
                ..base
            });
        }
        entries
    }
}
