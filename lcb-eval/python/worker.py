"""lcb grading worker: the judge. A pre-started Python process that holds the problems' tests,
has each program run by a grading child that never sees them, and compares what comes back.

lcb (Rust) starts this script inside its sandbox (namespaces, Landlock, rlimits) and talks to
it over stdin/stdout, one JSON object per line:

  -> {"op": "config", ...}             once, first; reply {"ready": true, ...}
  -> {"op": "problem", "key", ...}     remember a problem's tests (no reply)
  -> {"op": "forget"}                  drop remembered problems (no reply)
  -> {"op": "grade", "problem", "code", "timeout"}   reply: one result object

A program that does not even compile is answered here, without a child: compiling runs none
of its code, and at high temperatures most samples are such programs (`lcb_grader` answers only
when the child would certainly answer the same). Every other program runs in a child forked by
the zygote (zygote.py): an interpreter this process starts by `exec` on "config", before any
problem arrives, so no child ever has a test's expected output in its memory. The judge sends
the child one test input at a time (candidate.py has the protocol), compares each output with
the expected one itself (`judge.Judge`), and stops at the first failure, as LCB does; the
child runs all tests of a program in one process, so module state carries over as in LCB.
This process waits with a wall-clock deadline and kills the child's process group on timeout.
"""

import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import candidate  # noqa: E402  (needs the path above)
import judge  # noqa: E402
import lcb_grader  # noqa: E402

try:
    import numpy  # noqa: F401  (the judge rebuilds numpy predictions; LCB's environment has it)
    HAVE_NUMPY = True
except ImportError:
    HAVE_NUMPY = False

HERE = os.path.dirname(os.path.abspath(__file__))

# Seconds the judge waits for the zygote to answer a spawn or a reap.
ZYGOTE_TIMEOUT = 10.0


class ChildGone(Exception):
    """The child closed its pipe, sent something unreadable, or the deadline passed."""

    def __init__(self, killed=None, crash=None):
        super().__init__(killed or crash)
        self.killed = killed
        self.crash = crash


