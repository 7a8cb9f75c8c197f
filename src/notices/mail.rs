//! The e-mail itself and the way out: what a notice says (`compose`), and the outbox, a
//! bounded queue that one task empties through the SMTP server, one message at a time. A slow
//! or dead server fills the queue, never memory: past `OUTBOX_CAP` the oldest notice is
//! dropped with a warning. A failed send is not retried (a notice is a courtesy: at most once).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{watch, Notify};

use crate::domain::UserId;

/// The most notices waiting for the SMTP server.
pub const OUTBOX_CAP: usize = 1_000;
/// The longest one SMTP command may take before the send is given up.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A notice's subject in the user's language (`crate::domain::LANGUAGES`; English when they
/// have not chosen).
pub fn subject(language: Option<&str>) -> &'static str {
    match language {
        Some("es") => "Nuevo mensaje seguro",
        _ => "New secure message",
    }
}

/// The text of a notice in the user's language: the clinic's name and where to sign in,
/// nothing about the message or who sent it.
pub fn text(language: Option<&str>, clinic: &str, public_url: Option<&str>) -> String {
    let link = public_url.map(|base| format!("{}/app/", base.trim_end_matches('/')));
    match (language, link) {
        (Some("es"), Some(link)) => format!(
            "Tiene un nuevo mensaje seguro de {clinic}.\r\nInicie sesión para leerlo: {link}\r\n"
        ),
        (Some("es"), None) => format!(
            "Tiene un nuevo mensaje seguro de {clinic}.\r\nInicie sesión en la mensajería \
             segura de {clinic} para leerlo.\r\n"
        ),
        (_, Some(link)) => format!(
            "You have a new secure message from {clinic}.\r\nSign in to read it: {link}\r\n"
        ),
        (_, None) => format!(
            "You have a new secure message from {clinic}.\r\nSign in to {clinic}'s secure \
             messaging to read it.\r\n"
        ),
    }
}

/// A notice ready to send, and whom it is for (for the log: never the address).
pub struct Outgoing {
    pub user: UserId,
    pub message: Message,
}

/// Builds the e-mail; None when the address cannot be used.
pub fn compose(
    from: &Mailbox,
    to: &str,
    language: Option<&str>,
    clinic: &str,
    public_url: Option<&str>,
) -> Option<Message> {
    let to: Mailbox = to.trim().parse().ok()?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject(language))
        .header(ContentType::TEXT_PLAIN)
        .body(text(language, clinic, public_url))
        .ok()
}

/// The notices waiting for the SMTP server.
#[derive(Default)]
pub struct Outbox {
    queue: Mutex<VecDeque<Outgoing>>,
    ready: Notify,
}

impl Outbox {
    /// Queues `notices`; returns how many older ones were dropped to make room.
    pub fn push(&self, notices: Vec<Outgoing>) -> usize {
        if notices.is_empty() {
            return 0;
        }
        let mut dropped = 0;
        {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            for n in notices {
                if queue.len() >= OUTBOX_CAP {
                    queue.pop_front();
                    dropped += 1;
                }
                queue.push_back(n);
            }
        }
        self.ready.notify_one();
        dropped
    }

    fn pop(&self) -> Option<Outgoing> {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }
}

/// The transport `smtp_url` describes (lettre's URL syntax), with Parlor's timeout.
pub fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|b| b.timeout(Some(SMTP_TIMEOUT)).build())
        .map_err(|e| e.to_string())
}

/// Sends what the outbox holds, oldest first, until `closing`.
pub async fn send(
    transport: AsyncSmtpTransport<Tokio1Executor>,
    outbox: Arc<Outbox>,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        while let Some(notice) = outbox.pop() {
            let sending = transport.send(notice.message);
            tokio::select! {
                sent = sending => match sent {
                    Ok(_) => tracing::debug!("e-mail notices: sent to user {}", notice.user.0),
                    Err(e) => tracing::warn!(
                        "e-mail notices: sending to user {} failed (not retried): {}",
                        notice.user.0,
                        failure(&e)
                    ),
                },
                _ = closing.changed() => return,
            }
        }
        tokio::select! {
            _ = outbox.ready.notified() => {}
            _ = closing.changed() => return,
        }
    }
}

/// A failed send, for the log: a server's answer by its code only, since its text may quote
/// the recipient's address.
fn failure(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) if e.is_permanent() => format!("refused by the server ({code})"),
        Some(code) => format!("the server answered {code}"),
        None if e.is_timeout() => "timed out".into(),
        None if e.is_tls() => format!("TLS failed: {e}"),
        None => format!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_the_clinic_and_the_link_only() {
        assert_eq!(
            text(
                None,
                "Riverside Family Clinic",
                Some("https://msg.example.org/")
            ),
            "You have a new secure message from Riverside Family Clinic.\r\nSign in to read \
             it: https://msg.example.org/app/\r\n"
        );
        assert!(!text(None, "Riverside", None).contains("http"));
        assert!(!text(Some("es"), "Riverside", None).contains("http"));
    }

    #[test]
    fn a_user_who_chose_spanish_reads_spanish() {
        assert_eq!(subject(Some("es")), "Nuevo mensaje seguro");
        assert_eq!(subject(Some("en")), subject(None));
        assert_eq!(
            text(Some("es"), "Riverside", Some("https://msg.example.org")),
            "Tiene un nuevo mensaje seguro de Riverside.\r\nInicie sesión para leerlo: \
             https://msg.example.org/app/\r\n"
        );
        assert_eq!(
            text(Some("en"), "Riverside", None),
            text(None, "Riverside", None)
        );
    }

    #[test]
    fn unusable_addresses_are_skipped() {
        let from: Mailbox = "Clinic <notices@example.org>".parse().unwrap();
        assert!(compose(&from, "not an address", None, "C", None).is_none());
        assert!(compose(
            &from,
            "a@example.org\r\nBcc: b@example.org",
            None,
            "C",
            None
        )
        .is_none());
        assert!(compose(&from, " pat@example.org ", None, "C", None).is_some());
    }

    #[test]
    fn the_outbox_keeps_the_newest() {
        let outbox = Outbox::default();
        let from: Mailbox = "notices@example.org".parse().unwrap();
        let one = |u| Outgoing {
            user: UserId(u),
            message: compose(&from, "p@example.org", None, "C", None).unwrap(),
        };
        assert_eq!(outbox.push((0..OUTBOX_CAP as i64).map(one).collect()), 0);
        assert_eq!(outbox.push(vec![one(-1), one(-2)]), 2);
        assert_eq!(outbox.pop().map(|n| n.user), Some(UserId(2)));
    }
}
