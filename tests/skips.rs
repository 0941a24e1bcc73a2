//! The last step of `cargo test`: how many tests of this run returned early because a service
//! they need (PostgreSQL, the SMTP sink, Postfix, Chromium) was not there, and why. Each such
//! test wrote a line to this run's skip log (`tests/api/helpers.rs`, `skipped`); a green run with
//! skips is therefore never mistaken for a run that tested everything. `.ci/run` sets
//! `SEALPOST_REQUIRE_SERVICES=1`, which turns every skip into a failure instead.
//!
//! It has no test harness of its own (`harness = false`) so that it always prints; cargo starts
//! it after the other test binaries, from the same process, which names the log.

use std::collections::BTreeMap;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skips");
    let log = dir.join(format!("{}.log", std::os::unix::process::parent_id()));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    forget_old_logs(&dir);
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in text.lines() {
        let (test, reason) = line.split_once('\t').unwrap_or((line, "no reason given"));
        by_reason.entry(reason).or_default().push(test);
    }
    let skipped: usize = by_reason.values().map(Vec::len).sum();
    if skipped == 0 {
        println!("skipped: 0 tests; every service the tests asked for was there");
        return;
    }
    println!(
        "skipped: {skipped} test(s) returned early for want of a service and tested nothing \
         (set SEALPOST_REQUIRE_SERVICES=1 to make that a failure):"
    );
    for (reason, tests) in &by_reason {
        println!("  {:>4}  {reason}", tests.len());
    }
}

/// Logs of runs that ended before this step (an interrupted `cargo test`, or `--test api`
/// alone) are removed after a day.
fn forget_old_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day = std::time::Duration::from_secs(86_400);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
