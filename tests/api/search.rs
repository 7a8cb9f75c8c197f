//! Full-text search of messages (`GET /parlor/v1/search`): prefixes, phrases, ranking and
//! snippets; who finds what (a user their own conversations, an admin the tenant, never another
//! tenant's); the index follows every send, edit and delete in the same transaction; malformed
//! searches are 400s naming the problem and no text gives a 500; `parlor check` compares the
//! index with the messages and rebuilds it; an encrypted database searches the same.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

fn user(app: &TestApp, tenant: i64, role: &str, name: &str) -> i64 {
    id(&app.create_user(tenant, json!({"role": role, "display_name": name})))
}

/// Who searches: the server admin in a tenant (optionally as a user), or a user's own token.
enum By<'a> {
    Admin(i64),
    AdminAs(i64, i64),
    Token(&'a str),
}

fn search(app: &TestApp, by: &By, query: &[(&str, &str)]) -> Resp {
    let mut pairs: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
    if let By::AdminAs(_, user) = by {
        pairs.push(("as", user.to_string()));
    }
    let qs: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let req = app.get(&format!("/parlor/v1/search?{qs}"));
    match by {
        By::Admin(t) | By::AdminAs(t, _) => req.admin().tenant(*t).send(),
        By::Token(token) => req.bearer(token).send(),
    }
}

