//! Accounts for staff and patients (issue 18): sign-in for every role, one-time invite and
//! reset links, contacts and who may start a conversation with whom, and `/me`.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, Req, Resp, TestApp};

const HOUR: i64 = 3_600_000;

/// A browser's session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    answer: Resp,
}

impl Session {
    fn from_answer(answer: Resp) -> Session {
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let cookie = answer
            .header("set-cookie")
            .expect("a cookie")
            .split(';')
            .next()
            .and_then(|p| p.strip_prefix("parlor_session="))
            .expect("the session cookie")
            .to_string();
        Session {
            cookie,
            csrf: answer.body["csrf_token"]
                .as_str()
                .expect("csrf")
                .to_string(),
            answer,
        }
    }

    fn on(&self, req: Req) -> Req {
        req.header("Cookie", &format!("parlor_session={}", self.cookie))
    }

    fn changing(&self, req: Req) -> Req {
        self.on(req).header("X-Parlor-CSRF", &self.csrf)
    }
}

/// A clinic: an admin, two providers, a staff member, two patients; the first patient shares a
/// conversation with the first provider. Everyone but patient 2 has a password.
struct Clinic {
    app: TestApp,
    t: i64,
    admin: i64,
    provider: i64,
    provider2: i64,
    staff: i64,
    patient: i64,
    patient2: i64,
    conv: i64,
}

const PASSWORD: &str = "correct horse battery";

fn clinic() -> Clinic {
    clinic_with(spawn_app())
}

fn clinic_with(app: TestApp) -> Clinic {
    let t = app.create_tenant("Riverside Family Clinic");
    let user = |role: &str, username: &str, name: &str, password: bool| {
        let mut body = json!({"role": role, "username": username, "display_name": name,
                              "first_name": name.split(' ').next().unwrap()});
        if password {
            body["password"] = json!(PASSWORD);
        }
        app.create_user(t, body)["id"].as_i64().unwrap()
    };
    let admin = user("admin", "office", "Olive Office", true);
    let provider = user("provider", "drlee", "Dana Lee", true);
    let provider2 = user("provider", "drkim", "Sam Kim", true);
    let staff = user("staff", "nurse", "Nora Nurse", true);
    let patient = user("patient", "pat", "Pat Patient", true);
    let patient2 = user("patient", "quinn", "Quinn Other", false);
    let conv = app.create_conversation(t, &[patient, provider])["id"]
        .as_i64()
        .unwrap();
    Clinic {
        app,
        t,
        admin,
        provider,
        provider2,
        staff,
        patient,
        patient2,
        conv,
    }
}

impl Clinic {
    fn sign_in(&self, username: &str, client: Option<&str>) -> Session {
        let mut body = json!({"username": username, "password": PASSWORD, "tenant": self.t});
        if let Some(c) = client {
            body["client"] = json!(c);
        }
        Session::from_answer(self.app.post("/parlor/v1/session").json(&body))
    }

    fn invite(&self, user: i64, body: Value) -> Resp {
        self.app
            .post(&format!("/parlor/v1/users/{user}/invites"))
            .admin()
            .tenant(self.t)
            .json(&body)
    }

    fn invite_url(&self, user: i64, body: Value) -> String {
        let r = self.invite(user, body);
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["url"].as_str().unwrap().to_string()
    }
}

fn secret_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

fn ids(list: &Value) -> Vec<i64> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

// --- Sign-in for every role --------------------------------------------------------------

#[test]
fn every_role_signs_in_and_the_session_tells_the_role_and_client() {
    let c = clinic();
    for (name, role) in [
        ("drlee", "provider"),
        ("nurse", "staff"),
        ("pat", "patient"),
        ("office", "admin"),
    ] {
        let s = c.sign_in(name, Some("app"));
        assert_eq!(s.answer.body["role"], role, "{:?}", s.answer.body);
        assert_eq!(s.answer.body["client"], "app");
        assert_eq!(s.answer.body["user"]["username"], name);
        let again = s.on(c.app.get("/parlor/v1/session")).send();
        assert_eq!(
            (again.status, again.body["role"].clone()),
            (200, json!(role))
        );
    }
    // Without a tenant, the username is looked up in every tenant, for every role.
    let s = Session::from_answer(
        c.app
            .post("/parlor/v1/session")
            .json(&json!({"username": "pat", "password": PASSWORD})),
    );
    assert_eq!(s.answer.body["role"], "patient");
    assert_eq!(
        s.answer.body["client"], "admin",
        "the admin page's, by default"
    );
    // A wrong password, a user without one, an unknown client: refused.
    let wrong = c
        .app
        .post("/parlor/v1/session")
        .json(&json!({"username": "pat", "password": "not the password", "tenant": c.t}));
    assert_eq!(wrong.status, 401);
    let bad_client = c
        .app
        .post("/parlor/v1/session")
        .json(&json!({"username": "pat", "password": PASSWORD, "client": "phone"}));
    assert_eq!(
        (bad_client.status, bad_client.code()),
        (400, "invalid"),
        "{:?}",
        bad_client.body
    );
    assert_eq!(bad_client.body["error"]["field"], "client");
}

