//! E-mail notices of new messages, off the request path (issue 18). One task follows the event
//! log's live batches (`Store::event_batches`): each `message.created` makes every participant
//! it left with unread messages *pending* (`schedule.rs`); the sender is never among them, as
//! sending reads up to one's own message. When a user's delay (`notice_delay_seconds`) has
//! passed, one read checks that they still have unread messages in a conversation of the
//! burst (not muted there) and an e-mail address; then one notice is queued for a second task that talks to the SMTP server
//! (`mail.rs`). Pending notices live in memory only: a restart forgets them and nothing is
//! re-derived from the log, so a notice goes out at most once (a courtesy, never a duplicate).

mod mail;
mod schedule;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use crate::config::Settings;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::store::events::Event;
use crate::store::{participants, tenants, users};
use mail::{Outbox, Outgoing};
use schedule::{Due, Schedule};

pub use mail::{subject, text};

/// The most due users checked by one read.
const CHECK_PAGE: usize = 256;

/// The notice settings, checked.
pub struct Config {
    url: String,
    from: Mailbox,
    delay: Duration,
    public_url: Option<String>,
}

/// Checks the notice settings; None when notices are off (`smtp_url` unset). Never echoes
/// `smtp_url`, which may hold a password.
pub fn configure(settings: &Settings) -> Result<Option<Config>> {
    let from = match &settings.smtp_from {
        Some(text) => Some(text.parse::<Mailbox>().map_err(|e| {
            Error::invalid(
                "smtp_from",
                format!(
                    "{text:?} is not an e-mail address ({e}); give e.g. \
                     \"Riverside Family Clinic <notices@riverside.example>\""
                ),
            )
        })?),
        None => None,
    };
    if settings.notice_delay_seconds == 0 || settings.notice_delay_seconds > 86_400 {
        return Err(Error::invalid(
            "notice_delay_seconds",
            "must be from 1 to 86400 (a day)",
        ));
    }
    let Some(url) = &settings.smtp_url else {
        return Ok(None);
    };
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url).map_err(|e| {
        Error::invalid(
            "smtp_url",
            format!(
                "is not an SMTP server URL ({e}); give smtps://user:pass@host:465, \
                 smtp://user:pass@host:587?tls=required (STARTTLS), or smtp://host:port \
                 (unencrypted, for a relay on this machine)"
            ),
        )
    })?;
    let from = from.ok_or_else(|| {
        Error::invalid(
            "smtp_from",
            "is not set while smtp_url is: give the From address of the notices",
        )
    })?;
    let public_url = match &settings.public_url {
        Some(u) => {
            // What a base address is: the settings' own rule, also used for invite links.
            if !crate::config::is_public_url(u) {
                return Err(Error::invalid(
                    "public_url",
                    format!(
                        "{u:?} is not an http(s) URL, e.g. \"https://messages.riverside.example\""
                    ),
                ));
            }
            Some(u.trim_end_matches('/').to_string())
        }
        None => None,
    };
    Ok(Some(Config {
        url: url.clone(),
        from,
        delay: Duration::from_secs(settings.notice_delay_seconds.into()),
        public_url,
    }))
}

/// Whether `url` sends in clear to another machine (`smtp://` without `tls=`).
fn in_clear_to_network(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let tls = u.query_pairs().any(|(k, _)| k == "tls");
    // `smtp` is not a scheme the URL standard knows, so its host comes as text.
    let local = match u.host_str() {
        Some(h) => {
            h.eq_ignore_ascii_case("localhost")
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback())
        }
        None => true,
    };
    u.scheme() == "smtp" && !tls && !local
}

/// Starts the two tasks when `smtp_url` is set; they stop when `closing` turns true. Returns
/// whether notices are on.
pub fn start(
    service: Service,
    settings: &Settings,
    closing: watch::Receiver<bool>,
) -> Result<bool> {
    let Some(config) = configure(settings)? else {
        return Ok(false);
    };
    if in_clear_to_network(&config.url) {
        tracing::warn!(
            "e-mail notices: smtp_url sends unencrypted to another machine; use smtps:// or \
             ?tls=required unless the relay is trusted"
        );
    }
    let transport = mail::transport(&config.url).map_err(|e| Error::invalid("smtp_url", e))?;
    let outbox = Arc::new(Outbox::default());
    // Subscribed before the server serves: no message sent from now on is missed.
    let batches = service.store.event_batches();
    tracing::info!(
        "e-mail notices: on, {} s after an unread message",
        config.delay.as_secs()
    );
    actix_web::rt::spawn(mail::send(transport, outbox.clone(), closing.clone()));
    actix_web::rt::spawn(follow(service, config, batches, outbox, closing));
    Ok(true)
}