/// The message ids a search finds (one page of up to 100), best first.
fn found(app: &TestApp, by: &By, q: &str) -> Vec<i64> {
    let r = search(app, by, &[("q", q), ("limit", "100")]);
    assert_eq!(r.status, 200, "{q:?}: {:?}", r.body);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message_id"].as_i64().unwrap())
        .collect()
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

/// A clinic: a provider and two patients, each patient in a conversation with the provider.
struct Clinic {
    t: i64,
    doctor: i64,
    ana: i64,
    ben: i64,
    with_ana: i64,
    with_ben: i64,
}

fn clinic(app: &TestApp) -> Clinic {
    let t = app.create_tenant("Clinic");
    let doctor = user(app, t, "provider", "Dr. Rivera");
    let ana = user(app, t, "patient", "Ana");
    let ben = user(app, t, "patient", "Ben");
    let with_ana = id(&app.create_conversation(t, &[doctor, ana]));
    let with_ben = id(&app.create_conversation(t, &[doctor, ben]));
    Clinic {
        t,
        doctor,
        ana,
        ben,
        with_ana,
        with_ben,
    }
}

#[test]
fn words_find_longer_words_phrases_keep_their_order_and_accents_do_not_matter() {
    let app = spawn_app();
    let c = clinic(&app);
    let (t, d) = (c.t, c.doctor);
    let cardio = id(&app.send_as(t, c.with_ana, d, "Referral to cardiology sent today."));
    let pain = id(&app.send_as(t, c.with_ana, c.ana, "I have knee pain after the run."));
    let other = id(&app.send_as(t, c.with_ana, c.ana, "The pain is in my knee."));
    let medico = id(&app.send_as(t, c.with_ana, d, "El médico la verá el MARTES."));
    let xray = id(&app.send_as(t, c.with_ana, d, "Your X-ray is clear."));
    let admin = By::Admin(t);

    // A word of three letters or more finds the longer words it begins.
    assert_eq!(found(&app, &admin, "cardio"), vec![cardio]);
    assert_eq!(found(&app, &admin, "CARD"), vec![cardio]);
    // Shorter words match whole words only, unless they end in *.
    assert_eq!(found(&app, &admin, "el"), vec![medico]);
    assert_eq!(found(&app, &admin, "ca"), Vec::<i64>::new());
    assert_eq!(found(&app, &admin, "ca*"), vec![cardio]);
    // Every word is required; a phrase keeps its words together and in order.
    assert_eq!(sorted(found(&app, &admin, "knee pain")), vec![pain, other]);
    assert_eq!(found(&app, &admin, "\"knee pain\""), vec![pain]);
    // OR, and words left out.
    assert_eq!(
        sorted(found(&app, &admin, "cardiology OR martes")),
        vec![cardio, medico]
    );
    assert_eq!(found(&app, &admin, "knee -run"), vec![other]);
    // Case and accents fold both ways; punctuation splits words as the index does.
    assert_eq!(found(&app, &admin, "medico martes"), vec![medico]);
    assert_eq!(found(&app, &admin, "MÉDICO"), vec![medico]);
    assert_eq!(found(&app, &admin, "x-ray"), vec![xray]);
    assert_eq!(found(&app, &admin, "\"x ray\""), vec![xray]);
    // What looks like FTS5 syntax is text: no column filter, no operator, no error.
    for text in [
        "body:knee",
        "NEAR(knee pain)",
        "knee AND NOT pain",
        "^knee",
        "knee*pain",
        "{scope}: t1",
    ] {
        let r = search(&app, &admin, &[("q", text)]);
        assert_eq!(r.status, 200, "{text}: {:?}", r.body);
    }
    assert_eq!(found(&app, &admin, "body:knee"), Vec::<i64>::new());
}

#[test]
fn hits_are_ranked_best_first_paged_and_carry_what_a_list_shows() {
    let app = spawn_app();
    let c = clinic(&app);
    let (t, d) = (c.t, c.doctor);
    let long = id(&app.send_as(
        t,
        c.with_ana,
        d,
        "We looked at everything from your visit on Monday, and the radiologist also \
         mentioned the MRI once in the long report that follows the summary of findings.",
    ));
    let twice = id(&app.send_as(t, c.with_ben, c.ben, "MRI today? The MRI form is signed."));
    let short = id(&app.send_as(t, c.with_ana, c.ana, "MRI booked"));
    // bm25: more of the word, in a shorter message, ranks higher.
    let r = search(&app, &By::Admin(t), &[("q", "mri")]);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let order: Vec<i64> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message_id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![twice, short, long]);
    assert_eq!(r.body["truncated"], false);
    assert!(r.body["next_cursor"].is_null());
    let hit = &r.body["data"][0];
    assert_eq!(hit["conversation_id"], c.with_ben);
    assert_eq!(hit["seq"], 1);
    assert_eq!(hit["sender_id"], c.ben);
    assert_eq!(hit["sender_name"], "Ben");
    assert!(hit["conversation_name"].is_null());
    assert!(hit["created_at"].as_str().unwrap().ends_with('Z'));

    // Two at a time: the cursor continues in rank order, and the last page says it is.
    let r1 = search(&app, &By::Admin(t), &[("q", "mri"), ("limit", "2")]);
    assert_eq!(r1.status, 200, "{:?}", r1.body);
    assert_eq!(r1.body["data"].as_array().unwrap().len(), 2);
    let cursor = r1.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let r2 = search(
        &app,
        &By::Admin(t),
        &[("q", "mri"), ("limit", "2"), ("after", &cursor)],
    );
    assert_eq!(r2.status, 200, "{:?}", r2.body);
    assert_eq!(r2.body["data"][0]["message_id"], long);
    assert_eq!(r2.body["data"].as_array().unwrap().len(), 1);
    assert!(r2.body["next_cursor"].is_null());
}

/// The snippet's pieces joined, with the matches in brackets.
fn marked(hit: &Value) -> String {
    hit["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let text = p["text"].as_str().unwrap();
            if p["match"] == true {
                format!("[{text}]")
            } else {
                text.to_string()
            }
        })
        .collect()
}

#[test]
fn a_snippet_marks_the_matches_and_is_plain_text() {
    let app = spawn_app();
    let c = clinic(&app);
    let (t, d) = (c.t, c.doctor);
    app.send_as(
        t,
        c.with_ana,
        d,
        "<b>Knee</b> MRI: the knee shows <script>alert(1)</script> no tear.",
    );
    let r = search(&app, &By::Admin(t), &[("q", "knee tear")]);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        marked(&r.body["data"][0]),
        "<b>[Knee]</b> MRI: the [knee] shows <script>alert(1)</script> no [tear]."
    );
    // A long message is cut around its matches, with an ellipsis where it was cut.
    let filler = "word ".repeat(60);
    app.send_as(
        t,
        c.with_ana,
        d,
        &format!("{filler}the ultrasound is on friday {filler}"),
    );
    let r = search(&app, &By::Admin(t), &[("q", "ultrasound")]);
    let text = marked(&r.body["data"][0]);
    assert!(text.contains("[ultrasound]"), "{text}");
    assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
    assert!(text.chars().count() < 150, "{text}");
}