#[test]
fn a_patients_session_is_confined_to_what_the_patient_may_do() {
    let c = clinic();
    let other = c.app.create_conversation(c.t, &[c.patient2, c.provider])["id"]
        .as_i64()
        .unwrap();
    let s = c.sign_in("pat", Some("app"));
    let app = &c.app;
    // Their own conversation: yes, and they can reply in it.
    let mine = s.on(app.get("/parlor/v1/conversations")).send();
    assert_eq!(mine.status, 200);
    let listed: Vec<i64> = mine.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, vec![c.conv]);
    let sent = s
        .changing(app.post(&format!("/parlor/v1/conversations/{}/messages", c.conv)))
        .json(&json!({"body": "Thanks, doctor"}));
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    assert_eq!(sent.body["sender_id"], c.patient);
    // Not the users list, not another conversation, not "as" someone, not admin routes.
    let users = s.on(app.get("/parlor/v1/users")).send();
    assert_eq!(users.status, 403, "{:?}", users.body);
    let foreign = s
        .on(app.get(&format!("/parlor/v1/conversations/{other}")))
        .send();
    assert_eq!(foreign.status, 404, "{:?}", foreign.body);
    let foreign_msgs = s
        .on(app.get(&format!("/parlor/v1/conversations/{other}/messages")))
        .send();
    assert_eq!(foreign_msgs.status, 404, "{:?}", foreign_msgs.body);
    let as_provider = s
        .changing(app.post(&format!("/parlor/v1/conversations/{}/messages", c.conv)))
        .json(&json!({"body": "forged", "as": c.provider}));
    assert_eq!(as_provider.status, 403, "{:?}", as_provider.body);
    let admin_only = [
        s.changing(app.post(&format!("/parlor/v1/users/{}/invites", c.patient2)))
            .json(&json!({})),
        s.changing(app.post("/parlor/v1/users"))
            .json(&json!({"role": "patient", "display_name": "x"})),
        s.on(app.get("/parlor/v1/audit")).send(),
        s.on(app.get("/parlor/v1/webhooks")).send(),
        s.changing(app.patch(&format!("/parlor/v1/conversations/{}", c.conv)))
            .json(&json!({"name": "renamed"})),
    ];
    for r in admin_only {
        assert_eq!(r.status, 403, "{:?}", r.body);
    }
    // Changes still need the CSRF token.
    let no_csrf = s
        .on(app.post(&format!("/parlor/v1/conversations/{}/messages", c.conv)))
        .json(&json!({"body": "hi"}));
    assert_eq!(no_csrf.status, 403);
}

