//! Facts about the machine the figures belong to, read from `/proc` and
//! from the binaries themselves, so two results files can be told apart.

use std::path::Path;
use std::process::Command;

use crate::peers::etcd::BINARY_ENV as ETCD_ENV;
use crate::results::Machine;

/// Describes this machine and the versions of the systems under test.
pub fn describe(cortex_bin: &Path) -> Machine {
    let data_dir = std::env::temp_dir();
    let cpuinfo = read("/proc/cpuinfo");
    let meminfo = read("/proc/meminfo");
    Machine {
        cpu_model: field(&cpuinfo, "model name").unwrap_or_default(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get() as u32),
        memory_mib: field(&meminfo, "MemTotal")
            .and_then(|kib| kib.trim_end_matches(" kB").parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        data_fs: filesystem(&read("/proc/self/mounts"), &data_dir),
        data_dir: data_dir.display().to_string(),
        etcd_version: version(&std::env::var(ETCD_ENV).unwrap_or_else(|_| "etcd".into())),
        redis_version: version(
            &std::env::var("CORTEX_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into()),
        ),
        cortex_version: version(&cortex_bin.display().to_string()),
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The value of the first `name : value` line of a `/proc` file.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_string())
    })
}

/// The type of the filesystem mounted deepest above `path`, from the lines
/// of `/proc/self/mounts`.
fn filesystem(mounts: &str, path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point).then_some((point.len(), kind))
        })
        .max_by_key(|&(depth, _)| depth)
        .map_or_else(|| "unknown".into(), |(_, kind)| kind.to_string())
}

/// The first line `binary --version` prints, or why there is none.
fn version(binary: &str) -> String {
    match Command::new(binary).arg("--version").output() {
        Ok(output) => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Err(error) => format!("{binary}: unavailable ({error})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_mount_names_the_filesystem() {
        let mounts = "/dev/sda1 / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n\
                      /dev/sdb1 /tmpdata xfs rw 0 0\n";
        assert_eq!(filesystem(mounts, Path::new("/tmp/x/y")), "tmpfs");
        assert_eq!(filesystem(mounts, Path::new("/tmpdata/z")), "xfs");
        assert_eq!(filesystem(mounts, Path::new("/home")), "ext4");
    }

    #[test]
    fn proc_fields_are_found_by_name() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\n";
        assert_eq!(
            field(cpuinfo, "model name").as_deref(),
            Some("Some CPU @ 2.0GHz")
        );
        assert_eq!(field(cpuinfo, "flags"), None);
    }
}