#[test]
fn a_user_finds_only_messages_of_their_own_conversations() {
    let app = spawn_app();
    let c = clinic(&app);
    let (t, d) = (c.t, c.doctor);
    let to_ana = id(&app.send_as(t, c.with_ana, d, "Your biopsy result is back"));
    let to_ben = id(&app.send_as(t, c.with_ben, d, "Your biopsy is scheduled"));
    // Another clinic uses the same words.
    let other = app.create_tenant("Other clinic");
    let (od, op) = (
        user(&app, other, "provider", "Dr. Other"),
        user(&app, other, "patient", "Zoe"),
    );
    let oc = id(&app.create_conversation(other, &[od, op]));
    let elsewhere = id(&app.send_as(other, oc, od, "Your biopsy result is back"));

    let ana = app.token_for(t, c.ana, &["*"]);
    let doctor = app.token_for(t, d, &["*"]);
    assert_eq!(found(&app, &By::Token(&ana), "biopsy"), vec![to_ana]);
    assert_eq!(
        sorted(found(&app, &By::Token(&doctor), "biopsy")),
        vec![to_ana, to_ben]
    );
    // The admin searches the tenant, or as a user their conversations; never another tenant.
    assert_eq!(
        sorted(found(&app, &By::Admin(t), "biopsy")),
        vec![to_ana, to_ben]
    );
    assert_eq!(found(&app, &By::AdminAs(t, c.ben), "biopsy"), vec![to_ben]);
    assert_eq!(found(&app, &By::Admin(other), "biopsy"), vec![elsewhere]);
    // A user of one tenant is nobody in another: `as` names no such user.
    let r = search(&app, &By::AdminAs(t, op), &[("q", "biopsy")]);
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"]["field"], "as");
    // A user may search as themselves, not as someone else.
    let r = app
        .get(&format!("/parlor/v1/search?q=biopsy&as={}", c.ben))
        .bearer(&ana)
        .send();
    assert_eq!(r.status, 403, "{:?}", r.body);

    // Leaving a conversation takes its messages out of the user's searches.
    let r = app
        .delete(&format!(
            "/parlor/v1/conversations/{}/participants/{}",
            c.with_ana, c.ana
        ))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(found(&app, &By::Token(&ana), "biopsy"), Vec::<i64>::new());
    // And a user in no conversation at all finds nothing.
    let newcomer = user(&app, t, "patient", "Newcomer");
    let token = app.token_for(t, newcomer, &["*"]);
    assert_eq!(found(&app, &By::Token(&token), "biopsy"), Vec::<i64>::new());
}

#[test]
fn a_user_in_many_conversations_is_searched_through_the_tenant_and_still_only_sees_theirs() {
    let app = spawn_app();
    let c = clinic(&app);
    let t = c.t;
    // More conversations than a query names one by one: the doctor's search checks membership
    // match by match instead.
    let mut mine = Vec::new();
    for n in 0..105 {
        let p = user(&app, t, "patient", &format!("Patient {n}"));
        let conv = id(&app.create_conversation(t, &[c.doctor, p]));
        if n % 20 == 0 {
            mine.push(id(&app.send_as(t, conv, p, &format!("sutures {n}"))));
        }
    }
    let stranger = user(&app, t, "patient", "Stranger");
    let nurse = user(&app, t, "staff", "Nurse");
    let theirs = id(&app.create_conversation(t, &[stranger, nurse]));
    app.send_as(t, theirs, stranger, "sutures elsewhere");
    let doctor = app.token_for(t, c.doctor, &["*"]);
    assert_eq!(sorted(found(&app, &By::Token(&doctor), "sutures")), mine);
    assert_eq!(found(&app, &By::Admin(t), "sutures").len(), mine.len() + 1);
}

