//! Every operation of `/__parlor/openapi.json`, called on a live stand-in, answers what the
//! document says; an operation of the control plane's table not called here fails the test.

use serde_json::json;

use super::Contract;
use crate::helpers::{spawn_app, spawn_demo};

#[test]
fn every_control_operation_answers_as_its_document_says() {
    let app = spawn_demo();
    let doc = app.get("/__parlor/openapi.json").admin().send();
    assert_eq!(doc.status, 200, "{}", doc.text);
    let contract = Contract::new(doc.body.clone());
    contract.check("GET", "/__parlor/openapi.json", &doc);

    let r = app.get("/__parlor/openapi.json").send();
    assert_eq!(r.status, 401);
    contract.check("GET", "/__parlor/openapi.json", &r);

    let r = app.get("/__parlor").admin().send();
    assert_eq!(r.status, 200, "{}", r.text);
    contract.check("GET", "/__parlor", &r);

    // The clock and the ids.
    let calls: [(&str, &str, Option<serde_json::Value>); 8] = [
        ("GET", "/__parlor/clock", None),
        (
            "PUT",
            "/__parlor/clock",
            Some(json!({"frozen_at": "2031-03-04T05:06:07Z"})),
        ),
        (
            "POST",
            "/__parlor/clock/advance",
            Some(json!({"by": "90s"})),
        ),
        ("DELETE", "/__parlor/clock", None),
        ("GET", "/__parlor/ids", None),
        ("PUT", "/__parlor/ids", Some(json!({"seed": 42}))),
        ("PUT", "/__parlor/ids", Some(json!({"seed": -1}))),
        ("DELETE", "/__parlor/ids", None),
    ];
    let state: [(&str, &str, Option<serde_json::Value>); 11] = [
        ("POST", "/__parlor/snapshots", Some(json!({"name": "one"}))),
        ("POST", "/__parlor/snapshots", Some(json!({"name": "one"}))),
        ("GET", "/__parlor/snapshots", None),
        ("POST", "/__parlor/snapshots/one/restore", None),
        (
            "POST",
            "/__parlor/sandboxes",
            Some(json!({"name": "box", "from": "one"})),
        ),
        ("GET", "/__parlor/sandboxes", None),
        ("DELETE", "/__parlor/sandboxes/box", None),
        ("DELETE", "/__parlor/sandboxes/box", None),
        ("DELETE", "/__parlor/snapshots/one", None),
        ("POST", "/__parlor/snapshots/one/restore", None),
        ("POST", "/__parlor/reset", None),
    ];
    let faults: [(&str, &str, Option<serde_json::Value>); 7] = [
        (
            "POST",
            "/__parlor/faults",
            Some(
                json!({"face": "pigeons", "route": "/api/**", "method": "GET", "tenant": 5,
                        "sandbox": "s", "times": 2, "probability": 0.5, "seed": 3,
                        "status": 429, "retry_after": 30,
                        "delay": {"lognormal": {"median_ms": 10, "sigma": 0.5}}}),
            ),
        ),
        (
            "POST",
            "/__parlor/faults",
            Some(json!({"connection": "drop", "delay": {"uniform_ms": [1, 2]}})),
        ),
        ("POST", "/__parlor/faults", Some(json!({"status": 200}))),
        ("GET", "/__parlor/faults", None),
        ("DELETE", "/__parlor/faults/1", None),
        ("DELETE", "/__parlor/faults/1", None),
        ("DELETE", "/__parlor/faults", None),
    ];
    for (method, path, body) in calls.into_iter().chain(state).chain(faults) {
        let req = app.request(method, path).admin();
        let r = match &body {
            Some(b) => req.json(b),
            None => req.send(),
        };
        contract.check(method, path, &r);
    }

    // The journal: something recorded (a face's request, a near miss), then every route.
    app.get("/v1/messaging/conversations")
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .send();
    app.get("/v1/messaging/conversatons").send();
    let list = app.get("/__parlor/journal?limit=1").admin().send();
    contract.check("GET", "/__parlor/journal", &list);
    let id = list.body["data"][0]["id"].as_i64().expect("an entry");
    let journal: [(&str, String, Option<serde_json::Value>); 8] = [
        (
            "GET",
            "/__parlor/journal?face=respondent&status=4xx".into(),
            None,
        ),
        ("GET", "/__parlor/journal?status=teapot".into(), None),
        ("GET", format!("/__parlor/journal/{id}"), None),
        ("GET", "/__parlor/journal/999999".into(), None),
        (
            "GET",
            "/__parlor/journal/count?face=respondent".into(),
            None,
        ),
        (
            "POST",
            "/__parlor/journal/verify".into(),
            Some(json!({"face": "respondent", "status": 200})),
        ),
        ("GET", "/__parlor/journal.har?face=respondent".into(), None),
        ("DELETE", "/__parlor/journal".into(), None),
    ];
    for (method, path, body) in journal {
        let req = app.request(method, &path).admin();
        let r = match &body {
            Some(b) => req.json(b),
            None => req.send(),
        };
        contract.check(method, path.split('?').next().unwrap(), &r);
    }

    contract.assert_all_exercised();
}

#[test]
fn the_documents_are_where_their_surfaces_are() {
    // The native API's is anyone's, like a vendor's published reference; the control plane's
    // is the server admin's, and a clinic's server has none.
    let clinic = spawn_app();
    assert_eq!(clinic.get("/parlor/v1/openapi.json").send().status, 200);
    let r = clinic.get("/__parlor/openapi.json").admin().send();
    assert_eq!(r.status, 404, "{}", r.text);
}
