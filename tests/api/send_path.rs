//! What one send costs the writer: the rows it writes. Sends run one after another on the
//! writer thread, so every row write (and every statement) a send saves is throughput (the
//! search index's cost is measured by benches/search.sh).
//! SQLite's update hook sees rowid tables only (messages, conversations), not the `WITHOUT
//! ROWID` participants and message_reads.

use std::sync::{Arc, Mutex};

use parlor::domain::{Clock, ConversationId, IdRef, TenantId, UserId};
use parlor::service::conversations::NewConversation;
use parlor::service::directory::{NewTenant, NewUser};
use parlor::service::messages::NewMessage;
use parlor::service::Service;
use parlor::store::{messages::Page, Store, StoreOptions, Synchronous};
use rusqlite::hooks::Action;

/// Row writes seen on the writer's connection: (action, table).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

struct World {
    service: Service,
    tenant: TenantId,
    users: Vec<UserId>,
    conv: ConversationId,
    _dir: tempfile::TempDir,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("send.db"),
        &StoreOptions {
            synchronous: Synchronous::Off,
            read_pool_size: 1,
            max_batch: 64,
        },
    )
    .unwrap();
    let service = Service::new(store, Clock::frozen_at(1_700_000_000_000));
    let tenant = service
        .create_tenant(NewTenant {
            name: "Send".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let mut users = Vec::new();
    for i in 0..3 {
        let u = NewUser {
            display_name: Some(format!("u{i}")),
            ..Default::default()
        };
        users.push(service.create_user(tenant, u).await.unwrap().id);
    }
    let conv = service
        .create_conversation(
            tenant,
            NewConversation {
                participants: users.iter().map(|u| IdRef::Id(u.0)).collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    World {
        service,
        tenant,
        users,
        conv,
        _dir: dir,
    }
}

impl World {
    async fn send(&self, from: usize) -> parlor::domain::Message {
        let body = NewMessage {
            body: "hello".into(),
            ..Default::default()
        };
        self.service
            .send_message(self.tenant, IdRef::Id(self.conv.0), self.users[from], body)
            .await
            .unwrap()
    }

    /// (reader, seq) of every single-message read in the conversation.
    async fn single_reads(&self) -> Vec<(UserId, i64)> {
        let thread = self
            .service
            .messages(
                self.tenant,
                IdRef::Id(self.conv.0),
                None,
                Page::After(0),
                100,
            )
            .await
            .unwrap();
        thread
            .single_reads
            .iter()
            .map(|r| (r.user_id, r.seq))
            .collect()
    }

    /// The row writes `f` makes on the writer's connection.
    async fn writes_of<F: std::future::Future>(&self, f: F) -> Vec<(String, String)> {
        let seen: Seen = Arc::default();
        let sink = seen.clone();
        self.service
            .store
            .write(move |c| {
                let _ = c.update_hook(Some(move |action: Action, _: &str, table: &str, _: i64| {
                    let action = match action {
                        Action::SQLITE_INSERT => "insert",
                        Action::SQLITE_UPDATE => "update",
                        Action::SQLITE_DELETE => "delete",
                        _ => "other",
                    };
                    sink.lock()
                        .unwrap()
                        .push((action.to_string(), table.to_string()));
                }));
                Ok(())
            })
            .await
            .unwrap();
        f.await;
        self.service
            .store
            .write(|c| {
                let _ = c.update_hook(None::<fn(Action, &str, &str, i64)>);
                Ok(())
            })
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        seen
    }
}

fn count(seen: &[(String, String)], action: &str, table: &str) -> usize {
    seen.iter()
        .filter(|(a, t)| a == action && t == table)
        .count()
}

#[test]
fn a_send_writes_its_message_and_each_row_it_changes_once() {
    runtime().block_on(async {
        let w = world().await;
        w.send(1).await;
        let seen = w.writes_of(w.send(0)).await;
        assert_eq!(count(&seen, "insert", "messages"), 1, "{seen:?}");
        // The seq handed out and the last message recorded in one write of the conversation.
        assert_eq!(count(&seen, "update", "conversations"), 1, "{seen:?}");
        // And its event, in the same transaction (its AUTOINCREMENT seq is SQLite's own row,
        // which the update hook does not report).
        assert_eq!(count(&seen, "insert", "events"), 1, "{seen:?}");
        // The search index, in the same transaction: the trigger notes the message, and just
        // before the commit the writer indexes it (its length, then FTS5's new segment and its
        // two records of the index's shape and averages; a merge of segments, every few
        // commits, writes more) and empties the notes (a DELETE of every row, which SQLite
        // does without visiting them, so the hook does not see it).
        assert_eq!(
            count(&seen, "insert", "message_search_pending"),
            1,
            "{seen:?}"
        );
        assert_eq!(
            count(&seen, "insert", "message_search_docsize"),
            1,
            "{seen:?}"
        );
        let index = count(&seen, "insert", "message_search_data");
        assert!((1..=3).contains(&index), "{seen:?}");
        assert_eq!(seen.len(), 5 + index, "nothing else is written: {seen:?}");
    });
}

#[test]
fn a_send_drops_the_senders_single_reads_and_the_seq_follows_on() {
    runtime().block_on(async {
        let w = world().await;
        let first = w.send(1).await;
        let second = w.send(2).await;
        assert_eq!((first.seq, second.seq), (1, 2));
        // User 0 reads the second message alone (above their horizon): a single read.
        let (_, changed) = w
            .service
            .mark_message_read(w.tenant, IdRef::Id(second.id.0), w.users[0])
            .await
            .unwrap();
        assert!(changed);
        assert_eq!(w.single_reads().await, vec![(w.users[0], 2)]);
        let sent = w.send(0).await;
        assert_eq!(sent.seq, 3);
        assert_eq!(w.single_reads().await, vec![]);
        let conv = w
            .service
            .listing(w.tenant, IdRef::Id(w.conv.0), Some(w.users[0]))
            .await
            .unwrap();
        assert_eq!(conv.conversation.last_seq, 3);
        let me = conv.me.unwrap();
        assert_eq!((me.unread_count, me.last_read_seq), (0, 3));
    });
}
