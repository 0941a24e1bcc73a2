//! The floor plan of `src/` (docs/ARCHITECTURE.md), checked on the source: every import
//! points to its own floor or a lower one, only the front doors and the HTTP floor speak
//! `poem`, `config` knows only `domain`, and `domain` and `entities` know nothing above them.
//! An import here is any `crate::x` path (in `use` lines, code and doc links alike), and in
//! the binary (`main.rs`, `cli/`) any `sealpost::x` path.

use std::path::{Path, PathBuf};

/// The floors from the top down, each with the top-level modules standing on it.
const FLOORS: &[(&str, &[&str])] = &[
    ("entry", &["main", "cli"]),
    ("wiring", &["startup"]),
    ("front doors", &["api", "web", "smtp"]),
    ("http", &["http"]),
    (
        "use cases",
        &[
            "messages",
            "inbox",
            "moderation",
            "relay",
            "privacy",
            "stats",
            "legal",
            "auth",
        ],
    ),
    ("mailers", &["mailers"]),
    (
        "infrastructure",
        &[
            "state",
            "outbox",
            "group_commit",
            "audit",
            "db",
            "seal",
            "mail",
            "captcha",
            "rate_limit",
            "telemetry",
            "metrics",
            "tally",
            "i18n",
            "policy_text",
            "spam",
        ],
    ),
    ("config", &["config"]),
    ("entities", &["entities"]),
    ("domain", &["domain"]),
];

/// The floors that may speak HTTP (`poem`, `poem_openapi`).
const HTTP_FLOORS: &[&str] = &["entry", "wiring", "front doors", "http"];

/// The floors whose handlers call use cases and never reach the database themselves.
const HANDLER_FLOORS: &[&str] = &["entry", "front doors"];

/// What opens a transaction or queries a table.
const DATABASE_WORK: &[&str] = &["begin_write", ".begin()", "Entity::", "Statement::"];

/// Modules that may import only the listed modules of the crate (besides themselves).
const ONLY: &[(&str, &[&str])] = &[("config", &["domain"]), ("domain", &[]), ("entities", &[])];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// The top-level module a file of `src/` belongs to: `src/web/staff/inbox.rs` is `web`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

/// The crate modules a line names: `crate::a::b`, `crate::{a, b::c}`, and with `binary`
/// also `sealpost::a`.
fn named_modules(line: &str, binary: bool) -> Vec<String> {
    let mut found = Vec::new();
    let prefixes: &[&str] = if binary {
        &["crate::", "sealpost::"]
    } else {
        &["crate::"]
    };
    for prefix in prefixes {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.push(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        }
    }
    found
}

fn speaks_http(line: &str) -> bool {
    [
        "poem::",
        "poem_openapi::",
        "use poem",
        "#[poem",
        "poem_openapi",
    ]
    .iter()
    .any(|needle| {
        line.match_indices(needle).any(|(at, _)| {
            !line[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        })
    })
}

/// Every breach of the plan in one file's text, as `path:line: what`.
fn breaches(relative: &Path, text: &str) -> Vec<String> {
    let module = module_of(relative);
    let binary = module == "main" || module == "cli";
    let Some(floor) = floor_of(&module) else {
        return vec![format!(
            "{}: the module `{module}` stands on no floor; add it to FLOORS here and to \
             docs/ARCHITECTURE.md",
            relative.display()
        )];
    };
    let floor_name = FLOORS[floor].0;
    let only = ONLY
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, allowed)| *allowed);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("src/{}:{}", relative.display(), n + 1);
        if !HTTP_FLOORS.contains(&floor_name) && speaks_http(line) {
            out.push(format!(
                "{at}: `{module}` ({floor_name}) speaks HTTP: {}",
                line.trim()
            ));
        }
        if HANDLER_FLOORS.contains(&floor_name)
            && let Some(work) = DATABASE_WORK.iter().find(|w| line.contains(*w))
        {
            out.push(format!(
                "{at}: a handler in `{module}` ({floor_name}) does database work itself \
                 (`{work}`); call a use case: {}",
                line.trim()
            ));
        }
        for named in named_modules(line, binary) {
            if named == module || named == "self" || named == "super" {
                continue;
            }
            if let Some(allowed) = only {
                if !allowed.contains(&named.as_str()) {
                    out.push(format!(
                        "{at}: `{module}` may import only {allowed:?}, not `{named}`: {}",
                        line.trim()
                    ));
                }
                continue;
            }
            match floor_of(&named) {
                Some(to) if to < floor => out.push(format!(
                    "{at}: `{module}` ({floor_name}) imports `{named}` ({}), a floor above: {}",
                    FLOORS[to].0,
                    line.trim()
                )),
                _ => {}
            }
        }
    }
    out
}

