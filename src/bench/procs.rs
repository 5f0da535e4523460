//! The benchmark's child processes (the simulator, `serve`, the naive
//! cycle), all this same binary, and what /proc says of them: CPU time
//! (`utime + stime` of `/proc/<pid>/stat`, in the kernel's fixed 100 ticks
//! a second) and peak memory (`VmHWM` of `/proc/<pid>/status`).
//!
//! Children run in the run's own directory (no `.env` of the caller's is
//! read) with an environment of their own: only what they are given.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::BenchArgs;
use crate::crypto::TokenCipher;
use crate::sim::SimSettings;

/// `/proc` reports CPU time in USER_HZ, which Linux fixes at 100 a second.
const TICKS_PER_SECOND: f64 = 100.0;

/// What every run shares: the binary, the PostgreSQL server, the token key.
pub struct Context {
    pub exe: PathBuf,
    pub postgres_url: String,
    /// `TOKEN_ENCRYPTION_KEY` of every process of the benchmark.
    pub key: String,
    pub cipher: TokenCipher,
    /// The simulator's app credentials (its defaults).
    pub sim: SimSettings,
}

impl Context {
    pub fn new(args: &BenchArgs) -> anyhow::Result<Self> {
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        Ok(Self {
            exe: std::env::current_exe()?,
            postgres_url: args.postgres_url.clone(),
            cipher: TokenCipher::from_base64(&key)?,
            key,
            sim: SimSettings::default(),
        })
    }

    /// The environment `serve` (or the naive cycle) gets: the simulator as
    /// Slack, the benchmark's key, and the given knobs.
    pub fn app_env(&self, database_url: &str, sim_url: &str) -> Vec<(String, String)> {
        [
            ("DATABASE_URL", database_url.to_owned()),
            ("TOKEN_ENCRYPTION_KEY", self.key.clone()),
            ("SLACK_CLIENT_ID", self.sim.client_id.clone()),
            ("SLACK_CLIENT_SECRET", self.sim.client_secret.clone()),
            ("SLACK_SIGNING_SECRET", self.sim.signing_secret.clone()),
            ("SLACK_API_URL", format!("{sim_url}/api")),
            (
                "SLACK_AUTHORIZE_URL",
                format!("{sim_url}/oauth/v2/authorize"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// A child process of the benchmark.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: Child,
    /// Lines of stdout after the one [`Proc::wait_for_line`] waited for.
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `exe args` in `dir` with exactly `env` (and PATH), its output
    /// going to `<dir>/<name>.log` unless `keep_stdout`.
    pub fn spawn(
        name: &str,
        exe: &Path,
        args: &[&str],
        env: &[(String, String)],
        dir: &Path,
        keep_stdout: bool,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        let mut command = Command::new(exe);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stderr(Stdio::from(log.try_clone()?))
            .kill_on_drop(true);
        if keep_stdout {
            command.stdout(Stdio::piped());
        } else {
            command.stdout(Stdio::from(log));
        }
        let child = command.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow::anyhow!("{name} exited at once"))?;
        Ok(Self {
            name: name.to_owned(),
            pid,
            child,
            lines: Arc::default(),
        })
    }

    /// Reads stdout lines until one contains `marker`; the lines after it
    /// are read as they come (so the child never blocks on its output) and
    /// kept, the last hundred, for [`Proc::lines`].
    pub async fn wait_for_line(
        &mut self,
        marker: &str,
        deadline: Duration,
    ) -> anyhow::Result<String> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("{}: no stdout", self.name))?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(deadline, async {
            while let Some(line) = lines.next_line().await? {
                if line.contains(marker) {
                    return Ok::<_, std::io::Error>(Some(line));
                }
            }
            Ok(None)
        })
        .await;
        let line = match found {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => anyhow::bail!("{} ended before saying {marker:?}", self.name),
            Ok(Err(err)) => return Err(err.into()),
            Err(_) => anyhow::bail!("{} did not say {marker:?} within {deadline:?}", self.name),
        };
        let kept = self.lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() == 100 {
                    kept.remove(0);
                }
                kept.push(line);
            }
        });
        Ok(line)
    }

    /// What the child wrote after the line waited for.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid).unwrap_or_default()
    }

    pub fn peak_rss_mb(&self) -> f64 {
        peak_rss_kb(self.pid).unwrap_or_default() as f64 / 1024.0
    }

    /// SIGTERM, then waits up to `grace` for the exit (SIGKILL after).
    pub async fn stop(&mut self, grace: Duration) -> anyhow::Result<()> {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success());
        if signalled && let Ok(status) = tokio::time::timeout(grace, self.child.wait()).await {
            status?;
            return Ok(());
        }
        self.child.start_kill()?;
        self.child.wait().await?;
        anyhow::bail!("{} did not stop within {grace:?} of SIGTERM", self.name)
    }
}