/// The part of an event's payload a notice needs.
#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    unread: Vec<Unread>,
}

#[derive(Deserialize)]
struct Unread {
    user_id: i64,
    unread_count: i64,
}

async fn follow(
    service: Service,
    config: Config,
    mut batches: broadcast::Receiver<crate::store::events::Batch>,
    outbox: Arc<Outbox>,
    mut closing: watch::Receiver<bool>,
) {
    let mut schedule = Schedule::new(config.delay);
    // The last event taken in; 0 before the first batch.
    let mut last = 0;
    let mut restarts = service.store.event_restarts();
    restarts.borrow_and_update();
    loop {
        let next = schedule.next_due();
        tokio::select! {
            got = batches.recv() => match got {
                Ok(batch) => {
                    // A restore (the stand-in's reset) started the log again, below `last`.
                    if restarts.has_changed().unwrap_or(false) {
                        restarts.borrow_and_update();
                        last = 0;
                    }
                    take_in(&mut schedule, &batch, &mut last)
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("e-mail notices: fell {n} batches behind; reading the event log");
                    catch_up(&service, &mut schedule, &mut last).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now).into()), if next.is_some() => {
                deliver(&service, &config, &mut schedule, &outbox).await;
            }
            _ = closing.changed() => return,
        }
    }
}