#[test]
fn sends_edits_and_deletes_change_what_is_found_at_once() {
    let app = spawn_app();
    let c = clinic(&app);
    let (t, d) = (c.t, c.doctor);
    let admin = By::Admin(t);
    // Each search runs right after the write's answer: the index changed in its transaction.
    let m = id(&app.send_as(t, c.with_ana, d, "Bring your inhaler"));
    assert_eq!(found(&app, &admin, "inhaler"), vec![m]);

    let r = app
        .patch(&format!("/parlor/v1/messages/{m}"))
        .admin()
        .tenant(t)
        .json(&json!({"body": "Bring your nebulizer"}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(found(&app, &admin, "inhaler"), Vec::<i64>::new());
    assert_eq!(found(&app, &admin, "nebulizer"), vec![m]);

    let r = app
        .delete(&format!("/parlor/v1/messages/{m}"))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(found(&app, &admin, "nebulizer"), Vec::<i64>::new());

    // A deleted conversation takes its messages out of every search.
    let kept = id(&app.send_as(t, c.with_ben, d, "Flu shot on Friday"));
    let gone = id(&app.send_as(t, c.with_ana, d, "Flu shot on Monday"));
    assert_eq!(sorted(found(&app, &admin, "flu")), vec![kept, gone]);
    let r = app
        .delete(&format!("/parlor/v1/conversations/{}", c.with_ana))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(found(&app, &admin, "flu"), vec![kept]);

    // After all that, the index still holds exactly what a search may find, word for word.
    let report = parlor::store::integrity::verify(
        &app.dir.path().join("parlor.db"),
        parlor::store::integrity::Depth::Full,
        None,
    )
    .unwrap();
    assert!(report.is_sound(), "{:?}", report.problems());
}

#[test]
fn the_fixtures_and_a_vendor_faces_messages_are_found_too() {
    // Every surface writes through the store, whose triggers index: the demo's fixture and a
    // message sent through Pigeons are found like the native API's.
    let app = spawn_demo();
    let r = app
        .post("/api/v1/pigeons/chat/messages")
        .bearer("1|demoPigeonsJohnDoeToken")
        .header("X-PUBLIC-KEY", "pk_demo_pigeons")
        .json(&json!({
            "conversation_uuid": "550e8400-e29b-41d4-a716-446655440000",
            "receiver_uuid": "660e8400-e29b-41d4-a716-446655440002",
            "context_text": "Quetzal feathers for the costume",
            "context_type": "text",
            "device": {"type": "mobile", "os": "iOS", "app_version": "3.1.0"}
        }));
    assert!(r.status == 200 || r.status == 201, "{:?}", r.body);
    let tenants = app.get("/parlor/v1/tenants").admin().send();
    let pigeons = tenants.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["public_key"] == "pk_demo_pigeons")
        .map(id)
        .expect("the Pigeons demo tenant");
    let hits = search(&app, &By::Admin(pigeons), &[("q", "quetzal")]);
    assert_eq!(hits.status, 200, "{:?}", hits.body);
    assert_eq!(
        hits.body["data"].as_array().unwrap().len(),
        1,
        "{:?}",
        hits.body
    );
    assert!(!found(&app, &By::Admin(1), "ibuprofen").is_empty());
    // The clinic's search does not reach the platform's message.
    assert!(found(&app, &By::Admin(1), "quetzal").is_empty());
}

#[test]
fn malformed_searches_are_400s_naming_the_problem() {
    let app = spawn_app();
    let c = clinic(&app);
    let admin = By::Admin(c.t);
    let long = "a".repeat(201);
    for (query, field, says) in [
        (vec![], "q", "is required"),
        (vec![("q", "")], "q", "must not be empty"),
        (vec![("q", "   ")], "q", "must not be empty"),
        (vec![("q", "\"knee pain")], "q", "unbalanced quote"),
        (vec![("q", "knee OR")], "q", "OR"),
        (vec![("q", "-knee")], "q", "excluded"),
        (vec![("q", "?!")], "q", "no word to search for"),
        (vec![("q", long.as_str())], "q", "at most 200 characters"),
        (vec![("q", "knee"), ("after", "x")], "after", "cursor"),
        (vec![("q", "knee"), ("after", "-3")], "after", "cursor"),
        (
            vec![("q", "knee"), ("limit", "0")],
            "limit",
            "between 1 and 100",
        ),
        (
            vec![("q", "knee"), ("limit", "101")],
            "limit",
            "between 1 and 100",
        ),
        (vec![("q", "knee"), ("as", "nobody!")], "as", ""),
        (vec![("q", "knee"), ("page", "2")], "", "page"),
    ] {
        let r = search(&app, &admin, &query);
        assert_eq!(r.status, 400, "{query:?}: {:?}", r.body);
        assert_eq!(r.code(), "invalid", "{query:?}");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query:?}: {message}");
        if !field.is_empty() {
            assert_eq!(r.body["error"]["field"], field, "{query:?}");
        }
        assert!(!message.to_lowercase().contains("fts5"), "{message}");
        assert!(!message.contains("syntax error"), "{message}");
    }
    // Without a credential: 401, as everywhere.
    let r = app.get("/parlor/v1/search?q=knee").send();
    assert_eq!(r.status, 401, "{:?}", r.body);
}

