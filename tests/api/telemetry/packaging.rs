//! How Parlor is shipped: `parlor --version` names the commit, `deploy/parlor.service` passes
//! `systemd-analyze verify` (required in CI, `REQUIRE_SYSTEMD_ANALYZE=1`), and
//! `deploy/Containerfile` has what the README promises. No container runtime runs here, so the
//! Containerfile is checked by reading it, and its HEALTHCHECK command is run as written
//! against a server.

use std::process::Command;

use super::root;
use crate::helpers::spawn_app;

fn parlor(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args(args)
        .env_remove("PARLOR_BIND")
        .envs(env.iter().copied())
        .output()
        .expect("run parlor");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let (code, out) = parlor(&["--version"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let expected = match head {
        Some(commit) => commit,
        None => {
            eprintln!("no git checkout here: the commit is checked against the build's");
            parlor::telemetry::COMMIT.to_string()
        }
    };
    assert_eq!(
        out.trim(),
        format!("parlor {} (commit {expected})", env!("CARGO_PKG_VERSION"))
    );
}

/// The unit's lines that are settings (`Key=value`), comments and sections left out.
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn the_systemd_unit_is_sandboxed_and_verifies() {
    let unit = std::fs::read_to_string(root().join("deploy/parlor.service")).unwrap();
    let set = settings(&unit);
    let has = |key: &str, value: &str| set.iter().any(|(k, v)| k == key && v == value);
    for (key, value) in [
        ("User", "parlor"),
        ("ProtectSystem", "strict"),
        ("StateDirectory", "parlor"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        ("CapabilityBoundingSet", ""),
        ("KillSignal", "SIGTERM"),
        (
            "ExecStart",
            "/usr/local/bin/parlor --config /etc/parlor/parlor.toml serve",
        ),
    ] {
        assert!(has(key, value), "{key}={value} is not in the unit");
    }

    let required = std::env::var_os("REQUIRE_SYSTEMD_ANALYZE").is_some();
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(!required, "systemd-analyze is required but missing");
        eprintln!("the unit is not verified: no systemd-analyze (apt-get install systemd)");
        return;
    }
    // `verify` wants ExecStart's program to exist: the unit as it would be with this build's
    // binary installed where the unit runs it from.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("parlor.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/parlor", env!("CARGO_BIN_EXE_parlor")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.trim().is_empty(),
        "systemd-analyze has remarks:\n{said}"
    );
}

/// The Containerfile's instructions, continuation lines joined: (INSTRUCTION, arguments).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (word, rest) = l.trim().split_once(' ').unwrap_or((l, ""));
            (word.to_ascii_uppercase(), rest.trim().to_string())
        })
        .collect()
}

#[test]
fn the_containerfile_builds_in_one_stage_and_runs_unprivileged_from_a_slim_one() {
    let text = std::fs::read_to_string(root().join("deploy/Containerfile")).unwrap();
    let all = instructions(&text);
    let froms: Vec<&String> = all
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].contains("rust:") && froms[0].ends_with(" AS build"),
        "{}",
        froms[0]
    );
    assert!(
        froms[1].contains("bookworm-slim") || froms[1].contains("distroless"),
        "{}",
        froms[1]
    );
    // The runtime stage: everything after the second FROM.
    let stages: Vec<usize> = (0..all.len()).filter(|&n| all[n].0 == "FROM").collect();
    let runtime = &all[stages[1] + 1..];
    let args = |what: &str| -> Vec<&String> {
        runtime
            .iter()
            .filter(|(i, _)| i == what)
            .map(|(_, a)| a)
            .collect()
    };
    assert!(
        args("COPY").iter().any(|a| a.starts_with("--from=build ")),
        "the binary comes from the build stage"
    );
    let user = args("USER");
    assert_eq!(user.len(), 1);
    assert!(!["root", "0"].contains(&user[0].as_str()), "{user:?}");
    let volume = args("VOLUME");
    assert!(
        volume.iter().any(|v| v.contains("/var/lib/parlor")),
        "{volume:?}"
    );
    assert!(
        args("ENV")
            .iter()
            .any(|e| e.contains("PARLOR_DB=/var/lib/parlor/")),
        "the database is on the volume"
    );
    assert_eq!(args("STOPSIGNAL"), ["SIGTERM"]);
    assert_eq!(args("HEALTHCHECK").len(), 1);
    assert!(text.contains("cargo build --release --locked"), "{text}");
    let ignore = std::fs::read_to_string(root().join("deploy/Containerfile.dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "target/"),
        "the build context leaves target/ out"
    );
}

/// The HEALTHCHECK's command as the Containerfile writes it (its exec form).
fn healthcheck() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("deploy/Containerfile")).unwrap();
    let (_, check) = instructions(&text)
        .into_iter()
        .find(|(i, _)| i == "HEALTHCHECK")
        .expect("a HEALTHCHECK");
    let (_, command) = check.split_once("CMD ").expect("HEALTHCHECK ... CMD [...]");
    serde_json::from_str(command.trim()).expect("the exec form: a JSON array")
}

#[test]
fn the_containers_healthcheck_passes_on_a_ready_server_and_fails_without_one() {
    let command = healthcheck();
    assert_eq!(command[0], "/usr/local/bin/parlor");
    let app = spawn_app();
    let port = app.base.rsplit(':').next().unwrap().to_string();
    // As in the container: PARLOR_BIND on every address, the probe on loopback.
    let bind = format!("0.0.0.0:{port}");
    let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    let (code, out) = parlor(&args, &[("PARLOR_BIND", &bind)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ready"), "{out}");

    // Nothing listening: unhealthy (1, never 2, which container runtimes reserve).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = free.local_addr().unwrap().port();
    drop(free);
    let (code, out) = parlor(&args, &[("PARLOR_BIND", &format!("0.0.0.0:{closed}"))]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not ready"), "{out}");
}