/// The tenant's audit entries once `wanted` holds for them (reads are recorded within a second
/// of their answer), or after ten seconds whatever there is.
fn audit_until(c: &Clinic, query: &str, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = c
            .app
            .get(&format!("/parlor/v1/audit?limit=100{query}"))
            .admin()
            .tenant(c.t)
            .send();
        let data = r.body["data"].as_array().cloned().unwrap_or_default();
        if wanted(&data) || std::time::Instant::now() > deadline {
            return data;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn app_sessions_are_audited_under_their_own_surface() {
    let c = clinic();
    let s = c.sign_in("pat", Some("app"));
    assert_eq!(
        s.on(c.app.get("/parlor/v1/conversations")).send().status,
        200
    );
    let admin = c.sign_in("office", None);
    assert_eq!(
        admin
            .on(c.app.get("/parlor/v1/conversations"))
            .send()
            .status,
        200
    );
    let seen = |e: &Value, surface: &str, who: i64| {
        e["route"] == "GET /parlor/v1/conversations"
            && e["surface"] == surface
            && e["actor"]["id"] == who
    };
    let entries = audit_until(&c, "&action=read", |d| {
        d.iter().any(|e| seen(e, "app", c.patient)) && d.iter().any(|e| seen(e, "admin", c.admin))
    });
    assert!(
        entries.iter().any(|e| seen(e, "app", c.patient)),
        "{entries:#?}"
    );
    assert!(
        entries.iter().any(|e| seen(e, "admin", c.admin)),
        "{entries:#?}"
    );
}

// --- Invites and resets --------------------------------------------------------------------

#[test]
fn an_invite_shows_who_it_is_for_sets_the_password_once_and_signs_in() {
    let c = clinic();
    let r = c.invite(c.patient2, json!({}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    // No password yet: an invite, for 72 hours; the link is this server's /app page.
    assert_eq!(r.body["purpose"], "invite");
    let url = r.body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/app/#/welcome/", c.app.base)),
        "{url}"
    );
    let secret = secret_of(url);
    assert_eq!(secret.len(), 64, "256 random bits");
    let created =
        chrono::DateTime::parse_from_rfc3339(r.body["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(r.body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_hours(), 72);

    let state = c
        .app
        .get(&format!("/parlor/v1/users/{}/invites", c.patient2))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(state.body["outstanding"], true, "{:?}", state.body);
    assert_eq!(state.body["invite_expires_at"], r.body["expires_at"]);

    let path = format!("/parlor/v1/invites/{secret}");
    let shown = c.app.get(&path).send();
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body["purpose"], "invite");
    assert_eq!(shown.body["clinic_name"], "Riverside Family Clinic");
    assert_eq!(shown.body["name"], "Quinn");
    assert_eq!(shown.body["username"], "quinn");

    // The password rules are the usual ones; a refused password does not use the link.
    let short = c.app.post(&path).json(&json!({"password": "short"}));
    assert_eq!(
        (short.status, short.body["error"]["field"].clone()),
        (400, json!("password"))
    );
    // Only as JSON: another site's page cannot post it and sign a browser in.
    let form = c
        .app
        .post(&path)
        .raw("text/plain", r#"{"password": "a new long password"}"#);
    assert_eq!(
        (form.status, form.body["error"]["field"].clone()),
        (400, json!("Content-Type"))
    );
    let used = c
        .app
        .post(&path)
        .json(&json!({"password": "a new long password"}));
    let s = Session::from_answer(used);
    assert_eq!(s.answer.body["role"], "patient");
    assert_eq!(s.answer.body["client"], "app");
    assert_eq!(s.answer.body["user"]["id"], c.patient2);
    assert_eq!(s.answer.body["user"]["has_password"], true);
    assert_eq!(
        s.on(c.app.get("/parlor/v1/me")).send().body["id"],
        c.patient2
    );
    // The password works at sign-in.
    let signed = c
        .app
        .post("/parlor/v1/session")
        .json(&json!({"username": "quinn", "password": "a new long password", "tenant": c.t}));
    assert_eq!(signed.status, 200);

    // Then never again: the same 404 as a link that never was.
    {
        let again = c
            .app
            .post(&path)
            .json(&json!({"password": "another long password"}));
        assert_eq!(
            (again.status, again.code()),
            (404, "not_found"),
            "{:?}",
            again.body
        );
        assert_eq!(c.app.get(&path).send().status, 404);
    }
    let never = c
        .app
        .get(&format!("/parlor/v1/invites/{}", "0".repeat(64)))
        .send();
    assert_eq!(never.status, 404);
    assert_eq!(
        never.body,
        c.app.get(&path).send().body,
        "nothing tells them apart"
    );
    let state = c
        .app
        .get(&format!("/parlor/v1/users/{}/invites", c.patient2))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(state.body["outstanding"], false);
}

#[test]
fn two_uses_at_once_set_the_password_only_once() {
    let c = clinic();
    let secret = secret_of(&c.invite_url(c.patient2, json!({})));
    let path = format!("/parlor/v1/invites/{secret}");
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (app, path) = (&c.app, &path);
                scope.spawn(move || {
                    app.post(path)
                        .json(&json!({"password": format!("concurrent password {i}")}))
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = answers.clone();
    sorted.sort();
    assert_eq!(sorted, vec![200, 404, 404, 404], "{answers:?}");
}

#[test]
fn an_expired_or_replaced_link_is_not_found() {
    let c = clinic();
    let start = c.app.service.now();
    c.app.service.clock.freeze(start);
    let old = secret_of(&c.invite_url(c.patient2, json!({"expires_in_hours": 2})));
    let new = secret_of(&c.invite_url(c.patient2, json!({"expires_in_hours": 1})));
    // A new link revokes the earlier one.
    assert_eq!(
        c.app
            .get(&format!("/parlor/v1/invites/{old}"))
            .send()
            .status,
        404
    );
    assert_eq!(
        c.app
            .get(&format!("/parlor/v1/invites/{new}"))
            .send()
            .status,
        200
    );
    c.app.service.clock.freeze(start + HOUR);
    let path = format!("/parlor/v1/invites/{new}");
    assert_eq!(c.app.get(&path).send().status, 404);
    let late = c
        .app
        .post(&path)
        .json(&json!({"password": "too late for this"}));
    assert_eq!(late.status, 404, "{:?}", late.body);
    // Bad requests are named.
    for (body, field) in [
        (json!({"expires_in_hours": 0}), "expires_in_hours"),
        (json!({"expires_in_hours": 721}), "expires_in_hours"),
        (json!({"purpose": "welcome"}), "purpose"),
    ] {
        let r = c.invite(c.patient2, body);
        assert_eq!(
            (r.status, r.body["error"]["field"].clone()),
            (400, json!(field)),
            "{:?}",
            r.body
        );
    }
    let nameless = c
        .app
        .create_user(c.t, json!({"role": "patient", "display_name": "No Name"}));
    let r = c.invite(nameless["id"].as_i64().unwrap(), json!({}));
    assert_eq!(
        (r.status, r.body["error"]["field"].clone()),
        (400, json!("user")),
        "{:?}",
        r.body
    );
    assert_eq!(c.invite(999_999, json!({})).status, 404);
}

#[test]
fn a_reset_sets_a_new_password_and_signs_the_user_out_everywhere() {
    let c = clinic();
    let before = c.sign_in("pat", Some("app"));
    let token = c.app.token_for(c.t, c.patient, &["native"]);
    let r = c.invite(c.patient, json!({}));
    assert_eq!(r.status, 201);
    // The user has a password: a reset, for 24 hours.
    assert_eq!(r.body["purpose"], "reset");
    let secret = secret_of(r.body["url"].as_str().unwrap());
    assert_eq!(
        c.app
            .get(&format!("/parlor/v1/invites/{secret}"))
            .send()
            .body["purpose"],
        "reset"
    );
    let after = Session::from_answer(
        c.app
            .post(&format!("/parlor/v1/invites/{secret}"))
            .json(&json!({"password": "my brand new password"})),
    );
    assert_eq!(
        before.on(c.app.get("/parlor/v1/session")).send().status,
        401
    );
    assert_eq!(
        c.app
            .get("/parlor/v1/conversations")
            .bearer(&token)
            .send()
            .status,
        401
    );
    assert_eq!(
        after
            .on(c.app.get("/parlor/v1/conversations"))
            .send()
            .status,
        200
    );
    let old = c
        .app
        .post("/parlor/v1/session")
        .json(&json!({"username": "pat", "password": PASSWORD, "tenant": c.t}));
    assert_eq!(old.status, 401);
}

#[test]
fn a_tenant_admin_makes_links_for_their_own_tenant_only() {
    let c = clinic();
    let admin = c.sign_in("office", None);
    let r = admin
        .changing(
            c.app
                .post(&format!("/parlor/v1/users/{}/invites", c.patient2)),
        )
        .json(&json!({"purpose": "invite", "expires_in_hours": 5}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let other = c.app.create_tenant("Elsewhere");
    let stranger = c.app.create_user(
        other,
        json!({"role": "patient", "username": "x", "display_name": "X"}),
    );
    let r = admin
        .changing(
            c.app
                .post(&format!("/parlor/v1/users/{}/invites", stranger["id"])),
        )
        .json(&json!({}));
    assert_eq!(r.status, 404, "{:?}", r.body);
    let provider = c.sign_in("drlee", Some("app"));
    let r = provider
        .changing(
            c.app
                .post(&format!("/parlor/v1/users/{}/invites", c.patient2)),
        )
        .json(&json!({}));
    assert_eq!(r.status, 403, "{:?}", r.body);
}

/// The whole audit trail as `parlor audit export` writes it (JSON lines), once it holds
/// `count` entries of `action` (entries are written within a second), or after ten seconds.
fn exported_trail(c: &Clinic, action: &str, count: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let out = parlor_cli(c, &["audit", "export"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let found = text
            .lines()
            .filter(|l| l.contains(&format!("\"action\":\"{action}\"")))
            .count();
        if found >= count || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn parlor_cli(c: &Clinic, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(c.app.dir.path().join("parlor.db"))
        .args(args)
        .env_remove("PARLOR_DB")
        .env_remove("PARLOR_PUBLIC_URL")
        .output()
        .expect("run parlor")
}

#[test]
fn invites_are_audited_without_their_secret() {
    let c = clinic();
    let secret = secret_of(&c.invite_url(c.patient2, json!({})));
    let path = format!("/parlor/v1/invites/{secret}");
    assert_eq!(c.app.get(&path).send().status, 200);
    assert_eq!(
        c.app
            .post(&path)
            .json(&json!({"password": "a long enough one"}))
            .status,
        200
    );
    assert_eq!(
        c.app
            .post(&path)
            .json(&json!({"password": "a long enough one"}))
            .status,
        404
    );
    // The use is two writes (the password, the session's token), each with its entry.
    let trail = exported_trail(&c, "invite.accept", 3);
    let entries: Vec<Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        !trail.contains(&secret),
        "the secret is in the trail: {trail}"
    );
    let of = |action: &str| -> Vec<&Value> {
        entries.iter().filter(|e| e["action"] == action).collect()
    };
    assert_eq!(of("invite.issue").len(), 1, "{trail}");
    let accepted = of("invite.accept");
    let (ok, refused): (Vec<&Value>, Vec<&Value>) =
        accepted.iter().partition(|e| e["outcome"] == "ok");
    assert!(!ok.is_empty(), "{trail}");
    for e in &ok {
        assert_eq!(e["actor"]["id"], c.patient2, "{e:#}");
    }
    assert_eq!(refused.len(), 1, "{trail}");
    assert_eq!(refused[0]["outcome"], "not_found");
    for e in accepted {
        assert_eq!(e["route"], "POST /parlor/v1/invites/{secret}");
    }
}

#[test]
fn guessing_links_is_throttled_by_client_address() {
    let c = clinic();
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(
            c.app
                .get(&format!("/parlor/v1/invites/{i:064}"))
                .send()
                .status,
        );
    }
    assert_eq!(statuses, vec![404, 404, 404, 404, 404, 429, 429]);
    // Throttle off (stand-in suites): every guess is answered.
    let app = spawn_with(|s| s.password_throttle = false);
    for i in 0..7 {
        assert_eq!(
            app.get(&format!("/parlor/v1/invites/{i:064}"))
                .send()
                .status,
            404
        );
    }
}

#[test]
fn links_start_at_public_url_when_it_is_set() {
    let c = clinic_with(spawn_with(|s| {
        s.public_url = Some("https://messages.clinic.example".into())
    }));
    let url = c.invite_url(c.patient2, json!({}));
    assert!(
        url.starts_with("https://messages.clinic.example/app/#/welcome/"),
        "{url}"
    );
}

#[test]
fn the_cli_prints_a_link_that_works() {
    let c = clinic();
    let run = |args: &[&str]| parlor_cli(&c, args);
    let t = c.t.to_string();
    let missing = run(&["invite", "--tenant", &t, "quinn"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--url"));
    let out = run(&[
        "invite",
        "--tenant",
        &t,
        "quinn",
        "--hours",
        "3",
        "--url",
        &c.app.base,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = stdout
        .split_whitespace()
        .find(|w| w.contains("/app/#/welcome/"))
        .unwrap_or_else(|| panic!("no link in {stdout}"));
    assert!(url.starts_with(&c.app.base), "{url}");
    let secret = secret_of(url);
    let shown = c.app.get(&format!("/parlor/v1/invites/{secret}")).send();
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body["purpose"], "invite");
    let used = c
        .app
        .post(&format!("/parlor/v1/invites/{secret}"))
        .json(&json!({"password": "set from the cli link"}));
    assert_eq!(used.status, 200, "{:?}", used.body);
    // --reset makes a reset link even for this user.
    let out = run(&[
        "invite",
        "--tenant",
        &t,
        &c.patient.to_string(),
        "--reset",
        "--url",
        &c.app.base,
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Password reset link"));
}

// --- Contacts and starting conversations -------------------------------------------------

#[test]
fn a_patients_contacts_are_the_clinic_people_they_share_a_conversation_with() {
    let c = clinic();
    let s = c.sign_in("pat", Some("app"));
    let r = s.on(c.app.get("/parlor/v1/contacts")).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(ids(&r.body), vec![c.provider]);
    assert_eq!(
        r.body["data"][0],
        json!({"id": c.provider, "display_name": "Dana Lee", "role": "provider"})
    );
    // Another patient in the same conversation is still not a contact.
    c.app
        .post(&format!("/parlor/v1/conversations/{}/participants", c.conv))
        .admin()
        .tenant(c.t)
        .json(&json!({"user": c.patient2}));
    c.app
        .post(&format!("/parlor/v1/conversations/{}/participants", c.conv))
        .admin()
        .tenant(c.t)
        .json(&json!({"user": c.staff}));
    let r = s.on(c.app.get("/parlor/v1/contacts")).send();
    assert_eq!(ids(&r.body), vec![c.staff, c.provider]);
    let r = s.on(c.app.get("/parlor/v1/contacts?q=nora")).send();
    assert_eq!(ids(&r.body), vec![c.staff]);
}

#[test]
fn a_providers_contacts_are_the_clinics_patients_and_colleagues_searchable_and_paged() {
    let c = clinic();
    let s = c.sign_in("drlee", Some("app"));
    let r = s.on(c.app.get("/parlor/v1/contacts")).send();
    assert_eq!(r.status, 200);
    // The tenant's owner (an admin made with the tenant) is a colleague too; its assistant,
    // a machine user, is nobody's contact.
    let owner = c
        .app
        .get(&format!("/parlor/v1/tenants/{}", c.t))
        .admin()
        .send()
        .body["owner_id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        ids(&r.body),
        vec![c.patient2, c.patient, c.staff, c.provider2, c.admin, owner]
    );
    let r = s.on(c.app.get("/parlor/v1/contacts?q=QUINN")).send();
    assert_eq!(ids(&r.body), vec![c.patient2]);
    let r = s.on(c.app.get("/parlor/v1/contacts?q=%25")).send();
    assert_eq!(
        ids(&r.body),
        Vec::<i64>::new(),
        "a % is a character, not a wildcard"
    );
    let page = s.on(c.app.get("/parlor/v1/contacts?limit=2")).send();
    assert_eq!(ids(&page.body), vec![c.patient2, c.patient]);
    let next = page.body["next_cursor"].as_str().unwrap();
    let page2 = s
        .on(c
            .app
            .get(&format!("/parlor/v1/contacts?limit=2&before={next}")))
        .send();
    assert_eq!(ids(&page2.body), vec![c.staff, c.provider2]);
    for bad in ["limit=0", "before=x", "sort=name"] {
        let r = s
            .on(c.app.get(&format!("/parlor/v1/contacts?{bad}")))
            .send();
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    // The server admin is nobody's contact and has none.
    let r = c.app.get("/parlor/v1/contacts").admin().send();
    assert_eq!(r.status, 403);
}

#[test]
fn a_patient_cannot_start_a_conversation_with_another_patient() {
    let c = clinic();
    let s = c.sign_in("pat", Some("app"));
    let start = |participants: Value| {
        s.changing(c.app.post("/parlor/v1/conversations"))
            .json(&json!({"participants": participants}))
    };
    let r = start(json!([c.patient2]));
    assert_eq!(
        (r.status, r.body["error"]["field"].clone()),
        (400, json!("participants[0]")),
        "{:?}",
        r.body
    );
    let r = start(json!([c.provider, c.patient2]));
    assert_eq!(r.body["error"]["field"], "participants[1]", "{:?}", r.body);
    // Nor with a provider they never met, nor an id that does not exist (same answer).
    let stranger = start(json!([c.provider2]));
    let nobody = start(json!([999_999]));
    assert_eq!((stranger.status, nobody.status), (400, 400));
    assert_eq!(stranger.body, nobody.body);
    // Their own provider: yes, and they are a participant themselves.
    let r = start(json!([c.provider]));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let members: Vec<i64> = r.body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["id"].as_i64().or(p["user_id"].as_i64()).unwrap())
        .collect();
    assert!(
        members.contains(&c.patient) && members.contains(&c.provider),
        "{:?}",
        r.body
    );
}

#[test]
fn a_provider_starts_conversations_with_patients_and_colleagues_and_admins_with_anyone() {
    let c = clinic();
    let s = c.sign_in("drlee", Some("app"));
    let r = s
        .changing(c.app.post("/parlor/v1/conversations"))
        .json(&json!({"participants": [c.patient2, c.staff]}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let bot = c
        .app
        .create_user(c.t, json!({"role": "system", "display_name": "Bot"}));
    let r = s
        .changing(c.app.post("/parlor/v1/conversations"))
        .json(&json!({"participants": [bot["id"]]}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    // An admin is a tool, not a participant with contacts.
    let admin = c.sign_in("office", None);
    let r = admin
        .changing(c.app.post("/parlor/v1/conversations"))
        .json(&json!({"participants": [c.patient, c.patient2]}));
    assert_eq!(r.status, 201, "{:?}", r.body);
}

// --- Searching my conversations -----------------------------------------------------------

#[test]
fn a_user_searches_their_own_conversations_by_the_other_persons_name() {
    let c = clinic();
    // Dana Lee also talks with Quinn; Pat is not part of that conversation.
    let with_quinn = c.app.create_conversation(c.t, &[c.provider, c.patient2])["id"]
        .as_i64()
        .unwrap();
    let ids = |s: &Session, q: &str| -> Vec<i64> {
        let r = s
            .on(c.app.get(&format!("/parlor/v1/conversations?q={q}")))
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_i64().unwrap())
            .collect()
    };
    let dana = c.sign_in("drlee", Some("app"));
    assert_eq!(ids(&dana, "quinn"), vec![with_quinn]);
    assert_eq!(ids(&dana, "PAT"), vec![c.conv]);
    // The searcher's own name matches nothing: it is in every conversation of theirs.
    assert!(ids(&dana, "dana").is_empty());
    // A patient never finds a conversation they are not in, by any name.
    let pat = c.sign_in("pat", Some("app"));
    assert!(ids(&pat, "quinn").is_empty());
    assert_eq!(ids(&pat, "lee"), vec![c.conv]);
    // Paged like the list, with its cursor.
    let more = c.app.create_conversation(c.t, &[c.provider, c.patient])["id"]
        .as_i64()
        .unwrap();
    let r = dana
        .on(c.app.get("/parlor/v1/conversations?q=pat&limit=1"))
        .send();
    assert_eq!(r.body["data"][0]["id"], more);
    let next = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = dana
        .on(c.app.get(&format!(
            "/parlor/v1/conversations?q=pat&limit=1&before={next}"
        )))
        .send();
    assert_eq!(r.body["data"][0]["id"], c.conv);
    assert_eq!(r.body["next_cursor"], json!(null));
    let r = dana
        .on(c
            .app
            .get(&format!("/parlor/v1/conversations?q={}", "x".repeat(101))))
        .send();
    assert_eq!(
        (r.status, r.body["error"]["field"].clone()),
        (400, json!("q"))
    );
}

// --- How my name is shown ----------------------------------------------------------------

#[test]
fn a_user_chooses_how_their_name_is_shown() {
    let c = clinic();
    let s = c.sign_in("drlee", Some("app"));
    let r = s
        .changing(c.app.patch("/parlor/v1/me"))
        .json(&json!({"display_name": "  Dr. Dana Lee  "}));
    assert_eq!(
        (r.status, r.body["display_name"].clone()),
        (200, json!("Dr. Dana Lee")),
        "{:?}",
        r.body
    );
    assert_eq!(
        s.on(c.app.get("/parlor/v1/me")).send().body["display_name"],
        "Dr. Dana Lee"
    );
    // Others see it.
    let p = c.sign_in("pat", Some("app"));
    let r = p.on(c.app.get("/parlor/v1/contacts")).send();
    assert_eq!(r.body["data"][0]["display_name"], "Dr. Dana Lee");
    for bad in [
        json!({"display_name": "   "}),
        json!({"display_name": "x".repeat(81)}),
        json!({}),
        json!({"display_name": "a\u{7}b"}),
    ] {
        let r = s.changing(c.app.patch("/parlor/v1/me")).json(&bad);
        assert_eq!(
            (r.status, r.body["error"]["field"].clone()),
            (400, json!("display_name")),
            "{bad}: {:?}",
            r.body
        );
    }
    // Only the name: nothing else about the user changes this way.
    let r = s
        .changing(c.app.patch("/parlor/v1/me"))
        .json(&json!({"role": "admin"}));
    assert_eq!(r.status, 400);
    let r = c
        .app
        .patch("/parlor/v1/me")
        .admin()
        .json(&json!({"display_name": "Root"}));
    assert_eq!(r.status, 403);
}

#[test]
fn a_user_chooses_their_language() {
    let c = clinic();
    let s = c.sign_in("pat", Some("app"));
    assert_eq!(
        s.on(c.app.get("/parlor/v1/me")).send().body["language"],
        json!(null)
    );
    let r = s
        .changing(c.app.patch("/parlor/v1/me"))
        .json(&json!({"language": "es"}));
    assert_eq!(
        (r.status, r.body["language"].clone()),
        (200, json!("es")),
        "{:?}",
        r.body
    );
    // The name is left alone, and the session's user says it on the next sign-in.
    assert_eq!(r.body["display_name"], "Pat Patient");
    let again = c.sign_in("pat", Some("app"));
    assert_eq!(again.answer.body["user"]["language"], "es");
    for bad in [
        json!({"language": "fr"}),
        json!({"language": "ES"}),
        json!({"language": 7}),
    ] {
        let r = s.changing(c.app.patch("/parlor/v1/me")).json(&bad);
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    let r = s
        .changing(c.app.patch("/parlor/v1/me"))
        .json(&json!({"language": "fr"}));
    assert_eq!(r.body["error"]["field"], "language", "{:?}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("en, es"));
    // null forgets the choice; an admin sets it for someone else.
    let r = s
        .changing(c.app.patch("/parlor/v1/me"))
        .json(&json!({"language": null}));
    assert_eq!((r.status, r.body["language"].clone()), (200, json!(null)));
    let r = c
        .app
        .patch(&format!("/parlor/v1/users/{}", c.patient))
        .admin()
        .tenant(c.t)
        .json(&json!({"language": "es"}));
    assert_eq!(
        (r.status, r.body["language"].clone()),
        (200, json!("es")),
        "{:?}",
        r.body
    );
}

// --- The admin page ----------------------------------------------------------------------

#[test]
fn the_admin_page_sends_staff_to_the_app_and_makes_a_reset_link() {
    let browser = match crate::webdriver::Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!("accounts browser test not run: {why}; install chromium and chromium-driver");
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = crate::helpers::spawn_demo();
    const FRONT_DESK: i64 = 3;
    browser.goto(&app.url("/admin"));
    browser.sign_in("frontdesk", "demo-password");
    let told = browser.wait_for("the pointer to the app", |b| {
        b.text("#signin-message")
            .filter(|t| t.contains("clinic's app"))
    });
    assert!(told.contains("Dana Brooks (staff)"), "{told}");
    browser.element("#signin-app-link");

    browser.sign_in("admin", "admin-demo-password");
    browser.click("#nav a[href=\"#users\"]");
    browser.click(&format!("#users tr[data-user=\"{FRONT_DESK}\"] button"));
    let state = browser.wait_for("whether a link is outstanding", |b| {
        b.text("#invite-state").filter(|t| !t.is_empty())
    });
    assert!(state.contains("No link"), "{state}");
    let button = browser.text("#invite-create").unwrap();
    assert_eq!(button, "Reset link", "frontdesk has a password");
    browser.click("#invite-create");
    let url = browser.wait_for("the link", |b| b.text("#invite-url"));
    assert!(
        url.starts_with(&format!("{}/app/#/welcome/", app.base)),
        "{url}"
    );
    browser.element("#invite-copy");
    browser.wait_for("the link now outstanding", |b| {
        b.text("#invite-state")
            .filter(|t| t.contains("outstanding until"))
    });
    let shown = app
        .get(&format!("/parlor/v1/invites/{}", secret_of(&url)))
        .send();
    assert_eq!(
        (shown.status, shown.body["purpose"].clone()),
        (200, json!("reset"))
    );
    assert_eq!(browser.text("#status .error"), None, "no section failed");
}

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1")
}