/// A simulator child on a free loopback port, with the benchmark's
/// settings ([`SimSettings::bench`]) and `latency_ms` per call.
pub async fn start_sim(
    context: &Context,
    dir: &Path,
    latency_ms: u64,
) -> anyhow::Result<(Proc, String)> {
    let latency = latency_ms.to_string();
    let mut sim = Proc::spawn(
        "sim",
        &context.exe,
        &[
            "sim",
            "--bench",
            "--latency-ms",
            &latency,
            "--sim-bind-addr",
            "127.0.0.1:0",
        ],
        &[("RUST_LOG".into(), "warn".into())],
        dir,
        true,
    )?;
    let line = sim
        .wait_for_line("listening on", Duration::from_secs(30))
        .await?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(|w| w.trim_end_matches(',').to_owned())
        .ok_or_else(|| anyhow::anyhow!("no address in the simulator's {line:?}"))?;
    Ok((sim, url))
}

/// A free loopback port (bound, then released for a child to take).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until `url` answers 200, for at most `deadline`.
pub async fn wait_ready(
    http: &reqwest::Client,
    url: &str,
    deadline: Duration,
) -> anyhow::Result<()> {
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= give_up {
            anyhow::bail!("{url} did not answer within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Processes whose command line (or the title a server gives itself)
/// contains `needle`.
pub fn titled(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| {
                String::from_utf8_lossy(&line)
                    .replace('\0', " ")
                    .contains(needle)
            })
        })
        .collect()
}

/// CPU time used so far by `pid` (user and system), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after ")".
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Peak resident memory of `pid`, in kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The machine's CPU time so far: (busy, total) ticks over all cores.
pub fn machine_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let values: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    // idle and iowait are the fourth and fifth.
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// `/proc/loadavg`'s three averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Cores, memory and the CPU model, for the report's heading.
pub fn machine_summary() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!(
        "{cores} cores ({model}), {memory_gb:.0} GB, load {}",
        loadavg()
    )
}

/// CPU seconds of a set of processes, read at the start and the end of a
/// window: processes that appear meanwhile count from zero, and those
/// that exit meanwhile are lost (the PostgreSQL backends of a pool stay).
#[derive(Debug, Default)]
pub struct CpuWindow {
    start: std::collections::HashMap<u32, f64>,
}

impl CpuWindow {
    pub fn start(pids: &[u32]) -> Self {
        Self {
            start: pids
                .iter()
                .filter_map(|&pid| Some((pid, cpu_seconds(pid)?)))
                .collect(),
        }
    }

    pub fn seconds(&self, pids: &[u32]) -> f64 {
        pids.iter()
            .filter_map(|&pid| {
                let now = cpu_seconds(pid)?;
                Some(now - self.start.get(&pid).copied().unwrap_or(0.0))
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_cpu_time_and_a_peak_memory() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).is_some());
        assert!(peak_rss_kb(pid).is_some_and(|kb| kb > 0));
        let (busy, total) = machine_ticks();
        assert!(total >= busy && total > 0);
    }
}
