//! The admin page's server side: sign-in to a session cookie, its CSRF and expiry rules,
//! sign-out, the embedded files, the stand-in table, ETags on polled lists, inbox search.

use serde_json::{json, Value};

use crate::helpers::{spawn_demo, spawn_with, Req, Resp, TestApp, ADMIN_TOKEN};

const MINUTE: i64 = 60_000;

/// A signed-in session as the browser holds it.
struct Session {
    cookie: String,
    csrf: String,
    answer: Resp,
}

fn sign_in(app: &TestApp, body: Value) -> Session {
    let answer = app.post("/parlor/v1/session").json(&body);
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let set_cookie = answer.header("set-cookie").expect("a cookie").to_string();
    let cookie = set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("parlor_session="))
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

fn clinic_admin(app: &TestApp) -> Session {
    sign_in(
        app,
        json!({"username": "admin", "password": "admin-demo-password"}),
    )
}

impl Session {
    fn on(&self, req: Req) -> Req {
        req.header("Cookie", &format!("parlor_session={}", self.cookie))
    }

    fn changing(&self, req: Req) -> Req {
        self.on(req).header("X-Parlor-CSRF", &self.csrf)
    }
}

fn sign_in_refused(app: &TestApp, body: Value) -> Resp {
    app.post("/parlor/v1/session").json(&body)
}

#[test]
fn the_server_admin_token_opens_a_session_with_a_strict_httponly_expiring_cookie() {
    let app = spawn_with(|_| {});
    let s = sign_in(&app, json!({ "token": ADMIN_TOKEN }));
    let set_cookie = s.answer.header("set-cookie").unwrap();
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=43200",
        "Path=/parlor/v1",
    ] {
        assert!(set_cookie.contains(part), "{set_cookie} lacks {part}");
    }
    assert_eq!(s.answer.body["server_admin"], true);
    assert_eq!(s.answer.body["user"], Value::Null);
    assert_eq!(s.answer.body["idle_timeout_seconds"], 900);
    assert_eq!(s.cookie.len(), 64, "256 random bits");

    let tenant = s
        .changing(app.post("/parlor/v1/tenants"))
        .json(&json!({"name": "Hillside"}));
    assert_eq!(tenant.status, 201, "{:?}", tenant.body);
    let tenants = s.on(app.get("/parlor/v1/tenants")).send();
    assert_eq!(tenants.body["data"][0]["name"], "Hillside");
    let again = s.on(app.get("/parlor/v1/session")).send();
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body["csrf_token"],
        s.csrf.as_str(),
        "a reload gets it back"
    );
}

#[test]
fn a_tenant_admin_signs_in_with_a_password_and_sees_only_their_tenant() {
    let app = spawn_demo();
    let s = clinic_admin(&app);
    assert_eq!(s.answer.body["server_admin"], false);
    assert_eq!(s.answer.body["user"]["username"], "admin");
    assert_eq!(s.answer.body["user"]["tenant_id"], 1);

    let list = s.on(app.get("/parlor/v1/conversations")).send();
    assert_eq!(list.status, 200);
    assert!(!list.body["data"].as_array().unwrap().is_empty());
    let other = s
        .on(app.get("/parlor/v1/conversations"))
        .header("X-Parlor-Tenant", "2")
        .send();
    assert_eq!(other.status, 404, "{:?}", other.body);
    let tenants = s.on(app.get("/parlor/v1/tenants")).send();
    assert_eq!(tenants.body["data"].as_array().unwrap().len(), 1);
    let create = s
        .changing(app.post("/parlor/v1/tenants"))
        .json(&json!({"name": "Mine now"}));
    assert_eq!(create.status, 403);

    // Naming the tenant works too, and a username is only looked for in the tenant named.
    sign_in(
        &app,
        json!({"tenant": 1, "username": "admin", "password": "admin-demo-password"}),
    );
    let elsewhere = sign_in_refused(
        &app,
        json!({"tenant": 2, "username": "admin", "password": "admin-demo-password"}),
    );
    assert_eq!(elsewhere.status, 401);
}