/// Reads what a lagging receiver skipped from the table (the broadcast's later batches
/// overlap it; `take_in` skips what it has seen).
async fn catch_up(service: &Service, schedule: &mut Schedule, last: &mut i64) {
    if *last == 0 {
        return;
    }
    loop {
        match service.events_after(None, *last).await {
            Ok(page) => {
                let full = page.len() == crate::service::events::PAGE as usize;
                take_in(schedule, &page, last);
                if !full {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(
                    "e-mail notices: reading the event log failed (notices skipped): {e}"
                );
                return;
            }
        }
    }
}

fn take_in(schedule: &mut Schedule, events: &[Event], last: &mut i64) {
    let now = Instant::now();
    let mut dropped = 0;
    for e in events {
        if e.seq <= *last {
            continue;
        }
        *last = e.seq;
        match e.kind.as_str() {
            "message.created" => {
                let Some(conv) = e.conversation else {
                    continue;
                };
                let Ok(payload) = serde_json::from_str::<Payload>(&e.payload) else {
                    continue;
                };
                for u in payload.unread.iter().filter(|u| u.unread_count > 0) {
                    dropped += schedule.add(UserId(u.user_id), e.tenant, ConversationId(conv), now);
                }
            }
            "message.read" | "conversation.read" => {
                if let Some(user) = e.subject {
                    schedule.read_by(UserId(user));
                }
            }
            _ => {}
        }
    }
    if dropped > 0 {
        tracing::warn!(
            "e-mail notices: more than {} users waiting; dropped the {dropped} oldest",
            schedule::PENDING_CAP
        );
    }
}

/// A notice that is owed: the user, their address and the clinic's name.
struct Owed {
    user: UserId,
    email: String,
    language: Option<String>,
    clinic: String,
}

/// Checks the users whose delay has passed and queues the notices still owed.
async fn deliver(service: &Service, config: &Config, schedule: &mut Schedule, outbox: &Outbox) {
    let now = Instant::now();
    loop {
        let due = schedule.take_due(now, CHECK_PAGE);
        if due.is_empty() {
            return;
        }
        let checked = due.len();
        let owed = match service.store.read(move |c| owed(c, due)).await {
            Ok(owed) => owed,
            Err(e) => {
                tracing::warn!("e-mail notices: checking {checked} users failed (skipped): {e}");
                continue;
            }
        };
        let mut queued = Vec::new();
        for o in owed {
            match mail::compose(
                &config.from,
                &o.email,
                o.language.as_deref(),
                &o.clinic,
                config.public_url.as_deref(),
            ) {
                Some(message) => {
                    schedule.noticed(o.user, now);
                    queued.push(Outgoing {
                        user: o.user,
                        message,
                    });
                }
                None => tracing::debug!(
                    "e-mail notices: user {} has an address that cannot be used",
                    o.user.0
                ),
            }
        }
        if !queued.is_empty() {
            let users: Vec<i64> = queued.iter().map(|q| q.user.0).collect();
            tracing::info!(
                "e-mail notices: {} queued of {checked} due (users {users:?})",
                users.len()
            );
        }
        let dropped = outbox.push(queued);
        if dropped > 0 {
            tracing::warn!(
                "e-mail notices: the SMTP server is not keeping up; dropped the {dropped} \
                 oldest of {} waiting",
                mail::OUTBOX_CAP
            );
        }
    }
}

/// Which of `due` are still owed a notice: something is still unread in one of the burst's
/// conversations, which they have not muted, and they have an e-mail address.
fn owed(c: &rusqlite::Connection, due: Vec<Due>) -> Result<Vec<Owed>> {
    let mut clinics: HashMap<TenantId, String> = HashMap::new();
    let mut out = Vec::new();
    for d in due {
        let mut unread = false;
        for conv in &d.conversations {
            if participants::get(c, *conv, d.user)?.is_some_and(|p| p.unread_count > 0 && !p.muted)
            {
                unread = true;
                break;
            }
        }
        if !unread {
            continue;
        }
        let user = match users::get(c, d.tenant, d.user) {
            Ok(u) => u,
            Err(Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(email) = user.profile.email.filter(|e| !e.trim().is_empty()) else {
            continue;
        };
        let clinic = match clinics.get(&d.tenant) {
            Some(name) => name.clone(),
            None => {
                let name = tenants::get(c, d.tenant)?.name;
                clinics.insert(d.tenant, name.clone());
                name
            }
        };
        out.push(Owed {
            user: d.user,
            email,
            language: user.language,
            clinic,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_text_to_the_network_is_noticed() {
        assert!(in_clear_to_network("smtp://mail.example.org:25"));
        assert!(!in_clear_to_network("smtp://localhost:2525"));
        assert!(!in_clear_to_network("smtp://127.0.0.1:2525"));
        assert!(!in_clear_to_network("smtp://[::1]:2525"));
        assert!(in_clear_to_network("smtp://10.0.0.5:25"));
        assert!(!in_clear_to_network(
            "smtp://mail.example.org:587?tls=required"
        ));
        assert!(!in_clear_to_network("smtps://u:p@mail.example.org"));
    }

    #[test]
    fn settings_are_checked() {
        let with = |f: &dyn Fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            configure(&s)
                .map(|c| c.is_some())
                .map_err(|e| e.to_string())
        };
        assert_eq!(with(&|_| {}), Ok(false));
        let err = with(&|s| s.smtp_url = Some("smtp://localhost:2525".into())).unwrap_err();
        assert!(err.contains("smtp_from"), "{err}");
        let ok = |s: &mut Settings| {
            s.smtp_url = Some("smtps://u:secret@mail.example.org".into());
            s.smtp_from = Some("Clinic <n@example.org>".into());
        };
        assert_eq!(with(&ok), Ok(true));
        let err = with(&|s| {
            ok(s);
            s.smtp_url = Some("http://u:secret@mail.example.org".into());
        })
        .unwrap_err();
        assert!(err.contains("smtp_url") && !err.contains("secret"), "{err}");
        let err = with(&|s| {
            ok(s);
            s.smtp_url = Some("smtp://localhost:2525?tls=none".into());
        })
        .unwrap_err();
        assert!(err.contains("smtp_url"), "{err}");
        let err = with(&|s| {
            ok(s);
            s.smtp_from = Some("nobody".into());
        })
        .unwrap_err();
        assert!(err.contains("smtp_from"), "{err}");
        let err = with(&|s| {
            ok(s);
            s.public_url = Some("messages.example.org".into());
        })
        .unwrap_err();
        assert!(err.contains("public_url"), "{err}");
        let err = with(&|s| s.notice_delay_seconds = 0).unwrap_err();
        assert!(err.contains("notice_delay_seconds"), "{err}");
    }
}
