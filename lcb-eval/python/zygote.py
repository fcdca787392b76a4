"""The zygote: a fresh interpreter that forks one grading child per program.

The judge (worker.py) holds every problem's tests; a child forked from it would carry them in
its memory, where a program can find them (walking frames, `gc.get_objects()`, raw reads). So
the judge starts this process by `exec` before it has received any problem, and asks it for
children over a Unix socket. Each request carries the two pipe ends the child talks to the
judge through; the child gets nothing else. Modules a candidate may use (the LCB prelude,
numpy) are imported here once and shared copy-on-write, so a child starts warm.

Requests (one JSON object per datagram on the SOCK_SEQPACKET socket whose fd is argv[1]):
  {"op": "config", "rundir", "seccomp": [base64 BPF], "timer", "wall_factor"}   first, once
  {"op": "spawn"} + two fds (child's read end, child's write end)   reply {"pid": N}
  {"op": "reap", "pid": N}                                         reply {"status": N}

The child starts its own session, drops its standard streams, keeps only its two pipe ends,
reads its job, lowers its CPU limit, enters a Landlock domain that may not signal the zygote
or the judge, installs the seccomp filters lcb built (no new
processes, no inet sockets, no privileged calls) and only then runs candidate code.
"""

import base64
import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import candidate  # noqa: E402  (needs the path above)
import lcb_grader  # noqa: E402

# Modules the LCB prelude and `reliability_guard` import, loaded once so each child starts
# warm (an `import shutil` per child alone costs 3 ms).
for _name in ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math",
              "random", "statistics", "itertools", "functools", "operator", "io", "json",
              "typing", "decimal", "fractions", "unittest.mock", "faulthandler", "ast",
              "resource", "subprocess", "shutil", "select"):
    try:
        __import__(_name)
    except ImportError:
        pass
try:
    import numpy  # noqa: F401  (LiveCodeBench's environment has numpy)
except ImportError:
    pass
# Every code-execution check program imports pandas (lcb_runner's BASE_IMPORTS), and
# test-output checks call lcb_test_output: loaded here, a child finds them ready.
for _name in ("pandas", "lcb_test_output"):
    try:
        __import__(_name)
    except ImportError:
        pass

PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

_libc = ctypes.CDLL(None, use_errno=True)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(programs):
    """Installs each BPF program (raw `struct sock_filter` arrays built by lcb's seccompiler)."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS)")
    for raw in programs:
        buf = ctypes.create_string_buffer(raw, len(raw))
        prog = _SockFprog(len(raw) // 8, ctypes.cast(buf, ctypes.c_void_p))
        if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(SECCOMP)")


class _LandlockRulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture Linux has
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, LANDLOCK_SCOPE_SIGNAL = 1, 2


def scope_signals():
    """Puts the child in a Landlock domain of its own that may signal no process outside it.

    The zygote is not the PID namespace's init (the judge is), so without this a program could
    kill its parent, and with it every later grading child. Best effort: on kernels without
    Landlock scopes (before 6.12) the zygote is restarted when that happens.
    """
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    attr = _LandlockRulesetAttr(0, 0, LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET)
    fd = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                       ctypes.sizeof(attr), 0)
    if fd < 0:
        return False
    try:
        return _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0) == 0
    finally:
        os.close(fd)


def child(config, rfd, wfd):
    """The grading child: isolate, read the job, then hand over to candidate.serve."""
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the zygote
    os.chdir(config["rundir"])
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    # Only the two pipe ends stay open, as fds 3 and 4 (moved out of the way first, so
    # neither is overwritten): not the zygote's socket, not /dev/null's extra fd.
    high_r, high_w = fcntl.fcntl(rfd, fcntl.F_DUPFD, 5), fcntl.fcntl(wfd, fcntl.F_DUPFD, 5)
    rfd, wfd = os.dup2(high_r, 3), os.dup2(high_w, 4)
    os.closerange(5, 1 << 16)
    job = candidate.read_frame(rfd)
    cpu = int(job.get("cpu_limit", 60))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    scope_signals()
    install_seccomp([base64.b64decode(p) for p in config.get("seccomp", [])])
    candidate.serve(job, rfd, wfd)


def main():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the judge
    sock = socket.socket(fileno=int(sys.argv[1]))
    config = None
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 2)
        if not msg:
            return
        req = json.loads(msg)
        op = req.get("op")
        if op == "config":
            config = req
            lcb_grader.configure_timer(config.get("timer", "cpu"), config.get("wall_factor", 2.0))
            continue
        if op == "spawn":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    sock.close()
                    child(config, fds[0], fds[1])
                except candidate.ChannelClosed:
                    pass  # the judge has its verdict and closed the pipes
                except BaseException as e:  # noqa: BLE001 - report anything, then exit
                    try:
                        candidate.write_frame(4, {"crash": repr(e)[:500]})
                    except BaseException:  # noqa: BLE001
                        code = 3
                os._exit(code)
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())
        elif op == "reap":
            try:
                _, status = os.waitpid(req["pid"], 0)
            except ChildProcessError:
                status = None
            sock.send(json.dumps({"status": status}).encode())


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    main()
