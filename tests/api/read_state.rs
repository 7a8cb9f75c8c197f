//! The read-state invariant under random operation sequences: after every operation each
//! stored unread count, last message and sort key equals a recount from the messages table.

use parlor::domain::{Clock, ConversationId, IdRef, TenantId, UserId};
use parlor::service::conversations::{NewConversation, Scope};
use parlor::service::directory::{NewTenant, NewUser};
use parlor::service::messages::NewMessage;
use parlor::service::Service;
use parlor::store::{messages::Page, participants, Store, StoreOptions, Synchronous};
use proptest::prelude::*;

const USERS: usize = 4;
const CONVERSATIONS: usize = 2;

#[derive(Clone, Debug)]
enum Op {
    Send {
        conv: usize,
        user: usize,
    },
    Edit {
        conv: usize,
        pick: usize,
    },
    Delete {
        conv: usize,
        pick: usize,
    },
    MarkUpTo {
        conv: usize,
        user: usize,
        pick: Option<usize>,
    },
    MarkOne {
        conv: usize,
        user: usize,
        pick: usize,
    },
    Join {
        conv: usize,
        user: usize,
    },
    Leave {
        conv: usize,
        user: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CONVERSATIONS;
    let u = 0..USERS;
    prop_oneof![
        4 => (c.clone(), u.clone()).prop_map(|(conv, user)| Op::Send { conv, user }),
        1 => (c.clone(), any::<usize>()).prop_map(|(conv, pick)| Op::Edit { conv, pick }),
        2 => (c.clone(), any::<usize>()).prop_map(|(conv, pick)| Op::Delete { conv, pick }),
        2 => (c.clone(), u.clone(), proptest::option::of(any::<usize>()))
            .prop_map(|(conv, user, pick)| Op::MarkUpTo { conv, user, pick }),
        3 => (c.clone(), u.clone(), any::<usize>()).prop_map(|(conv, user, pick)| Op::MarkOne { conv, user, pick }),
        1 => (c.clone(), u.clone()).prop_map(|(conv, user)| Op::Join { conv, user }),
        1 => (c, u).prop_map(|(conv, user)| Op::Leave { conv, user }),
    ]
}

struct World {
    service: Service,
    tenant: TenantId,
    users: Vec<UserId>,
    convs: Vec<ConversationId>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("prop.db"),
        &StoreOptions {
            synchronous: Synchronous::Off,
            read_pool_size: 2,
            max_batch: 64,
        },
    )
    .unwrap();
    let clock = Clock::frozen_at(1_700_000_000_000);
    let service = Service::new(store, clock);
    let tenant = service
        .create_tenant(NewTenant {
            name: "Prop".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let mut users = Vec::new();
    for i in 0..USERS {
        let u = NewUser {
            display_name: Some(format!("u{i}")),
            ..Default::default()
        };
        users.push(service.create_user(tenant, u).await.unwrap().id);
    }
    let mut convs = Vec::new();
    for _ in 0..CONVERSATIONS {
        // Everybody but the last user starts in every conversation.
        let members = users[..USERS - 1].iter().map(|u| IdRef::Id(u.0)).collect();
        let conv = service
            .create_conversation(
                tenant,
                NewConversation {
                    participants: members,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        convs.push(conv.id);
    }
    World {
        service,
        tenant,
        users,
        convs,
        _dir: dir,
    }
}

impl World {
    /// The live messages of a conversation, oldest first.
    async fn live(&self, conv: usize) -> Vec<parlor::domain::Message> {
        self.service
            .messages(
                self.tenant,
                IdRef::Id(self.convs[conv].0),
                None,
                Page::After(0),
                100,
            )
            .await
            .map(|t| t.messages)
            .unwrap_or_default()
    }

    async fn pick(&self, conv: usize, pick: usize) -> Option<IdRef> {
        let live = self.live(conv).await;
        (!live.is_empty()).then(|| IdRef::Id(live[pick % live.len()].id.0))
    }

    /// Applies one operation. Refusals (not a member, nothing to pick...) are fine: the
    /// invariant must hold whatever happens.
    async fn apply(&self, op: &Op) {
        let s = &self.service;
        let t = self.tenant;
        let c = |i: usize| IdRef::Id(self.convs[i].0);
        // Each step ticks the clock so timestamps order like real traffic.
        s.clock.freeze(s.now() + 1000);
        let _ = match op {
            Op::Send { conv, user } => {
                let body = NewMessage {
                    body: format!("m{}", s.now()),
                    ..Default::default()
                };
                s.send_message(t, c(*conv), self.users[*user], body)
                    .await
                    .map(|_| ())
            }
            Op::Edit { conv, pick } => match self.pick(*conv, *pick).await {
                Some(m) => s
                    .edit_message(t, m, None, "edited".into())
                    .await
                    .map(|_| ()),
                None => Ok(()),
            },
            Op::Delete { conv, pick } => match self.pick(*conv, *pick).await {
                Some(m) => s.delete_message(t, m, None).await.map(|_| ()),
                None => Ok(()),
            },
            Op::MarkUpTo { conv, user, pick } => {
                let up_to = match pick {
                    Some(p) => self.pick(*conv, *p).await,
                    None => None,
                };
                s.mark_read(t, c(*conv), self.users[*user], up_to)
                    .await
                    .map(|_| ())
            }
            Op::MarkOne { conv, user, pick } => match self.pick(*conv, *pick).await {
                Some(m) => s
                    .mark_message_read(t, m, self.users[*user])
                    .await
                    .map(|_| ()),
                None => Ok(()),
            },
            Op::Join { conv, user } => s
                .add_participant(t, c(*conv), IdRef::Id(self.users[*user].0))
                .await
                .map(|_| ()),
            Op::Leave { conv, user } => s
                .remove_participant(t, c(*conv), IdRef::Id(self.users[*user].0))
                .await
                .map(|_| ()),
        };
    }

    /// Every derived value equals what the facts say.
    async fn check(&self) -> Result<(), String> {
        let drift = self
            .service
            .store
            .read(participants::find_drift)
            .await
            .map_err(|e| e.to_string())?;
        if !drift.is_empty() {
            return Err(format!("unread drift: {drift:?}"));
        }
        for (i, conv) in self.convs.iter().enumerate() {
            let live = self.live(i).await;
            let stored = self
                .service
                .conversation(self.tenant, IdRef::Id(conv.0))
                .await
                .map_err(|e| e.to_string())?;
            if stored.message_count != live.len() as i64 {
                return Err(format!(
                    "conversation {i}: count {} but {} live",
                    stored.message_count,
                    live.len()
                ));
            }
            let expected = live.last().map(|m| (m.id, m.body.clone()));
            let actual = stored.last_message.as_ref().map(|m| (m.id, m.text.clone()));
            if expected != actual {
                return Err(format!(
                    "conversation {i}: last message {actual:?}, expected {expected:?}"
                ));
            }
            let listing = self
                .service
                .listing(self.tenant, IdRef::Id(conv.0), None)
                .await
                .map_err(|e| e.to_string())?;
            for m in &listing.members {
                let page = self
                    .service
                    .conversation_page(self.tenant, Scope::User(m.user.id), None, 10)
                    .await
                    .map_err(|e| e.to_string())?;
                if !page.items.iter().any(|l| l.conversation.id == *conv) {
                    return Err(format!(
                        "conversation {i} missing from the list of user {:?}",
                        m.user.id
                    ));
                }
            }
        }
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn unread_counts_always_equal_a_recount(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = runtime();
        rt.block_on(async {
            let w = world().await;
            for (step, op) in ops.iter().enumerate() {
                w.apply(op).await;
                if let Err(e) = w.check().await {
                    return Err(TestCaseError::fail(format!("after step {step} ({op:?}): {e}")));
                }
            }
            Ok(())
        })?;
    }
}

#[test]
fn a_late_joiner_has_read_the_history_and_sees_only_what_follows() {
    runtime().block_on(async {
        let w = world().await;
        let (s, t) = (&w.service, w.tenant);
        let conv = IdRef::Id(w.convs[0].0);
        for _ in 0..3 {
            s.send_message(
                t,
                conv.clone(),
                w.users[0],
                NewMessage {
                    body: "before".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        let late = w.users[USERS - 1];
        let joined = s
            .add_participant(t, conv.clone(), IdRef::Id(late.0))
            .await
            .unwrap();
        assert_eq!(joined.unread_count, 0);
        s.send_message(
            t,
            conv.clone(),
            w.users[0],
            NewMessage {
                body: "after".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let me = s.listing(t, conv, Some(late)).await.unwrap().me.unwrap();
        assert_eq!(me.unread_count, 1);
    });
}

#[test]
fn marking_one_message_then_the_conversation_counts_each_message_once() {
    runtime().block_on(async {
        let w = world().await;
        let (s, t) = (&w.service, w.tenant);
        let conv = IdRef::Id(w.convs[0].0);
        let mut sent = Vec::new();
        for i in 0..4 {
            let m = s
                .send_message(
                    t,
                    conv.clone(),
                    w.users[0],
                    NewMessage {
                        body: format!("m{i}"),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            sent.push(m);
        }
        let reader = w.users[1];
        let (_, changed) = s
            .mark_message_read(t, IdRef::Id(sent[3].id.0), reader)
            .await
            .unwrap();
        assert!(changed);
        let (_, again) = s
            .mark_message_read(t, IdRef::Id(sent[3].id.0), reader)
            .await
            .unwrap();
        assert!(!again, "marking twice must not count twice");
        let p = s
            .mark_read(t, conv.clone(), reader, Some(IdRef::Id(sent[1].id.0)))
            .await
            .unwrap();
        assert_eq!(
            p.unread_count, 1,
            "only m2 is left: m0-m1 by horizon, m3 read singly"
        );
        // The horizon never moves back.
        let p = s
            .mark_read(t, conv.clone(), reader, Some(IdRef::Id(sent[0].id.0)))
            .await
            .unwrap();
        assert_eq!((p.last_read_seq, p.unread_count), (2, 1));
        s.delete_message(t, IdRef::Id(sent[2].id.0), None)
            .await
            .unwrap();
        let me = s.listing(t, conv, Some(reader)).await.unwrap().me.unwrap();
        assert_eq!(me.unread_count, 0);
    });
}
