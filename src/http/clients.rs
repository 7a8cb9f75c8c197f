//! What the log says about clients' mistakes.
//!
//! actix-http logs every request it cannot parse, and every connection a client drops midway,
//! as an ERROR ("stream error: request parse error: ..."): a fuzzing run wrote 31,074 of them.
//! Those are the clients' faults, not the server's, and a clinic that alerts on ERROR would be
//! paged for each. `ClientFaults` takes them out of the log and reports them at INFO (target
//! `parlor::clients`): the first at once, the rest counted and summed up at most once a minute.
//! Everything else actix-http reports (a failing response body, an internal error) stays ERROR.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Where actix-http logs a connection's end.
const DISPATCHER: &str = "actix_http::h1::dispatcher";
/// How the reasons that are the client's doing begin, after "stream error: ".
const CLIENT_CAUSES: &[&str] = &[
    "request parse error",
    "I/O error",
    "request did not complete within the specified timeout",
    "connection shutdown timeout",
    "handler dropped payload before reading EOF",
];
/// Least time between two reports.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// A tracing layer; see the module documentation.
pub struct ClientFaults {
    tally: Arc<Tally>,
}

#[derive(Default)]
struct Tally {
    state: Mutex<Counted>,
    arrived: Condvar,
}

#[derive(Default)]
struct Counted {
    count: u64,
    latest: String,
}

impl ClientFaults {
    /// The layer, and the thread that writes its reports (events cannot be logged from inside
    /// the logging of another).
    pub fn start() -> std::io::Result<ClientFaults> {
        let tally = Arc::new(Tally::default());
        let reporter = Arc::clone(&tally);
        std::thread::Builder::new()
            .name("parlor-log".into())
            .spawn(move || reporter.report())?;
        Ok(ClientFaults { tally })
    }
}

impl<S: Subscriber> Layer<S> for ClientFaults {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        if event.metadata().target() != DISPATCHER {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        if !is_client_fault(&message.0) {
            return true;
        }
        let mut counted = self.tally.lock();
        counted.count += 1;
        counted.latest = message.0;
        self.tally.arrived.notify_one();
        false
    }
}

fn is_client_fault(message: &str) -> bool {
    message
        .strip_prefix("stream error: ")
        .is_some_and(|cause| CLIENT_CAUSES.iter().any(|c| cause.starts_with(c)))
        || message == "write zero; closing"
}

impl Tally {
    fn lock(&self) -> MutexGuard<'_, Counted> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn report(&self) {
        loop {
            let (count, latest) = {
                let mut counted = self.lock();
                while counted.count == 0 {
                    counted = self
                        .arrived
                        .wait(counted)
                        .unwrap_or_else(|e| e.into_inner());
                }
                (
                    std::mem::take(&mut counted.count),
                    std::mem::take(&mut counted.latest),
                )
            };
            if count == 1 {
                tracing::info!(
                    target: "parlor::clients",
                    "a client sent a request that could not be read or left mid-request \
                     ({latest}); more are summed up at most once a minute"
                );
            } else {
                tracing::info!(
                    target: "parlor::clients",
                    "{count} requests could not be read or were left midway by their clients \
                     (the latest: {latest})"
                );
            }
            std::thread::sleep(REPORT_EVERY);
        }
    }
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_are_told_from_server_faults() {
        for client in [
            "stream error: request parse error: invalid Header provided",
            "stream error: request parse error: request head is too large",
            "stream error: I/O error: Connection reset by peer (os error 104)",
            "stream error: request did not complete within the specified timeout",
        ] {
            assert!(is_client_fault(client), "{client}");
        }
        for server in [
            "stream error: body error: boom",
            "stream error: internal error",
            "stream error: service error",
            "Response payload stream error: x",
            "Internal server error: unexpected payload chunk",
        ] {
            assert!(!is_client_fault(server), "{server}");
        }
    }
}
