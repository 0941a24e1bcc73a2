//! A real Rspamd (Debian's `rspamd` package) started by the test as its own process, with a
//! private `redis-server` for the Bayes classifier: a temporary directory with a minimal
//! configuration (a normal and a controller worker on free 127.0.0.1 ports, a test password)
//! whose `local.d` is the sample Sealpost ships in `config/rspamd/local.d`, so the sample is
//! what turns off every module that would look anything up in DNS or send anything anywhere.
//! Both processes are killed (with Rspamd's workers) when the server is dropped.
//!
//! Rspamd compiles its regular expressions and the URL suffix list with Hyperscan at start
//! (half a minute on a cold cache); the compiled cache is kept under the target directory and
//! shared by every test, and starts are taken one at a time so that the first one fills it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sealpost::config::RspamdSettings;
use sealpost::spam::rspamd::Rspamd;
use secrecy::SecretString;

use crate::helpers::{free_port, services_required, skipped};

/// The controller's password (`password` and `enable_password`).
pub const RSPAMD_PASSWORD: &str = "rspamd-test-password";

/// How long one start may take: a cold Hyperscan cache on a busy machine.
const START_BOUND: Duration = Duration::from_secs(180);

pub struct RspamdServer {
    /// The controller worker's base URL, as `spam.rspamd.url` takes it.
    pub url: String,
    redis_port: u16,
    /// The only name server Rspamd is given: what arrives here, Rspamd looked up.
    dns: std::net::UdpSocket,
    dir: tempfile::TempDir,
    rspamd: Child,
    redis: Child,
}

/// Starts are taken one at a time (see the module's comment).
static START: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An executable by name, on `PATH` or where Debian puts it.
fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("rspamd-hs-cache")
}

/// The sample `local.d` (`config/rspamd/local.d`), as an operator would copy it.
fn sample_local_d() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rspamd/local.d")
}

impl RspamdServer {
    /// Starts Rspamd and its Redis, or returns `None` with a printed reason when either is
    /// not installed (a failure under `SEALPOST_REQUIRE_SERVICES=1`).
    pub async fn start() -> Option<RspamdServer> {
        let (Some(rspamd), Some(redis)) = (find("rspamd"), find("redis-server")) else {
            let reason = if find("rspamd").is_none() {
                "needs rspamd (apt-get install rspamd)"
            } else {
                "needs redis-server for Rspamd's Bayes classifier (apt-get install redis-server)"
            };
            if services_required() {
                panic!("SEALPOST_REQUIRE_SERVICES=1 but the test {reason}");
            }
            skipped(reason);
            return None;
        };
        let _turn = START.lock().await;
        let mut last_failure = String::new();
        // A free port can be taken by another test between asking and binding: try again.
        for _ in 0..3 {
            match Self::start_once(&rspamd, &redis).await {
                Ok(server) => return Some(server),
                Err(failure) => last_failure = failure,
            }
        }
        panic!("rspamd did not start: {last_failure}");
    }