#[test]
fn wrong_passwords_user_tokens_and_muddled_bodies_are_refused() {
    let app = spawn_demo();
    let cases = [
        (
            json!({"username": "admin", "password": "not-it"}),
            401,
            "wrong password",
        ),
        (
            json!({"username": "frontdesk", "password": "wrong-password"}),
            401,
            "staff with a wrong password (staff sign in since issue 18: tests/api/accounts.rs)",
        ),
        (
            json!({"token": "demo-clinic-admin-token"}),
            401,
            "a user's token",
        ),
        (json!({"token": "nonsense"}), 401, "an unknown token"),
        (json!({}), 400, "nothing"),
        (
            json!({"token": ADMIN_TOKEN, "username": "admin"}),
            400,
            "both ways",
        ),
        (json!({"username": "admin"}), 400, "no password"),
    ];
    for (body, status, what) in cases {
        let r = sign_in_refused(&app, body);
        assert_eq!(r.status, status, "{what}: {:?}", r.body);
        assert!(r.header("set-cookie").is_none(), "{what}: no cookie");
    }
    let form = app.post("/parlor/v1/session").raw(
        "text/plain",
        "{\"username\": \"admin\", \"password\": \"admin-demo-password\"}",
    );
    assert_eq!(form.status, 400, "only JSON signs in: {:?}", form.body);
    assert!(form.header("set-cookie").is_none());
    let forged = app
        .get("/parlor/v1/me")
        .header("Cookie", "parlor_session=forged")
        .send();
    assert_eq!(forged.status, 401);
}

#[test]
fn every_change_made_with_the_cookie_needs_the_sessions_csrf_token() {
    let app = spawn_demo();
    let s = clinic_admin(&app);
    let before = app.unread(1, 2, 52);
    let send = || json!({"as": 4, "body": "Forged?"});

    let none = s
        .on(app.post("/parlor/v1/conversations/2/messages"))
        .json(&send());
    assert_eq!(none.status, 403, "{:?}", none.body);
    assert_eq!(none.code(), "forbidden");
    let wrong = s
        .on(app.post("/parlor/v1/conversations/2/messages"))
        .header("X-Parlor-CSRF", "0000")
        .json(&send());
    assert_eq!(wrong.status, 403);
    for req in [
        s.on(app.patch("/parlor/v1/conversations/2")),
        s.on(app.delete("/parlor/v1/conversations/2")),
    ] {
        assert_eq!(req.json(&json!({"locked": true})).status, 403);
    }
    assert_eq!(app.unread(1, 2, 52), before, "nothing was sent");
    let still_there = app
        .get("/parlor/v1/conversations/2")
        .admin()
        .tenant(1)
        .send();
    assert_eq!(still_there.body["locked"], false);

    let ok = s
        .changing(app.post("/parlor/v1/conversations/2/messages"))
        .json(&send());
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    assert_eq!(app.unread(1, 2, 52), before + 1);
    // Another session's token does not do.
    let other = clinic_admin(&app);
    let crossed = s
        .on(app.post("/parlor/v1/conversations/2/read"))
        .header("X-Parlor-CSRF", &other.csrf)
        .json(&json!({"as": 52}));
    assert_eq!(crossed.status, 403);
    // A bearer token needs none, and wins over a cookie sent beside it.
    let bearer = app
        .post("/parlor/v1/conversations/2/read")
        .admin()
        .tenant(1)
        .header("Cookie", "parlor_session=stale")
        .json(&json!({"as": 52}));
    assert_eq!(bearer.status, 200, "{:?}", bearer.body);
}

#[test]
fn an_idle_session_signs_out_and_background_refreshes_do_not_keep_it_alive() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.admin_idle_timeout_minutes = 15;
    });
    let start = app.service.now();
    app.service.clock.freeze(start);
    let s = clinic_admin(&app);
    assert_eq!(s.answer.body["idle_timeout_seconds"], 900);

    app.service.clock.freeze(start + 10 * MINUTE);
    let poll = s
        .on(app.get("/parlor/v1/conversations"))
        .header("X-Parlor-Background", "1")
        .send();
    assert_eq!(poll.status, 200);
    app.service.clock.freeze(start + 15 * MINUTE);
    let late = s.on(app.get("/parlor/v1/conversations")).send();
    assert_eq!(late.status, 401, "idle since sign-in: {:?}", late.body);
    assert!(late.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    // The token the sign-in issued died with the session.
    let admin_id = s.answer.body["user"]["id"].as_i64().unwrap();
    let tokens = app
        .get(&format!("/parlor/v1/users/{admin_id}/tokens"))
        .admin()
        .tenant(1)
        .send();
    let page_tokens: Vec<&Value> = tokens.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["label"] == "admin page")
        .collect();
    assert_eq!(page_tokens.len(), 1, "{:?}", tokens.body);
    assert!(page_tokens[0]["revoked_at"].is_string());

    // Real activity keeps a session: 14 minutes apart, three times over.
    let s = clinic_admin(&app);
    for step in 1..=3 {
        app.service
            .clock
            .freeze(start + 15 * MINUTE + step * 14 * MINUTE);
        let r = s.on(app.get("/parlor/v1/me")).send();
        assert_eq!(r.status, 200, "step {step}");
    }
}

