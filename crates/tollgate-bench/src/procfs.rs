//! Facts from `/proc`: a process's CPU time, memory and children; this process's CPU affinity and
//! descriptor limit; the machine's CPUs and kernel. Plain file reads, no `libc`. Linux only, which
//! is the only platform the benchmark targets.

use std::fs;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, anyhow};

/// CPU time (user + system) a process has used, all its threads included.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let fields = stat_fields(&stat)?;
    // After the command name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?.parse()?)
    };
    Ok(ticks_to_duration(ticks(11)? + ticks(12)?))
}

/// CPU time of this process plus every child it has reaped (and theirs, such as nginx's worker):
/// after the proxies have exited, everything the bench started.
pub fn own_cpu_time_with_children() -> anyhow::Result<Duration> {
    let stat = fs::read_to_string("/proc/self/stat")?;
    let fields = stat_fields(&stat)?;
    // utime, stime, cutime, cstime: fields 14 to 17.
    let ticks = fields.get(11..=14).ok_or_else(|| anyhow!("short /proc/self/stat"))?;
    let ticks = ticks.iter().map(|t| t.parse::<u64>()).sum::<Result<u64, _>>()?;
    Ok(ticks_to_duration(ticks))
}

/// Machine-wide CPU time from the `cpu` line of `/proc/stat`, summed over all CPUs.
#[derive(Debug, Clone, Copy)]
pub struct SystemCpu {
    /// user + nice + system + irq + softirq.
    pub busy: Duration,
    /// Time the hypervisor ran something else while a CPU of ours wanted to run.
    pub steal: Duration,
}

pub fn system_cpu() -> anyhow::Result<SystemCpu> {
    let stat = fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .find(|line| line.starts_with("cpu "))
        .ok_or_else(|| anyhow!("no cpu line in /proc/stat"))?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal ...
    Ok(SystemCpu {
        busy: ticks_to_duration(at(0) + at(1) + at(2) + at(5) + at(6)),
        steal: ticks_to_duration(at(7)),
    })
}

fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
}

/// The fields of `/proc/<pid>/stat` after `(comm)`, which may itself contain spaces.
fn stat_fields(stat: &str) -> anyhow::Result<Vec<&str>> {
    let after = stat.rfind(')').ok_or_else(|| anyhow!("unexpected /proc stat format"))?;
    Ok(stat.get(after + 1..).unwrap_or_default().split_whitespace().collect())
}

/// `USER_HZ`, the unit of `/proc/<pid>/stat` times: 100 on every mainstream Linux, but ask.
fn clock_ticks_per_second() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&hz| hz > 0)
            .unwrap_or(100)
    })
}

/// Resident memory in KiB: now (`VmRSS`) and the peak so far (`VmHWM`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_kib: u64,
}

impl std::ops::Add for Memory {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self { rss_kib: self.rss_kib + other.rss_kib, peak_kib: self.peak_kib + other.peak_kib }
    }
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = |key: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .ok_or_else(|| anyhow!("no {key} in /proc/{pid}/status"))?;
        Ok(line.trim().trim_end_matches("kB").trim().parse()?)
    };
    Ok(Memory { rss_kib: kib("VmRSS:")?, peak_kib: kib("VmHWM:")? })
}

/// Processes whose parent is `pid` (nginx's workers), by scanning `/proc`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&candidate| {
            fs::read_to_string(format!("/proc/{candidate}/stat")).ok().is_some_and(|stat| {
                stat_fields(&stat).ok().and_then(|f| f.get(1)?.parse::<u32>().ok()) == Some(pid)
            })
        })
        .collect()
}

/// The CPUs this process may run on, from `Cpus_allowed_list` (e.g. `0-3,6`).
pub fn allowed_cpus() -> anyhow::Result<Vec<usize>> {
    let status = fs::read_to_string("/proc/self/status")?;
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .ok_or_else(|| anyhow!("no Cpus_allowed_list in /proc/self/status"))?;
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => cpus.extend(lo.parse::<usize>()?..=hi.parse::<usize>()?),
            None => cpus.push(part.parse()?),
        }
    }
    Ok(cpus)
}

/// This process's soft and hard limits on open files.
pub fn open_files_limit() -> anyhow::Result<(u64, u64)> {
    let limits = fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .ok_or_else(|| anyhow!("no open-files line in /proc/self/limits"))?;
    let mut numbers = line.split_whitespace().skip(3);
    let mut next = || -> u64 {
        // "unlimited" is as good as any number we could ask for.
        numbers.next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
    };
    Ok((next(), next()))
}

/// The machine as the report describes it.
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpus = cpuinfo.lines().filter(|line| line.starts_with("processor")).count();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim()))
        .unwrap_or("unknown")
        .to_owned();
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    Machine { cpus, cpu_model, kernel }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_time(pid).is_ok());
        let mem = memory(pid).unwrap();
        assert!(mem.rss_kib > 0 && mem.peak_kib >= mem.rss_kib);
        assert!(!allowed_cpus().unwrap().is_empty());
        assert!(open_files_limit().unwrap().0 > 0);
        assert!(own_cpu_time_with_children().is_ok());
        assert!(system_cpu().unwrap().busy > Duration::ZERO);
    }

    #[test]
    fn stat_fields_survive_spaces_in_the_name() {
        let fields = stat_fields("42 (a b) S 1 42").unwrap();
        assert_eq!(fields, ["S", "1", "42"]);
    }
}