    async fn start_once(rspamd: &Path, redis: &Path) -> Result<RspamdServer, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path();
        for sub in ["db", "run", "log", "redis", "override.d"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| format!("{sub}: {e}"))?;
        }
        copy_dir(&sample_local_d(), &root.join("local.d"))?;
        std::fs::create_dir_all(cache_dir()).map_err(|e| format!("cache dir: {e}"))?;

        let redis_port = free_port();
        let mut redis = Command::new(redis)
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(root.join("redis"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting redis-server: {e}"))?;
        let redis_addr: SocketAddr = ([127, 0, 0, 1], redis_port).into();
        if !wait_until(Duration::from_secs(10), &mut redis, || async {
            tokio::net::TcpStream::connect(redis_addr).await.is_ok()
        })
        .await
        {
            stop(&mut redis);
            return Err(format!("redis-server did not listen on {redis_addr}"));
        }

        let dns = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("dns: {e}"))?;
        dns.set_nonblocking(true).map_err(|e| format!("dns: {e}"))?;
        let dns_addr = dns.local_addr().map_err(|e| format!("dns: {e}"))?;
        let normal_port = free_port();
        let controller_port = free_port();
        // Test-only settings next to the sample: the Bayes classifier on the private Redis,
        // learning only when told (no autolearn), the shared Hyperscan cache, and a name
        // server that answers nothing and counts what it is asked.
        write(
            &root.join("local.d/classifier-bayes.conf"),
            &format!("servers = \"127.0.0.1:{redis_port}\";\nautolearn = false;\n"),
        )?;
        write(
            &root.join("override.d/options.inc"),
            &format!(
                "hs_cache_dir = \"{}/\";\ndns {{\n    nameserver = [\"{dns_addr}\"];\n    \
                 timeout = 1s;\n    retransmits = 1;\n}}\n",
                cache_dir().display()
            ),
        )?;
        write(
            &root.join("rspamd.conf"),
            &RSPAMD_CONF
                .replace("NORMAL_PORT", &normal_port.to_string())
                .replace("CONTROLLER_PORT", &controller_port.to_string())
                .replace("PASSWORD", RSPAMD_PASSWORD),
        )?;
        let var = |name: &str, path: &Path| format!("{name}={}", path.display());
        let mut command = Command::new(rspamd);
        // Not daemonized, as root allowed (tests run as root in CI), in a process group of its
        // own so that its workers go with it.
        command
            .args(["-f", "-i", "-c"])
            .arg(root.join("rspamd.conf"))
            .arg("--var")
            .arg(var("LOCAL_CONFDIR", root))
            .arg("--var")
            .arg(var("DBDIR", &root.join("db")))
            .arg("--var")
            .arg(var("RUNDIR", &root.join("run")))
            .arg("--var")
            .arg(var("LOGDIR", &root.join("log")))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                stop(&mut redis);
                return Err(format!("starting rspamd: {e}"));
            }
        };
        let url = format!("http://127.0.0.1:{controller_port}");
        let ping = reqwest::Client::new();
        let ping_url = format!("{url}/ping");
        let normal_addr: SocketAddr = ([127, 0, 0, 1], normal_port).into();
        let up = wait_until(START_BOUND, &mut child, || async {
            let pong = ping
                .get(&ping_url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            pong.is_some() && tokio::net::TcpStream::connect(normal_addr).await.is_ok()
        })
        .await;
        let server = RspamdServer {
            url,
            redis_port,
            dns,
            dir,
            rspamd: child,
            redis,
        };
        if up {
            Ok(server)
        } else {
            Err(format!(
                "no pong within {} s; the end of its log:\n{}",
                START_BOUND.as_secs(),
                server.log_tail(30)
            ))
        }
    }

    /// `spam.rspamd` for this server, with `password` (use [`RSPAMD_PASSWORD`]).
    pub fn settings(&self, password: &str) -> RspamdSettings {
        RspamdSettings {
            url: self.url.clone(),
            password: SecretString::from(password),
            timeout_secs: 10,
        }
    }

    /// A client of this server, as Sealpost builds it from its settings.
    pub fn client(&self) -> Rspamd {
        Rspamd::from_settings(&self.settings(RSPAMD_PASSWORD)).expect("a URL is set")
    }

    /// A controller endpoint's JSON answer (`stat`, `history`, ...).
    pub async fn controller(&self, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("{}/{path}", self.url))
            .header("Password", RSPAMD_PASSWORD)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("GET /{path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET /{path} as JSON: {e}"))
    }

    /// How many messages the Bayes classifier has learned as spam and as ham, as Rspamd keeps
    /// them in Redis (its `/stat` shows them too, but refreshes them only every minute or so).
    pub fn learned(&self) -> (u64, u64) {
        let cli = find("redis-cli").expect("redis-cli (it comes with redis-server)");
        let output = Command::new(cli)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.redis_port.to_string(),
                "--raw",
            ])
            .args(["HMGET", "RS", "learns_spam", "learns_ham"])
            .output()
            .expect("redis-cli runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut counts = text.lines().map(|l| l.trim().parse::<u64>().unwrap_or(0));
        (counts.next().unwrap_or(0), counts.next().unwrap_or(0))
    }

    /// How many DNS queries Rspamd has sent since the last call (the sample configuration
    /// turns off every module that looks anything up, so: none).
    pub fn dns_queries(&self) -> usize {
        let mut buffer = [0u8; 1500];
        let mut queries = 0;
        while self.dns.recv(&mut buffer).is_ok() {
            queries += 1;
        }
        queries
    }

    /// The last `n` lines of Rspamd's log.
    pub fn log_tail(&self, n: usize) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("log/rspamd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for RspamdServer {
    fn drop(&mut self) {
        stop(&mut self.rspamd);
        stop(&mut self.redis);
    }
}

/// Kills a process and, for Rspamd, its workers (its process group).
fn stop(child: &mut Child) {
    #[cfg(target_os = "linux")]
    {
        let group = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls `ready` every 100 ms until it holds, `child` exits, or `bound` passes.
async fn wait_until<F, Fut>(bound: Duration, child: &mut Child, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < bound {
        if ready().await {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            std::fs::copy(&path, to.join(entry.file_name()))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The top of the configuration: Debian's stock rules and modules (`common.conf`), the
/// options with `local.d` and `override.d` as the stock `rspamd.conf` includes them, the log
/// in the temporary directory, and only the two workers Sealpost talks to (no proxy, no fuzzy
/// storage), each once. The controller has no `secure_ip`: from 127.0.0.1 too the password
/// counts.
const RSPAMD_CONF: &str = r#"
.include "$CONFDIR/common.conf"

options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
    .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/options.inc"
}

logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "info";
}

worker "normal" {
    bind_socket = "127.0.0.1:NORMAL_PORT";
    count = 1;
}

worker "controller" {
    bind_socket = "127.0.0.1:CONTROLLER_PORT";
    count = 1;
    password = "PASSWORD";
    enable_password = "PASSWORD";
}
"#;
