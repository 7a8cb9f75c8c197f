//! The audit trail: who read or changed which records, concerning which patients (45 CFR
//! 164.312(b)).
//!
//! A request to the native API or a face runs inside a *draft* (`scope`, set by the `Trail`
//! middleware; the CLI sets its own): the surface, client address, user agent and request id
//! from the start; the caller as soon as a credential is accepted (`identify`); the records
//! touched and the patients concerned as the service reads and writes them (`touch`,
//! `patients`, `conversation`). Code running inside a `Store::read` or `Store::write` closure is
//! on a reader or the writer thread, out of the request's task: its notes go to a ledger of
//! that thread, which the store hands back to the draft when the closure returns.
//!
//! A write made inside a draft appends the entry in the same savepoint as the write
//! (`store::write`): it commits with the change or not at all. Anything else (reads, refusals)
//! is recorded when the response is ready, queued for the writer (`store::audit_queue`) and
//! stored within a second, without the request waiting for it.

pub mod cli;
mod entry;
pub mod trail;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

pub use entry::{object, outcome_of, Actor, Entry, Recorded};

use crate::domain::{Role, TenantId};

/// The entry being drafted for the running request or command.
#[derive(Debug, Default)]
pub struct Draft {
    pub entry: Entry,
    /// A write of this request stored an entry in its transaction: the request needs no other.
    pub written: bool,
}

pub type Shared = Arc<Mutex<Draft>>;

tokio::task_local! {
    static DRAFT: Shared;
}

/// Runs `f` with `draft` as the entry its reads and writes note themselves in.
pub async fn scope<F: Future>(draft: Shared, f: F) -> F::Output {
    DRAFT.scope(draft, f).await
}

/// The running request's draft, if it is audited.
pub fn current() -> Option<Shared> {
    DRAFT.try_with(Arc::clone).ok()
}

/// `f`, carrying the current draft along (for work spawned as its own task).
pub fn carry<F: Future>(f: F) -> impl Future<Output = F::Output> {
    let draft = current();
    async move {
        match draft {
            Some(draft) => DRAFT.scope(draft, f).await,
            None => f.await,
        }
    }
}

/// At most this many records are named in one entry (a fixture load touches millions); the
/// rest are counted (`Entry::unlisted`).
pub const MAX_OBJECTS: usize = 100;
/// At most this many conversations have their patients looked up for one entry.
const MAX_UNRESOLVED: usize = 50;

/// What a store closure noted on its thread.
#[derive(Debug, Default)]
pub struct Notes {
    unlisted: u64,
    objects: Vec<(String, String)>,
    patients: BTreeSet<i64>,
    unresolved: Vec<i64>,
    /// Conversations whose members were read: their patients are in `patients`.
    resolved: Vec<i64>,
}

thread_local! {
    static LEDGER: RefCell<Option<Notes>> = const { RefCell::new(None) };
}

/// Opens this thread's ledger for a store closure run on behalf of an audited request.
pub fn open_ledger() {
    LEDGER.with(|l| *l.borrow_mut() = Some(Notes::default()));
}

/// Closes this thread's ledger and returns what was noted.
pub fn close_ledger() -> Notes {
    LEDGER.with(|l| l.borrow_mut().take()).unwrap_or_default()
}

/// Notes into this thread's ledger when one is open, else into the request's draft.
fn note(f: impl FnOnce(&mut Notes)) {
    let mut f = Some(f);
    LEDGER.with(|l| {
        if let (Some(notes), Some(f)) = (l.borrow_mut().as_mut(), f.take()) {
            f(notes);
        }
    });
    if let (Some(f), Some(draft)) = (f, current()) {
        let mut notes = Notes::default();
        f(&mut notes);
        merge(&draft, notes);
    }
}

/// Adds a store closure's notes to the draft.
pub fn merge(draft: &Shared, notes: Notes) {
    let mut d = lock(draft);
    apply(&mut d.entry, notes);
}

/// Adds `notes` to `entry`.
pub fn apply(entry: &mut Entry, notes: Notes) {
    entry.unlisted += notes.unlisted;
    for (kind, id) in notes.objects {
        entry.touch(&kind, id);
    }
    entry.patients.extend(notes.patients);
    entry.unresolved.retain(|c| !notes.resolved.contains(c));
    for c in notes.unresolved {
        if !entry.unresolved.contains(&c) {
            entry.unresolved.push(c);
        }
    }
}