/// The imports between top-level modules, `(from, to)`, each pair once.
fn module_arrows(
    relative: &Path,
    text: &str,
    into: &mut std::collections::BTreeSet<(String, String)>,
) {
    let module = module_of(relative);
    let binary = module == "main" || module == "cli";
    for line in text.lines() {
        for named in named_modules(line, binary) {
            if named != module && floor_of(&named).is_some() {
                into.insert((module.clone(), named));
            }
        }
    }
}

/// A loop among the modules, as `a -> b -> a`, if there is one.
fn first_loop(arrows: &std::collections::BTreeSet<(String, String)>) -> Option<String> {
    fn visit(
        at: &str,
        arrows: &std::collections::BTreeSet<(String, String)>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|m| m == at) {
            let mut shown = path[start..].to_vec();
            shown.push(at.to_owned());
            return Some(shown.join(" -> "));
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_owned());
        for (_, to) in arrows.iter().filter(|(from, _)| from == at) {
            if let Some(found) = visit(to, arrows, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(at.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for (from, _) in arrows {
        if let Some(found) = visit(from, arrows, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn every_import_points_to_its_own_floor_or_a_lower_one() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "read {} files of src/", files.len());
    let mut all = Vec::new();
    let mut arrows = std::collections::BTreeSet::new();
    for path in &files {
        let relative = path.strip_prefix(&src).expect("under src/");
        if relative == Path::new("lib.rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("read a source file");
        all.extend(breaches(relative, &text));
        module_arrows(relative, &text, &mut arrows);
    }
    if let Some(found) = first_loop(&arrows) {
        all.push(format!("the modules import each other in a loop: {found}"));
    }
    assert!(
        all.is_empty(),
        "{} import(s) break the floor plan (docs/ARCHITECTURE.md):\n{}",
        all.len(),
        all.join("\n")
    );
}

#[test]
fn the_check_catches_what_it_is_for() {
    let upward = breaches(
        Path::new("messages.rs"),
        "use crate::web::render;\nuse crate::{domain, http::ErrorCode};\n",
    );
    assert_eq!(upward.len(), 2, "{upward:?}");
    assert!(upward[0].contains("src/messages.rs:1"), "{upward:?}");
    assert!(upward[1].contains("`http`"), "{upward:?}");
    let poem = breaches(Path::new("outbox.rs"), "use poem::Request;\n");
    assert_eq!(poem.len(), 1, "{poem:?}");
    let doc_link = breaches(Path::new("db.rs"), "/// see [`crate::messages::submit`]\n");
    assert_eq!(doc_link.len(), 1, "{doc_link:?}");
    let config = breaches(Path::new("config.rs"), "use crate::seal::Sealer;\n");
    assert_eq!(config.len(), 1, "{config:?}");
    let domain = breaches(Path::new("domain/email.rs"), "use crate::config;\n");
    assert_eq!(domain.len(), 1, "{domain:?}");
    let unknown = breaches(Path::new("newroom.rs"), "");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    let handler = breaches(
        Path::new("web/staff/account.rs"),
        "let txn = crate::db::begin_write(&app.db).await?;\n",
    );
    assert_eq!(handler.len(), 1, "{handler:?}");
    assert!(handler[0].contains("database work"), "{handler:?}");
    let binary = breaches(Path::new("cli/staff.rs"), "use sealpost::auth;\n");
    assert!(binary.is_empty(), "{binary:?}");
    let downward = breaches(
        Path::new("web/form.rs"),
        "use crate::messages;\nuse poem::Request;\nlet x = my_crate::web;\n",
    );
    assert!(downward.is_empty(), "{downward:?}");
    let mut arrows = std::collections::BTreeSet::new();
    module_arrows(
        Path::new("relay.rs"),
        "use crate::messages::insert;\n",
        &mut arrows,
    );
    assert_eq!(first_loop(&arrows), None);
    module_arrows(
        Path::new("messages.rs"),
        "use crate::relay::notify;\n",
        &mut arrows,
    );
    assert_eq!(
        first_loop(&arrows).as_deref(),
        Some("messages -> relay -> messages")
    );
}
