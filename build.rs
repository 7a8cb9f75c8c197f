//! Names the commit the binary was built from, for `parlor --version` and the metrics'
//! `parlor_build_info`: `PARLOR_BUILD_COMMIT` when the build sets it (a container build whose
//! context has no `.git`), else `git rev-parse HEAD`, else "unknown" (a source tarball).

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The files whose change means HEAD moved: HEAD itself, the branch it names, and packed-refs
/// (a worktree keeps its HEAD apart from the refs it shares).
fn watch_head() {
    let (Some(git_dir), Some(common)) = (
        git(&["rev-parse", "--git-dir"]),
        git(&["rev-parse", "--git-common-dir"]),
    ) else {
        return;
    };
    let mut files = vec![Path::new(&git_dir).join("HEAD")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        files.push(Path::new(&common).join(branch));
    }
    files.push(PathBuf::from(&common).join("packed-refs"));
    // A path that does not exist would make Cargo run this script at every build.
    for file in files.iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=PARLOR_BUILD_COMMIT");
    let given = std::env::var("PARLOR_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric()));
    let commit = match given {
        Some(commit) => commit,
        None => {
            watch_head();
            git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into())
        }
    };
    // Not under the PARLOR_ prefix: Cargo also sets this variable for `cargo test`'s processes,
    // and the servers they start would warn about an unknown setting.
    println!("cargo:rustc-env=BUILT_FROM_COMMIT={commit}");
}