#[test]
fn a_session_ends_after_its_lifetime_however_active() {
    let app = spawn_with(|s| s.admin_session_hours = 1);
    let start = app.service.now();
    app.service.clock.freeze(start);
    let s = sign_in(&app, json!({ "token": ADMIN_TOKEN }));
    assert!(s
        .answer
        .header("set-cookie")
        .unwrap()
        .contains("Max-Age=3600"));
    for minutes in [10, 20, 30, 40, 50, 59] {
        app.service.clock.freeze(start + minutes * MINUTE);
        assert_eq!(s.on(app.get("/parlor/v1/tenants")).send().status, 200);
    }
    app.service.clock.freeze(start + 60 * MINUTE);
    assert_eq!(s.on(app.get("/parlor/v1/tenants")).send().status, 401);
}

#[test]
fn signing_out_ends_the_session_and_revokes_its_token() {
    let app = spawn_demo();
    let s = clinic_admin(&app);
    let without = s.on(app.delete("/parlor/v1/session")).send();
    assert_eq!(without.status, 403, "sign-out is a change too");
    let out = s.changing(app.delete("/parlor/v1/session")).send();
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(s.on(app.get("/parlor/v1/me")).send().status, 401);
    assert_eq!(s.on(app.get("/parlor/v1/session")).send().status, 401);
    let again = s.changing(app.delete("/parlor/v1/session")).send();
    assert_eq!(again.status, 401);
    let admin_id = s.answer.body["user"]["id"].as_i64().unwrap();
    let tokens = app
        .get(&format!("/parlor/v1/users/{admin_id}/tokens"))
        .admin()
        .tenant(1)
        .send();
    assert!(tokens.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["label"] == "admin page")
        .all(|t| t["revoked_at"].is_string()));
    // Revoking the session's token elsewhere ends a session too.
    let s = clinic_admin(&app);
    let tokens = app
        .get(&format!("/parlor/v1/users/{admin_id}/tokens"))
        .admin()
        .tenant(1)
        .send();
    for t in tokens.body["data"].as_array().unwrap() {
        if t["revoked_at"].is_null() && t["label"] == "admin page" {
            let id = t["id"].as_i64().unwrap();
            app.delete(&format!("/parlor/v1/tokens/{id}"))
                .admin()
                .tenant(1)
                .send();
        }
    }
    assert_eq!(s.on(app.get("/parlor/v1/me")).send().status, 401);
}

#[test]
fn the_page_is_embedded_and_loads_nothing_from_another_host() {
    let app = spawn_with(|_| {});
    for path in ["/admin", "/admin/"] {
        let page = ureq::get(&app.url(path)).call().unwrap();
        assert_eq!(page.content_type(), "text/html");
        let csp = page.header("content-security-policy").unwrap().to_string();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(page.into_string().unwrap().contains("/admin/app.js"));
    }
    for (file, kind) in [
        ("index.html", "text/html"),
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
    ] {
        let r = ureq::get(&app.url(&format!("/admin/{file}")))
            .call()
            .unwrap();
        assert!(
            r.content_type().starts_with(kind),
            "{file}: {}",
            r.content_type()
        );
        let etag = r.header("etag").unwrap().to_string();
        let text = r.into_string().unwrap();
        for host in ["http://", "https://", "//cdn", "@import"] {
            assert!(!text.contains(host), "{file} refers to {host}");
        }
        let again = app
            .get(&format!("/admin/{file}"))
            .header("If-None-Match", &etag)
            .send();
        assert_eq!(again.status, 304);
    }
    let missing = app.get("/admin/nope.js").send();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "not_found");
}

#[test]
fn polled_lists_answer_304_until_something_changes() {
    let app = spawn_demo();
    for path in [
        "/parlor/v1/conversations",
        "/parlor/v1/conversations/2/messages",
    ] {
        let first = app.get(path).admin().tenant(1).send();
        assert_eq!(first.status, 200);
        let etag = first.header("etag").expect("an ETag").to_string();
        let same = app
            .get(path)
            .admin()
            .tenant(1)
            .header("If-None-Match", &etag)
            .send();
        assert_eq!(same.status, 304, "{path}");
        assert_eq!(same.body, Value::Null);
        app.send_as(1, 2, 4, "Something new");
        let changed = app
            .get(path)
            .admin()
            .tenant(1)
            .header("If-None-Match", &etag)
            .send();
        assert_eq!(changed.status, 200, "{path}");
        assert_ne!(changed.header("etag").unwrap(), etag);
    }
}

