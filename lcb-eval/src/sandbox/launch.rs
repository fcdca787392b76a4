//! Starting a worker process inside the sandbox.
//!
//! The work happens in `pre_exec`, between `fork` and `exec` of the worker, where only
//! async-signal-safe calls are allowed (the parent is multi-threaded): everything that
//! allocates — the uid map text, the Landlock ruleset — is prepared before the fork.
//! With a new PID namespace the forked process forks once more: the grandchild becomes PID 1
//! of the namespace and execs Python; the middle process only waits for it and exits with its
//! status, so killing it (or lcb dying) kills the worker through `PR_SET_PDEATHSIG`.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Mutex;

use landlock::{
    Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};

use super::{Limits, WorkerDirs};

/// How far to isolate a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isolation {
    /// Create user, network and PID namespaces.
    pub namespaces: bool,
    /// Apply Landlock rules.
    pub landlock: bool,
}

/// Prepares `command` (a Python worker) to start sandboxed. Returns a description of the
/// Landlock state (`Err` text when Landlock cannot be set up on this host).
pub fn prepare(
    command: &mut Command,
    dirs: &WorkerDirs,
    limits: &Limits,
    isolation: Isolation,
) -> Result<(), String> {
    let ruleset = if isolation.landlock {
        Some(landlock_ruleset(dirs)?)
    } else {
        None
    };
    let ids = IdMaps::current()?;
    let plan = Plan {
        namespaces: isolation.namespaces,
        ids,
        ruleset: Mutex::new(ruleset),
        rlimits: [
            (libc::RLIMIT_AS, limits.memory_bytes),
            (libc::RLIMIT_FSIZE, limits.file_size_bytes),
            (libc::RLIMIT_NOFILE, limits.open_files),
            (libc::RLIMIT_NPROC, limits.threads),
            (libc::RLIMIT_CORE, 0),
        ],
    };
    // SAFETY: `Plan::enter` only makes async-signal-safe system calls on data prepared
    // above; it allocates nothing.
    unsafe {
        command.pre_exec(move || plan.enter());
    }
    Ok(())
}

/// Builds the Landlock ruleset: reads of `dirs.lib` and `dirs.readable` only, everything in
/// `scratch`, `/dev/null`; no TCP, no signals or abstract sockets outside the sandbox.
fn landlock_ruleset(dirs: &WorkerDirs) -> Result<RulesetCreated, String> {
    let abi = ABI::V6;
    let read = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let fd = |path: &std::path::Path| {
        landlock::PathFd::new(path).map_err(|e| format!("landlock: {}: {e}", path.display()))
    };
    let err = |e: landlock::RulesetError| format!("landlock: {e}");
    let mut ruleset = Ruleset::default()
        .handle_access(all)
        .map_err(err)?
        .handle_access(AccessNet::from_all(abi))
        .map_err(err)?
        .scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?;
    for path in std::iter::once(&dirs.lib).chain(&dirs.readable) {
        // Directory rights on a file make the kernel refuse the whole ruleset.
        let rights = if path.is_dir() {
            read
        } else {
            read & AccessFs::from_file(abi)
        };
        ruleset = ruleset
            .add_rule(landlock::PathBeneath::new(fd(path)?, rights))
            .map_err(err)?;
    }
    ruleset
        .add_rule(landlock::PathBeneath::new(fd(&dirs.scratch)?, all))
        .map_err(err)?
        .add_rule(landlock::PathBeneath::new(
            fd("/dev/null".as_ref())?,
            AccessFs::from_file(abi),
        ))
        .map_err(err)
}

/// The text written to `/proc/self/{uid_map,gid_map,setgroups}` in the new user namespace:
/// our own ids map to themselves, so files keep their owners and Python stays readable.
struct IdMaps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    uid_path: CString,
    gid_path: CString,
    setgroups_path: CString,
}

impl IdMaps {
    fn current() -> Result<Self, String> {
        let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        let c = |s: &str| CString::new(s).map_err(|e| e.to_string());
        Ok(IdMaps {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            uid_path: c("/proc/self/uid_map")?,
            gid_path: c("/proc/self/gid_map")?,
            setgroups_path: c("/proc/self/setgroups")?,
        })
    }
}

struct Plan {
    namespaces: bool,
    ids: IdMaps,
    ruleset: Mutex<Option<RulesetCreated>>,
    rlimits: [(libc::__rlimit_resource_t, u64); 5],
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Writes `data` to the file at `path` with raw system calls.
fn write_file(path: &CString, data: &[u8]) -> io::Result<()> {
    // SAFETY: plain system calls on a valid C string and buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        check(fd)?;
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        if n != data.len() as isize {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Plan {
    /// Runs in the forked child before `exec`.
    fn enter(&self) -> io::Result<()> {
        // SAFETY: async-signal-safe system calls only (see the module docs).
        unsafe {
            check(libc::setsid())?;
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
            if self.namespaces {
                check(libc::unshare(
                    libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWPID,
                ))?;
                write_file(&self.ids.setgroups_path, b"deny")?;
                write_file(&self.ids.uid_path, &self.ids.uid_map)?;
                write_file(&self.ids.gid_path, &self.ids.gid_map)?;
                self.become_pid1()?;
            }
            for (resource, value) in self.rlimits {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                check(libc::setrlimit(resource, &limit))?;
            }
        }
        if let Some(ruleset) = self.ruleset.lock().ok().and_then(|mut r| r.take()) {
            let status = ruleset.restrict_self().map_err(io::Error::other)?;
            if status.ruleset != RulesetStatus::FullyEnforced {
                return Err(io::Error::other("landlock not fully enforced"));
            }
        }
        Ok(())
    }

    /// Forks: the child (PID 1 of the new namespace) returns and goes on to exec; this process
    /// waits for it and exits with its status.
    unsafe fn become_pid1(&self) -> io::Result<()> {
        let pid = libc::fork();
        check(pid)?;
        if pid == 0 {
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
            return Ok(());
        }
        // The middle process: hold nothing open (the parent waits for exec's close-on-exec
        // pipe and for EOF on the worker's stdout), wait, and pass the status on.
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) == -1 {
            if *libc::__errno_location() != libc::EINTR {
                libc::_exit(125);
            }
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        libc::_exit(code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_maps_map_our_own_ids() {
        let ids = IdMaps::current().unwrap();
        let uid = nix::unistd::geteuid();
        assert_eq!(ids.uid_map, format!("{uid} {uid} 1\n").into_bytes());
    }
}
