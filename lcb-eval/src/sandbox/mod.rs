//! The sandbox around grading workers: what untrusted code may do, and how it is enforced.
//!
//! Each worker process is started (see [`launch`]) with:
//! * new **user, network and PID namespaces**: no network interfaces but a down loopback, no
//!   capabilities outside, and the worker is init of its PID namespace, so candidates cannot
//!   signal it and everything they leave behind dies with it;
//! * **Landlock**: reads only of the interpreter's own tree, the system libraries it loads,
//!   `/dev/null`, `/dev/urandom` and the worker's sources; writes only to its scratch
//!   directory (so not `$HOME`, the working directory, `/tmp`, `/proc` or the problem files);
//!   TCP connect/bind refused, signals to processes outside the sandbox refused;
//! * **rlimits**: address space, file size, open files, no core dumps;
//! * and in each forked child, before candidate code runs, **seccomp** filters
//!   ([`seccomp`]) refusing new processes, inet sockets and privileged calls, plus a CPU-time
//!   rlimit.
//!
//! Where the host lacks a mechanism (no user namespaces in a container, an old kernel without
//! Landlock) lcb says so once on stderr and carries on with the rest: never silently.

pub mod launch;
pub mod seccomp;

use std::path::PathBuf;

/// Resource limits for grading children.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Address-space limit per worker and child, in bytes (`RLIMIT_AS`).
    pub memory_bytes: u64,
    /// Largest file a child may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Threads per sandbox (`RLIMIT_NPROC`; processes are refused by seccomp anyway).
    pub threads: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 4 << 30,
            file_size_bytes: 64 << 20,
            open_files: 256,
            threads: 512,
        }
    }
}

/// Which protections are in force for the workers of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protections {
    /// User + network + PID namespaces.
    pub namespaces: bool,
    /// Landlock filesystem, network and signal rules (fully enforced).
    pub landlock: bool,
    /// Seccomp filters in each child.
    pub seccomp: bool,
    /// What is missing and why, one line each.
    pub missing: Vec<String>,
}

/// Where a worker keeps its files: a private scratch directory inside the pool's base.
#[derive(Debug, Clone)]
pub struct WorkerDirs {
    /// Read-only directory with the worker's Python sources.
    pub lib: PathBuf,
    /// The only directory the worker and its children may write.
    pub scratch: PathBuf,
    /// Everything else the worker may read (and execute): the interpreter's tree and the
    /// system libraries it loads ([`system_readable`]). Not `$HOME`, not the working
    /// directory, not `/tmp`, not `/proc`.
    pub readable: Vec<PathBuf>,
}

/// The system paths a Python worker needs besides its own installation: shared libraries,
/// the loader's cache, locale and time-zone data, and the two devices it reads.
pub fn system_readable() -> Vec<PathBuf> {
    [
        "/lib",
        "/lib64",
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/etc/ld.so.cache",
        "/etc/localtime",
        "/usr/share/zoneinfo",
        "/dev/urandom",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.exists())
    .collect()
}
