//! The seccomp filters each grading child installs before running candidate code.
//!
//! Built here with `seccompiler` and handed to the Python worker as raw BPF, which the child
//! loads with `prctl(PR_SET_SECCOMP)` right after forking. Two filters, because they answer
//! with different errors:
//!
//! * `clone3` → `ENOSYS`, so glibc falls back to `clone` (where flags can be inspected);
//! * everything else below → `EPERM`: creating processes (`fork`, `vfork`, `clone` without
//!   `CLONE_THREAD`; threads stay allowed), internet and raw sockets, and privileged or
//!   escape-prone calls (mounts, namespaces, ptrace, module loading, rlimit changes, …).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// System calls refused outright (EPERM).
const DENIED: &[i64] = &[
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_setrlimit,
    libc::SYS_prlimit64,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_io_uring_setup,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_mknod,
    libc::SYS_mknodat,
    libc::SYS_syslog,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
];

/// Socket families a candidate may not open: IPv4, IPv6, raw packets, netlink.
const DENIED_SOCKET_FAMILIES: &[u64] = &[
    libc::AF_INET as u64,
    libc::AF_INET6 as u64,
    libc::AF_PACKET as u64,
    libc::AF_NETLINK as u64,
];

fn target_arch() -> TargetArch {
    #[cfg(target_arch = "aarch64")]
    {
        TargetArch::aarch64
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        TargetArch::x86_64
    }
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, String> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        target_arch(),
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("seccomp compile: {e}"))
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, value).map_err(|e| e.to_string())
}

/// The child's filters as raw `struct sock_filter` arrays, in installation order.
pub fn child_filters() -> Result<Vec<Vec<u8>>, String> {
    let mut enosys = BTreeMap::new();
    enosys.insert(libc::SYS_clone3, vec![]);

    let mut eperm: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&nr| (nr, vec![])).collect();
    // clone without CLONE_THREAD creates a process: refuse it, keep threads.
    let thread = libc::CLONE_THREAD as u64;
    eperm.insert(
        libc::SYS_clone,
        vec![
            SeccompRule::new(vec![cond(0, SeccompCmpOp::MaskedEq(thread), 0)?])
                .map_err(|e| e.to_string())?,
        ],
    );
    let sockets = DENIED_SOCKET_FAMILIES
        .iter()
        .map(|&family| {
            SeccompRule::new(vec![cond(0, SeccompCmpOp::Eq, family)?]).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    eperm.insert(libc::SYS_socket, sockets);

    Ok(vec![
        to_bytes(&compile(enosys, libc::ENOSYS)?),
        to_bytes(&compile(eperm, libc::EPERM)?),
    ])
}

/// Serialises BPF instructions exactly as the kernel's `struct sock_filter` lays them out.
fn to_bytes(program: &BpfProgram) -> Vec<u8> {
    let mut out = Vec::with_capacity(program.len() * 8);
    for insn in program {
        out.extend_from_slice(&insn.code.to_ne_bytes());
        out.push(insn.jt);
        out.push(insn.jf);
        out.extend_from_slice(&insn.k.to_ne_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_to_whole_instructions() {
        let filters = child_filters().unwrap();
        assert_eq!(filters.len(), 2);
        for f in &filters {
            assert!(!f.is_empty() && f.len() % 8 == 0);
            assert!(
                f.len() / 8 < 4096,
                "BPF programs are limited to 4096 instructions"
            );
        }
    }
}
