//! `parlor load` and `parlor check` with standard error not a terminal (a pipe, as under cron or
//! CI): plain progress lines, a phase's start and its end with how far it got, beside the
//! commands' own output, which is unchanged.

use std::process::Command;

fn parlor(db: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PARLOR_DB")
        .output()
        .expect("run parlor");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn load_and_check_write_plain_progress_lines_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let fixture = super::root().join("src/fixture/demo.json");
    let (ok, out, err) = parlor(&db, &["load", fixture.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Loaded 5 tenant(s)"), "{out}");
    for line in [
        "load: checking users, 0/31 users (0%), 0 s",
        "load: checking users, 31/31 users (100%), done in ",
        "load: writing, 0/40 messages (0%), 0 s",
        "load: writing, 40/40 messages (100%), done in ",
    ] {
        assert!(err.contains(line), "{line:?} is not in:\n{err}");
    }
    // Plain lines: no terminal control codes.
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");

    let (ok, out, err) = parlor(&db, &["check"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("All unread counts match the messages."),
        "{out}"
    );
    for step in ["file structure", "links between records", "unread counts"] {
        assert!(err.contains(&format!("check: {step}, ")), "{step}:\n{err}");
    }
    assert!(err.contains("check: unread counts, done in "), "{err}");
}

#[test]
fn backup_and_restore_say_what_they_are_doing_and_how_long_it_took() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let fixture = super::root().join("src/fixture/demo.json");
    assert!(parlor(&db, &["load", fixture.to_str().unwrap()]).0);
    let copy = dir.path().join("copy.db");

    let (ok, out, err) = parlor(&db, &["backup", copy.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("backup: copying, 0 s"), "{err}");
    assert!(err.contains("backup: copying, done in "), "{err}");

    let (ok, out, err) = parlor(&db, &["restore", copy.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(
        err.contains("restore: checking the copy and putting it in place, done in "),
        "{err}"
    );
    assert!(out.contains("Restored "), "{out}");
}