pub fn lock(draft: &Shared) -> std::sync::MutexGuard<'_, Draft> {
    draft.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a user of `role` is someone the records are about rather than the clinic's
/// workforce (see `store::audit::PATIENT_ROLES`).
pub fn is_patient(role: Role) -> bool {
    matches!(role, Role::Patient | Role::Customer | Role::Participant)
}

/// Whether anything is listening: a store closure of an audited request, or the request.
fn active() -> bool {
    LEDGER.with(|l| l.borrow().is_some()) || current().is_some()
}

/// The request touched the record `(kind, id)`.
pub fn touch(kind: &'static str, id: impl ToString) {
    if !active() {
        return;
    }
    let id = id.to_string();
    note(|n| entry::name(&mut n.objects, &mut n.unlisted, kind, id));
}

/// The request read or changed a user's record.
pub fn user(id: i64, role: Role) {
    touch(object::USER, id);
    if is_patient(role) {
        note(|n| {
            n.patients.insert(id);
        });
    }
}

/// The request concerns this patient (a patient acting for themselves).
pub fn patient(id: i64) {
    note(|n| {
        n.patients.insert(id);
    });
}

/// The request read or changed a conversation whose members it did not load: its patients
/// are looked up when the entry is stored.
pub fn conversation(id: i64) {
    if !active() {
        return;
    }
    touch(object::CONVERSATION, id);
    note(|n| {
        if n.unresolved.len() < MAX_UNRESOLVED
            && !n.unresolved.contains(&id)
            && !n.resolved.contains(&id)
        {
            n.unresolved.push(id);
        }
    });
}

/// A message of a conversation was read or written.
pub fn message(id: i64, conversation_id: i64) {
    touch(object::MESSAGE, id);
    conversation(conversation_id);
}

/// The request read a conversation together with its members (`role` of each): its patients
/// are known, none to look up.
pub fn conversation_with(id: i64, members: impl IntoIterator<Item = (i64, Role)>) {
    if !active() {
        return;
    }
    touch(object::CONVERSATION, id);
    let patients: Vec<i64> = members
        .into_iter()
        .filter(|(_, role)| is_patient(*role))
        .map(|(id, _)| id)
        .collect();
    note(|n| {
        n.unresolved.retain(|c| *c != id);
        n.resolved.push(id);
        n.patients.extend(patients);
    });
}

/// Who is calling: the credential was accepted.
pub fn identify(actor: Actor, credential: Option<String>, tenant: Option<TenantId>) {
    if let Some(tenant) = tenant {
        crate::telemetry::requests::note_tenant(tenant);
    }
    if let Some(draft) = current() {
        let mut d = lock(&draft);
        d.entry.actor = actor;
        d.entry.credential = credential;
        if tenant.is_some() {
            d.entry.tenant = tenant;
        }
    }
}

/// The credential, when the one that authenticated stands for another (a session's token).
pub fn set_credential(credential: String) {
    if let Some(draft) = current() {
        lock(&draft).entry.credential = Some(credential);
    }
}

/// The tenant the request is about (a server admin names it).
pub fn tenant(tenant: TenantId) {
    crate::telemetry::requests::note_tenant(tenant);
    if let Some(draft) = current() {
        lock(&draft).entry.tenant = Some(tenant);
    }
}

/// What the request does, when its method alone does not say it (a sign-in, a token issued).
/// The first named action stays: a sign-in issues a token, and is still a sign-in.
pub fn action(action: &'static str) {
    if let Some(draft) = current() {
        let mut d = lock(&draft);
        let by_method = ["read", "create", "update", "delete", "mark_read", "other"];
        if by_method.contains(&d.entry.action.as_str()) {
            d.entry.action = action.to_string();
        }
    }
}

/// The surface the request came through, when it is not the one its path says (the admin
/// page calls the native API).
pub fn surface(surface: &'static str) {
    crate::telemetry::requests::note_surface(surface);
    if let Some(draft) = current() {
        lock(&draft).entry.surface = surface.to_string();
    }
}

/// Counts of a run (retention, an export), as JSON.
pub fn detail(detail: serde_json::Value) {
    if let Some(draft) = current() {
        lock(&draft).entry.detail = Some(detail.to_string());
    }
}