class Zygote:
    """The judge's handle on zygote.py, restarted if a candidate manages to kill it."""

    def __init__(self, config):
        self.config = config
        self.proc = None
        self.sock = None

    def _start(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", os.path.join(HERE, "zygote.py"), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, close_fds=True)
        theirs.close()
        # A zygote that does not answer (stopped by a program on a kernel without Landlock
        # signal scopes) is replaced rather than waited for.
        ours.settimeout(ZYGOTE_TIMEOUT)
        self.sock = ours
        keys = ("rundir", "seccomp", "timer", "wall_factor")
        config = {k: self.config[k] for k in keys if k in self.config}
        self.sock.send(json.dumps(dict(config, op="config")).encode())

    def _ask(self, request, fds=()):
        for attempt in (0, 1):
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
                reply = self.sock.recv(1 << 16)
                if reply:
                    return json.loads(reply)
            except OSError:
                pass
            self.stop()
            if request.get("op") != "spawn":
                return {}
        raise OSError("the zygote does not answer")

    def spawn(self, rfd, wfd):
        return self._ask({"op": "spawn"}, (rfd, wfd))["pid"]

    def reap(self, pid):
        return self._ask({"op": "reap", "pid": pid}).get("status")

    def stop(self):
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait()
            except OSError:
                pass
            self.proc = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Channel:
    """The judge's two pipe ends to one child, every read bounded by the program's deadline."""

    def __init__(self, to_child, from_child, deadline):
        self.to_child, self.from_child, self.deadline = to_child, from_child, deadline
        os.set_blocking(to_child, False)

    def send(self, obj):
        """Writes one frame, never blocking past the deadline (a child that stops reading
        cannot hang the judge)."""
        data = json.dumps(obj, default=str).encode()
        data = struct.pack("<I", len(data)) + data
        view = memoryview(data)
        while view:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ChildGone("timeout")
            _, ready, _ = select.select([], [self.to_child], [], left)
            if not ready:
                continue
            try:
                written = os.write(self.to_child, view[:1 << 16])
            except BlockingIOError:
                continue
            except OSError:
                raise ChildGone() from None
            view = view[written:]

    def _read_exact(self, size):
        chunks = []
        while size:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ChildGone("timeout")
            ready, _, _ = select.select([self.from_child], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_child, min(size, 1 << 20))
            if not chunk:
                raise ChildGone()
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def receive(self):
        (size,) = struct.unpack("<I", self._read_exact(4))
        if size > candidate.FRAME_CAP:
            raise ChildGone("result too large")
        try:
            msg = json.loads(self._read_exact(size))
        except (ValueError, RecursionError, MemoryError):
            # Malformed, nested past any limit, or too big to hold: either way, no result.
            raise ChildGone("unreadable result") from None
        if not isinstance(msg, dict):
            raise ChildGone("unreadable result")
        if "crash" in msg and len(msg) == 1:
            # lcb's own code failed in the child before the program ran (zygote.py).
            raise ChildGone(crash=str(msg["crash"]))
        return msg


class Worker:
    def __init__(self, config):
        self.config = config
        self.rundir = config["rundir"]
        self.is_init = os.getpid() == 1
        self.seccomp = bool(config.get("seccomp"))
        self.problems = {}
        lcb_grader.configure_timer(config.get("timer", "cpu"), config.get("wall_factor", 2.0))
        self.zygote = Zygote(config)
        self.zygote._start()

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
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            pid = self.zygote.spawn(to_child_r, from_child_w)
        except OSError as error:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            return {"crash": "cannot start a grading child: %s" % (error,),
                    "elapsed": time.monotonic() - start}
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        channel = Channel(to_child_w, from_child_r, start + problem["wall_limit"])
        reply = {}
        try:
            channel.send({"mode": problem["mode"], "code": job["code"], "source": source,
                          "fn_name": problem.get("fn_name"), "timeout": job["timeout"],
                          "cpu_limit": problem.get("cpu_limit", 60)})
            if problem["mode"] == "humaneval":
                msg = channel.receive()
                reply = {"status": msg.get("status"), "detail": msg.get("detail")}
            else:
                results, metadata = judge.Judge(channel).grade(
                    problem["inputs"], problem["outputs"], problem.get("fn_name"))
                reply = {"results": results, "metadata": metadata,
                         "verdict": lcb_grader.classify(results, metadata)}
        except ChildGone as gone:
            if gone.killed:
                reply = {"killed": gone.killed}
            elif gone.crash:
                reply = {"crash": gone.crash}
        except judge.ProtocolError:
            # A reply the protocol does not allow: the program wrote to the judge's pipe.
            reply = {"killed": "unreadable result"}
        except (RecursionError, MemoryError, OverflowError):
            # A result the judge cannot even rebuild or compare (nested past any limit,
            # astronomically large): the child's, not the judge's, failure.
            reply = {"killed": "unreadable result"}
        except Exception as error:  # noqa: BLE001 - a judge bug must not kill the worker
            reply = {"crash": "judge: %r" % (error,)}
        finally:
            os.close(to_child_w)
            os.close(from_child_r)
        status = self._kill_and_reap(pid)
        reply["elapsed"] = time.monotonic() - start
        self._clean_rundir()
        if not reply.keys() & {"results", "status", "crash"} and status is not None:
            if os.WIFSIGNALED(status):
                reply["signal"] = os.WTERMSIG(status)
            elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
                reply["exit"] = os.WEXITSTATUS(status)
        return reply

    def _kill_and_reap(self, pid):
        """Kills the child's process group and returns its wait status (None if unknown)."""
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not (self.is_init and not self.seccomp):
            return self.zygote.reap(pid)
        # Without seccomp a child could have left processes behind: as init of our PID
        # namespace, -1 reaches all of them, the zygote too (restarted on demand). The child
        # is then ours to reap: orphans are re-parented to init.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.zygote.stop()
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = None
        self._reap()
        return status

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
    # The judge parses tests and predictions as LCB's grading process does: integers of up
    # to LCB's digit limit, and nesting as deep as the child's recursion limit allows.
    if hasattr(sys, "set_int_max_str_digits"):  # Python 3.11+
        sys.set_int_max_str_digits(lcb_grader.INT_MAX_STR_DIGITS)
    sys.setrecursionlimit(50000)
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
