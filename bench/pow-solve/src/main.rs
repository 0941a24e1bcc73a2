//! Reads one ALTCHA challenge per line (the JSON `GET /api/v1/challenge` answers) on stdin and
//! writes, in the same order, the payload a browser's widget would post for it: the base64 of
//! `{"challenge": ..., "solution": ...}`. The work is spread over every core. The benchmark kit
//! solves its challenges with this before it starts the clock, so that what it measures is the
//! server's side of the proof of work: verifying a solution and spending its challenge.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;

fn solve(line: &str) -> Result<String, String> {
    let challenge: altcha::Challenge =
        serde_json::from_str(line).map_err(|e| format!("not a challenge: {e}"))?;
    let solution = altcha::solve_challenge(altcha::SolveChallengeOptions::new(&challenge))
        .map_err(|e| format!("solving: {e}"))?
        .ok_or("no solution within the solver's time limit")?;
    let payload = altcha::Payload {
        challenge,
        solution,
    };
    let json = serde_json::to_vec(&payload).map_err(|e| format!("payload: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(json))
}

fn main() {
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let next = AtomicUsize::new(0);
    let mut solved: Vec<Option<Result<String, String>>> = vec![None; lines.len()];
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results = std::sync::Mutex::new(&mut solved);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(line) = lines.get(i) else { return };
                    let result = solve(line);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
                }
            });
        }
    });
    let mut out = std::io::stdout().lock();
    for (i, result) in solved.into_iter().enumerate() {
        match result {
            Some(Ok(payload)) => {
                let _ = writeln!(out, "{payload}");
            }
            Some(Err(e)) => {
                eprintln!("challenge {}: {e}", i + 1);
                std::process::exit(1);
            }
            None => std::process::exit(1),
        }
    }
}