/// Text mixing what could trip a query language: quotes, FTS5 operators and column names,
/// stars, carets, parentheses, NUL and other control characters, and any other character.
fn awkward_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_string()),
        Just("OR".to_string()),
        Just("AND".to_string()),
        Just("NOT".to_string()),
        Just("NEAR(".to_string()),
        Just("-".to_string()),
        Just("*".to_string()),
        Just("^".to_string()),
        Just(":".to_string()),
        Just("{body}".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\u{0}".to_string()),
        Just("\u{E000}t1".to_string()),
        Just(" ".to_string()),
        "[a-zñé]{1,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

#[test]
fn no_search_text_gives_a_500() {
    let app = spawn_app();
    let c = clinic(&app);
    app.send_as(
        c.t,
        c.with_ana,
        c.doctor,
        "Knee MRI: \"no tear\" (OR so it seems)",
    );
    let ana = app.token_for(c.t, c.ana, &["*"]);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&awkward_text(), |text| {
            for by in [By::Admin(c.t), By::Token(&ana)] {
                let r = search(&app, &by, &[("q", &text)]);
                prop_assert!(
                    r.status == 200 || r.status == 400,
                    "{text:?}: {} {:?}",
                    r.status,
                    r.body
                );
                if r.status == 400 {
                    prop_assert_eq!(&r.body["error"]["field"], "q");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_search_is_an_audited_read_of_the_messages_it_found() {
    let app = spawn_app();
    let c = clinic(&app);
    let m = id(&app.send_as(c.t, c.with_ana, c.doctor, "Colonoscopy prep instructions"));
    let doctor = app.token_for(c.t, c.doctor, &["*"]);
    assert_eq!(found(&app, &By::Token(&doctor), "colonoscopy"), vec![m]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let entry = loop {
        let r = app
            .get("/parlor/v1/audit?limit=100")
            .admin()
            .tenant(c.t)
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        let hit = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["route"] == "GET /parlor/v1/search")
            .cloned();
        if let Some(e) = hit {
            break e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no entry for the search"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(entry["action"], "read", "{entry:#}");
    assert_eq!(entry["outcome"], "ok", "{entry:#}");
    assert_eq!(entry["actor"]["id"], c.doctor, "{entry:#}");
    let names = |kind: &str, id: i64| {
        entry["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["type"] == kind && o["id"].as_str() == Some(id.to_string().as_str()))
    };
    assert!(names("message", m), "{entry:#}");
    assert!(names("conversation", c.with_ana), "{entry:#}");
    let text = entry.to_string();
    // The patient the messages concern is named; the text searched for and found is not.
    let patients: Vec<i64> = entry["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(patients, vec![c.ana], "{entry:#}");
    assert!(!text.to_lowercase().contains("colonoscopy"), "{entry:#}");
}

fn parlor(db: &Path, args: &[&str]) -> std::process::Output {
    parlor_keyed(db, args, None)
}

/// `parlor` on `db`, with the encryption key in `key` (none: no key).
fn parlor_keyed(db: &Path, args: &[&str], key: Option<&Path>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parlor"));
    command
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PARLOR_DB")
        .env_remove("PARLOR_ENCRYPTION_KEY_FILE")
        .env("RUST_LOG", "warn");
    if let Some(key) = key {
        command.env("PARLOR_ENCRYPTION_KEY_FILE", key);
    }
    command.output().expect("run parlor")
}

/// `parlor check` finds nothing wrong, the search index included.
fn assert_index_sound(db: &Path, key: Option<&Path>) {
    let o = parlor_keyed(db, &["check"], key);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("search index: sound"), "{}", out(&o));
}

fn out(o: &std::process::Output) -> String {
    format!(
        "status {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Takes the first (`order` "ASC") or the last ("DESC") searchable message out of the index, as
/// a tool writing behind Parlor's back could; returns its id and scope words.
fn unindex(conn: &rusqlite::Connection, order: &str) -> (i64, String) {
    let (id, body, scope): (i64, String, String) = conn
        .query_row(
            &format!(
                "SELECT id, body, scope FROM message_search_source ORDER BY id {order} LIMIT 1"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    conn.execute(
        "INSERT INTO message_search (message_search, rowid, body, scope)
         VALUES ('delete', ?1, ?2, ?3)",
        rusqlite::params![id, body, scope],
    )
    .unwrap();
    (id, scope)
}

/// Indexes message `id` under `words` it does not hold.
fn index_as(conn: &rusqlite::Connection, id: i64, words: &str, scope: &str) {
    conn.execute(
        "INSERT INTO message_search (rowid, body, scope) VALUES (?1, ?2, ?3)",
        rusqlite::params![id, words, scope],
    )
    .unwrap();
}

#[test]
fn check_finds_an_index_out_of_step_and_rebuild_mends_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::integrity::demo_db(dir.path());
    assert_index_sound(&db, None);

    // Out of step, as a tool writing behind Parlor's back would leave it: a message indexed
    // under words it does not hold, and another taken out of the index altogether.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let (id, scope) = unindex(&conn, "ASC");
        index_as(&conn, id, "zanzibar", &scope);
        unindex(&conn, "DESC");
    }
    let o = parlor(&db, &["check"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("search index: PROBLEMS FOUND"), "{text}");
    assert!(text.contains("1 message(s) are missing from it"), "{text}");
    assert!(text.contains("--rebuild-search"), "{text}");
    assert!(
        !text.contains("damaged"),
        "an index out of step is no damage: {text}"
    );

    let o = parlor(&db, &["check", "--rebuild-search"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "it found a problem: {text}");
    assert!(text.contains("Search index rebuilt:"), "{text}");
    assert_index_sound(&db, None);

    // The words alone out of step (every message indexed, one under the wrong words): only
    // the full check reads every word, and --fix rebuilds too.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let (id, scope) = unindex(&conn, "ASC");
        index_as(&conn, id, "zanzibar", &scope);
    }
    let o = parlor(&db, &["check", "--quick"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = parlor(&db, &["check"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("do not match the messages' text"), "{text}");
    let o = parlor(&db, &["check", "--fix"]);
    assert!(out(&o).contains("Search index rebuilt:"), "{}", out(&o));
    let o = parlor(&db, &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // A sound index rebuilt on request: nothing was wrong, so status 0.
    let o = parlor(&db, &["check", "--rebuild-search"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("Search index rebuilt:"), "{}", out(&o));
}

#[test]
fn an_encrypted_database_searches_the_same_and_encrypting_keeps_the_index() {
    use parlor::store::cipher::Key;
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("parlor.key");
    Key::generate(&key).write_new().unwrap();
    let app = spawn_with(|s| s.encryption_key_file = Some(key.clone()));
    let c = clinic(&app);
    let m = id(&app.send_as(c.t, c.with_ana, c.doctor, "Your echocardiogram is normal"));
    let r = search(&app, &By::Admin(c.t), &[("q", "echo")]);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"][0]["message_id"], m);
    assert_eq!(
        marked(&r.body["data"][0]),
        "Your [echocardiogram] is normal"
    );
    drop(app);

    // A plain database with an index, encrypted by `parlor encrypt`: the copy's index is whole.
    let dir = tempfile::tempdir().unwrap();
    let db = crate::integrity::demo_db(dir.path());
    let o = parlor_keyed(&db, &["encrypt"], Some(&key));
    assert!(o.status.success(), "{}", out(&o));
    assert_index_sound(&db, Some(&key));
}

#[test]
fn a_retention_purge_leaves_the_index_and_no_word_of_it_in_the_file() {
    use parlor::service::retention::SweepOptions;
    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_735_689_600_000;
    let app = spawn_app();
    let c = clinic(&app);
    app.service.clock.freeze(T0);
    for n in 0..20 {
        app.send_as(
            c.t,
            c.with_ana,
            c.ana,
            &format!("quokkadiagnosis{n:02} details"),
        );
    }
    app.service.clock.freeze(T0 + DAY);
    let kept = id(&app.send_as(c.t, c.with_ana, c.doctor, "wombatreply details"));
    assert_eq!(found(&app, &By::Admin(c.t), "quokkadiagnosis").len(), 20);
    let r = app
        .request("PUT", "/parlor/v1/retention")
        .admin()
        .tenant(c.t)
        .json(&json!({ "message_days": 1 }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.service.clock.freeze(T0 + DAY + 1);
    let service = app.service.clone();
    actix_web::rt::System::new()
        .block_on(async move { service.run_retention(SweepOptions::default()).await })
        .unwrap();
    assert_eq!(
        found(&app, &By::Admin(c.t), "quokkadiagnosis"),
        Vec::<i64>::new()
    );
    assert_eq!(found(&app, &By::Admin(c.t), "details"), vec![kept]);
    app.service.store.close_blocking().unwrap();
    let bytes = std::fs::read(app.dir.path().join("parlor.db")).unwrap();
    let holds = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        holds("wombatreply"),
        "the index and the file are readable as they are"
    );
    assert!(
        !holds("quokkadiagnosis"),
        "a purged message's words are still in the file"
    );
}

#[test]
fn the_ranking_covers_the_newest_matches_of_a_very_common_search_and_says_so() {
    use parlor::domain::search::TextQuery;
    use parlor::domain::{TenantId, UserId};
    use parlor::store::message_search::{self, Marks, Within};
    let app = spawn_app();
    let c = clinic(&app);
    let mut sent = Vec::new();
    for n in 0..6 {
        sent.push(id(&app.send_as(
            c.t,
            c.with_ana,
            c.doctor,
            &format!("common {n}"),
        )));
    }
    let run = |window: i64, member: Option<i64>| {
        let q = TextQuery::parse("common").unwrap();
        let tenant = TenantId(c.t);
        app.service
            .store
            .read_blocking(move |conn| {
                message_search::search(
                    conn,
                    tenant,
                    &q,
                    &Within::Tenant,
                    member.map(UserId),
                    &Marks {
                        open: "[",
                        close: "]",
                        ellipsis: "…",
                    },
                    window,
                    0,
                    100,
                )
            })
            .unwrap()
    };
    let all = run(10, None);
    assert!(!all.truncated);
    assert_eq!(all.hits.len(), 6);
    let newest = run(4, None);
    assert!(newest.truncated);
    let ids: Vec<i64> = newest.hits.iter().map(|h| h.message_id.0).collect();
    assert_eq!(sorted(ids), sent[2..].to_vec());
    assert!(!run(6, None).truncated, "exactly the window: all ranked");
    assert_eq!(run(10, Some(c.ben)).hits.len(), 0, "Ben is in none of them");
}