#[test]
fn the_inbox_searches_by_participant_name_and_pages() {
    let app = spawn_demo();
    let list = |query: &str| {
        app.get(&format!("/parlor/v1/conversations?{query}"))
            .admin()
            .tenant(1)
            .send()
    };
    let stork = list("q=stork");
    assert_eq!(stork.status, 200);
    let found = stork.body["data"].as_array().unwrap();
    assert!(found.len() >= 2, "{:?}", stork.body);
    for c in found {
        assert!(
            c["participants"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["user"]["display_name"]
                    .as_str()
                    .unwrap()
                    .contains("Stork")),
            "{c}"
        );
    }
    let first = list("q=Stork&limit=1");
    assert_eq!(first.body["data"].as_array().unwrap().len(), 1);
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("more")
        .to_string();
    let second = list(&format!("q=Stork&limit=1&before={cursor}"));
    assert_ne!(second.body["data"][0]["id"], first.body["data"][0]["id"]);
    assert_eq!(second.body["data"][0]["id"], found[1]["id"]);

    assert!(list("q=nobody-like-this").body["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(list("q=%25").body["data"].as_array().unwrap().is_empty());
    // With `as`, the search is that user's own conversations.
    let as_patient = list("q=stork&as=52");
    assert_eq!(as_patient.status, 200, "{:?}", as_patient.body);
    for c in as_patient.body["data"].as_array().unwrap() {
        let ids: Vec<i64> = c["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["user"]["id"].as_i64().unwrap())
            .collect();
        assert!(ids.contains(&52), "{c}");
    }
    let users = app.get("/parlor/v1/users?q=x").admin().tenant(1).send();
    assert_eq!(users.status, 400);
}

#[test]
fn the_stand_in_table_lists_every_face_with_a_working_list_call() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("tati").unwrap().enabled = false;
    });
    let faces = |tenant: i64| {
        let r = app.get("/parlor/v1/faces").admin().tenant(tenant).send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["data"].as_array().unwrap().clone()
    };
    let names: Vec<String> = faces(1)
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    for face in parlor::faces::FACES {
        assert!(
            names.contains(&face.name.to_string()),
            "{} missing",
            face.name
        );
    }
    let tati = faces(4).into_iter().find(|f| f["name"] == "tati").unwrap();
    assert_eq!(tati["enabled"], false);

    // The curl, with its variable filled in, is a call that works against the demo.
    let cases = [
        (5, "pigeons", "TOKEN", "1|demoPigeonsJohnDoeToken"),
        (2, "trillet", "API_SECRET", "demo-trillet-secret"),
    ];
    for (tenant, name, variable, value) in cases {
        let face = faces(tenant)
            .into_iter()
            .find(|f| f["name"] == name)
            .unwrap();
        assert_eq!(face["enabled"], true);
        assert!(face["base_url"].as_str().unwrap().starts_with(&app.base));
        assert!(face["variables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == variable));
        let curl = face["curl"].as_str().unwrap();
        let url = curl.split('"').nth(1).unwrap();
        let mut req = app.request("GET", url.strip_prefix(&app.base).unwrap());
        for h in face["headers"].as_array().unwrap() {
            let value = h["value"]
                .as_str()
                .unwrap()
                .replace(&format!("${variable}"), value);
            assert!(!value.contains('$'), "{name}: {value} left unfilled");
            assert!(curl.contains(h["name"].as_str().unwrap()));
            req = req.header(h["name"].as_str().unwrap(), &value);
        }
        let answer = req.send();
        assert_eq!(answer.status, 200, "{name}: {curl} → {:?}", answer.body);
    }
    let pigeons = faces(5)
        .into_iter()
        .find(|f| f["name"] == "pigeons")
        .unwrap();
    assert!(pigeons["curl"]
        .as_str()
        .unwrap()
        .contains("X-PUBLIC-KEY: pk_demo_pigeons"));

    let frontdesk = app.post("/parlor/v1/auth/login").json(&json!({
        "tenant": 1, "username": "frontdesk", "password": "demo-password"
    }));
    let token = frontdesk.body["token"].as_str().unwrap();
    let refused = app.get("/parlor/v1/faces").bearer(token).send();
    assert_eq!(refused.status, 403);
}

#[test]
fn repeated_wrong_passwords_lock_that_name_out_for_a_while() {
    let app = spawn_demo();
    let start = 1_800_000_000_000;
    app.service.clock.freeze(start);
    let wrong = json!({"username": "admin", "password": "guess"});
    for attempt in 1..=5 {
        let r = sign_in_refused(&app, wrong.clone());
        assert_eq!(r.status, 401, "attempt {attempt}: {:?}", r.body);
    }
    // Locked: even the right password waits, and says how long.
    let right = json!({"username": "admin", "password": "admin-demo-password"});
    let r = sign_in_refused(&app, right.clone());
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "too_many_attempts");
    assert_eq!(r.header("Retry-After"), Some("30"));
    // Other names are not held up, nor is the server-admin token.
    sign_in(
        &app,
        json!({"username": "frontdesk", "password": "demo-password"}),
    );
    sign_in(&app, json!({"token": ADMIN_TOKEN}));
    // Once the lockout has passed, the right password works and the count starts over.
    app.service.clock.freeze(start + 31_000);
    sign_in(&app, right);
    let r = sign_in_refused(&app, wrong);
    assert_eq!(r.status, 401, "{:?}", r.body);
}
