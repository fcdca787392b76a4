"""lcb grading worker: a pre-started Python process that forks one child per program.

lcb (Rust) starts this script inside its sandbox (namespaces, Landlock, rlimits) and talks to
it over stdin/stdout, one JSON object per line:

  -> {"op": "config", ...}             once, first; reply {"ready": true, ...}
  -> {"op": "problem", "key", ...}     remember a problem's tests (no reply)
  -> {"op": "forget"}                  drop remembered problems (no reply)
  -> {"op": "grade", "problem", "code", "timeout"}   reply: one result object

A program that does not even compile is answered here, without a child: compiling runs none
of its code, and at high temperatures most samples are such programs (`lcb_grader` answers only
when the child would certainly answer the same). Every other program runs in a fresh forked
child: no interpreter start-up per sample, and the
modules a candidate may use (the LCB prelude, numpy) are imported once here and shared
copy-on-write. The child starts its own session, drops its standard streams, lowers its CPU
limit, installs the seccomp filters lcb built (no new processes, no inet sockets, no
privileged calls) and only then runs candidate code. This process waits with a wall-clock
deadline, kills the child's whole process group on timeout and, when it is the init of its
own PID namespace, every other process left in it.
"""

import base64
import ctypes
import json
import os
import select
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lcb_grader  # noqa: E402  (needs the path above)

# Modules the LCB prelude imports, loaded once so each child starts warm.
for _name in ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math",
              "random", "statistics", "itertools", "functools", "operator", "io", "json",
              "typing", "decimal", "fractions", "unittest.mock", "faulthandler", "ast",
              "resource", "subprocess"):
    try:
        __import__(_name)
    except ImportError:
        pass
try:
    import numpy  # noqa: F401  (LiveCodeBench's environment has numpy)
    HAVE_NUMPY = True
except ImportError:
    HAVE_NUMPY = False
import resource  # noqa: E402

PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RESULT_CAP = 1 << 20  # bytes of result JSON accepted from a child

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


class Worker:
    def __init__(self, config):
        self.config = config
        self.filters = [base64.b64decode(p) for p in config.get("seccomp", [])]
        self.rundir = config["rundir"]
        self.is_init = os.getpid() == 1
        self.problems = {}
        lcb_grader.configure_timer(config.get("timer", "cpu"), config.get("wall_factor", 2.0))

    # ----- the child ---------------------------------------------------------------------
    def _child(self, job, problem, wfd, source):
        os.setsid()
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with this worker
        os.chdir(self.rundir)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        # Only the result pipe stays open: the candidate must not reach the protocol pipes.
        os.closerange(3, wfd)
        os.closerange(wfd + 1, 1 << 16)
        cpu = int(problem.get("cpu_limit", 60))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        install_seccomp(self.filters)
        timeout = job["timeout"]
        if problem["mode"] == "humaneval":
            status, detail = lcb_grader.grade_humaneval(job["code"], timeout)
            out = {"status": status, "detail": detail}
        else:
            results, metadata = lcb_grader.grade_lcb(
                job["code"], problem["inputs"], problem["outputs"], problem.get("fn_name"),
                timeout, source)
            out = {"results": results, "metadata": metadata,
                   "verdict": lcb_grader.classify(results, metadata)}
        data = json.dumps(out, default=str).encode()
        while data:
            data = data[os.write(wfd, data):]

    def _run_child(self, job, problem, wfd, source):
        code = 0
        try:
            self._child(job, problem, wfd, source)
        except BaseException as e:  # noqa: BLE001 - report anything, then exit
            try:
                os.write(wfd, json.dumps({"crash": repr(e)[:500]}).encode())
            except BaseException:  # noqa: BLE001
                code = 3
        os._exit(code)

    # ----- the parent --------------------------------------------------------------------
    @staticmethod
    def _without_child(job, problem):
        """(reply or None, LCB source or None): the verdict of a program that cannot compile.

        Compiling runs none of the candidate's code, so it is safe here, and a fork (the
        largest cost of grading a short program) is saved for every syntax error — most
        samples at high temperatures. `lcb_grader` answers only when the child would give
        the same answer; otherwise the child grades, with the source prepared here.
        """
        timeout = job["timeout"]
        if problem["mode"] == "humaneval":
            failed = lcb_grader.humaneval_syntax_failure(job["code"], timeout)
            if failed is None:
                return None, None
            return {"status": failed[0], "detail": failed[1]}, None
        source = lcb_grader.lcb_source(job["code"], problem.get("fn_name"))
        failed = lcb_grader.lcb_syntax_failure(source, timeout)
        if failed is None:
            return None, source
        results, metadata = failed
        return {"results": results, "metadata": metadata,
                "verdict": lcb_grader.classify(results, metadata)}, source

    def grade(self, job):
        problem = self.problems.get(job["problem"])
        if problem is None:
            return {"error": "unknown problem key " + str(job["problem"])}
        start = time.monotonic()
        reply, source = self._without_child(job, problem)
        if reply is not None:
            reply["elapsed"] = time.monotonic() - start
            return reply
        os.makedirs(self.rundir, exist_ok=True)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            self._run_child(job, problem, wfd, source)
        os.close(wfd)
        deadline = start + problem["wall_limit"]
        chunks, size, timed_out = [], 0, False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([rfd], [], [], left)
            if not ready:
                continue
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > RESULT_CAP:
                break
            chunks.append(chunk)
        os.close(rfd)
        self._kill_all(pid)
        _, status = os.waitpid(pid, 0)
        self._reap()
        elapsed = time.monotonic() - start
        self._clean_rundir()
        reply = {"elapsed": elapsed}
        if timed_out:
            reply["killed"] = "timeout"
        elif size > RESULT_CAP:
            reply["killed"] = "result too large"
        else:
            try:
                reply.update(json.loads(b"".join(chunks) or b"null") or {})
            except ValueError:
                reply["killed"] = "unreadable result"
        if os.WIFSIGNALED(status):
            reply["signal"] = os.WTERMSIG(status)
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
            reply["exit"] = os.WEXITSTATUS(status)
        return reply

    def _kill_all(self, pid):
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.is_init:
            # As init of our PID namespace, -1 reaches every process the child left behind.
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _reap(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def _clean_rundir(self):
        shutil.rmtree(self.rundir, ignore_errors=True)


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Keep protocol output on a private descriptor: nothing a library prints can corrupt it.
    out = os.fdopen(os.dup(stdout.fileno()), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    worker = None
    for line in stdin:
        msg = json.loads(line)
        op = msg.get("op")
        if op == "config":
            worker = Worker(msg)
            reply = {"ready": True, "python": sys.version.split()[0], "numpy": HAVE_NUMPY,
                     "pid1": worker.is_init}
        elif op == "problem":
            worker.problems[msg["key"]] = msg
            continue
        elif op == "forget":
            worker.problems.clear()
            continue
        elif op == "grade":
            reply = worker.grade(msg)
        else:
            reply = {"error": "unknown op " + repr(op)}
        out.write(json.dumps(reply, default=str).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    main()
