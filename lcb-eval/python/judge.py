"""The judge's half of LiveCodeBench grading: the comparisons of LCB's `run_test`, for a program
that runs in another process (candidate.py) and never sees an expected output.

`Judge(channel).grade(inputs, outputs, fn_name)` returns what `lcb_grader.grade_lcb` returns
for the same program graded in one process: the per-test result list, truncated at the first
failure, and the metadata dict. The program's stdout is compared here with
`lcb_grader._stdout_mismatch`; a functional prediction arrives as data (`candidate.encode`),
is rebuilt by `decode` without running any of the program's code, and compared with `==`.
"""

import json
from decimal import Decimal

from lcb_grader import (RUNNER_ERROR, _as_stored, _failure, _setup_failure, _stdout_mismatch,
                        truncatefn)


class ProtocolError(Exception):
    """The grading child sent something the protocol does not allow (a forged or broken reply)."""


class _ChildSetupFailure(Exception):
    """The child hit LCB's setup failure: `[-4]` "Error during testing"."""


class _ChildRunnerError(Exception):
    """A BaseException escaped the child's program: LCB's child dies without a report."""


class _Opaque:
    """A prediction of a type that compares by identity: equal to nothing the judge holds."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return NotImplemented

    __hash__ = object.__hash__

    def __repr__(self):
        return "<%s object>" % (self.name,)


def decode(data):
    """Rebuilds a prediction encoded by `candidate.encode`; runs no code of the program."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    tag, value = data.get("$"), data.get("v")
    if tag == "tuple":
        return tuple(decode(item) for item in value)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in value}
    if tag == "set":
        return {decode(item) for item in value}
    if tag == "frozenset":
        return frozenset(decode(item) for item in value)
    if tag == "bytes":
        import base64
        return base64.b64decode(value)
    if tag == "complex":
        return complex(value[0], value[1])
    if tag == "decimal":
        return Decimal(value)
    if tag == "fraction":
        from fractions import Fraction
        return Fraction(value[0], value[1])
    if tag in ("ndarray", "npscalar"):
        import numpy
        dtype = numpy.dtype(data["dtype"])
        # A dtype the child names could ask for gigabytes per element.
        if dtype.kind not in "biufcSU" or dtype.itemsize > 1 << 16:
            raise ProtocolError("numpy dtype %r" % (dtype,))
        if tag == "npscalar":
            return dtype.type(decode(value))
        array = numpy.array(decode(value), dtype=dtype)
        shape = data.get("shape")
        if isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape):
            array = array.reshape(shape)
        return array
    if tag == "opaque":
        return _Opaque(str(data.get("type")))
    raise ProtocolError("unknown value tag %r" % (tag,))


def _failure_from_repr(results: list, error_repr, test_input, expected) -> tuple:
    """`_failure` for an exception raised in the child, known by its repr."""
    error_repr = str(error_repr)
    code = -3 if "timeoutexception" in error_repr.lower() else -4
    results.append(code)
    return results, {
        "error": error_repr,
        "error_code": code,
        "error_message": "Time Limit Exceeded" if code == -3 else "Runtime Error",
        "inputs": truncatefn(test_input),
        "expected": truncatefn(expected),
    }


def _seconds(value) -> float:
    """A child's reported seconds; anything but a finite non-negative number counts as 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    try:
        seconds = float(value)
    except OverflowError:
        return 0.0
    return seconds if 0.0 <= seconds < float("inf") else 0.0


class Judge:
    """The comparing half of LCB's `run_test`, for a program run by candidate.py in a child that
    never sees an expected output.

    `channel` sends frames to the child and receives its replies (`send(obj)`,
    `receive() -> dict`); a dead or silent child raises out of it and is the caller's to
    handle. Results and metadata are what `grade_lcb` returns for the same program in one
    process, with one documented difference: a functional prediction is compared by value
    after it crossed the process boundary (`candidate.encode`), so an object whose own `==`
    would claim equality is not asked.
    """

    def __init__(self, channel):
        self.channel = channel

    def _receive(self, *kinds):
        msg = self.channel.receive()
        kind = msg.get("k")
        if kind == "setup":
            raise _ChildSetupFailure(str(msg.get("msg")))
        if kind == "runner":
            raise _ChildRunnerError()
        if kind not in kinds:
            raise ProtocolError("unexpected reply %r" % (kind,))
        return msg

    def grade(self, inputs: list, outputs: list, fn_name) -> tuple:
        try:
            self._receive("ready")
            try:
                if fn_name is None:
                    results, metadata = self._stdio(inputs, outputs)
                else:
                    results, metadata = self._call_based(inputs, outputs)
            except (ProtocolError, _ChildSetupFailure, _ChildRunnerError):
                raise
            except _ComparisonEscaped as escaped:  # as LCB's run_test: a setup failure
                return _setup_failure(escaped.error)
        except _ChildSetupFailure as failure:
            return [-4], {"error_code": -4, "error_message": str(failure)}
        except _ChildRunnerError:
            return RUNNER_ERROR[0][:], dict(RUNNER_ERROR[1])
        return _as_stored(results), metadata

    def _stdio(self, inputs, outputs):
        results, elapsed = [], 0.0
        for test_input, expected in zip(inputs, outputs):
            self.channel.send({"op": "test", "input": test_input})
            msg = self._receive("out", "err")
            if msg["k"] == "err":
                return _failure_from_repr(results, msg.get("repr"), test_input, expected)
            text = msg.get("text")
            if not isinstance(text, str):
                raise ProtocolError("stdout is not text")
            try:
                mismatch = _stdout_mismatch(text, expected)
            except Exception as error:  # noqa: BLE001 - sNaN: escapes to run_test in LCB
                raise _ComparisonEscaped(error) from None
            if mismatch is not None:
                results.append(-2)
                return results, {
                    "output": truncatefn(text),
                    "inputs": truncatefn(test_input),
                    "expected": truncatefn(expected),
                    "error_code": -2,
                    "error_message": mismatch,
                }
            elapsed += _seconds(msg.get("t"))
            results.append(True)
        return results, {"execution time": elapsed}

    def _call_based(self, inputs, outputs):
        try:
            all_args = [[json.loads(line) for line in text.split("\n")] for text in inputs]
            all_expected = [json.loads(text) for text in outputs]
        except Exception as error:  # noqa: BLE001 - bad test JSON: LCB's setup failure
            raise _ComparisonEscaped(error) from None
        results, elapsed = [], 0.0
        for test_input, args, expected in zip(inputs, all_args, all_expected):
            self.channel.send({"op": "test", "input": test_input})
            msg = self._receive("val", "err")
            if msg["k"] == "err":
                return _failure_from_repr(results, msg.get("repr"), args, expected)
            elapsed += _seconds(msg.get("t"))
            try:
                same = decode(msg.get("v")) == expected
                results.append(same)
                wrong = not same
            except ProtocolError:
                raise
            except Exception as error:  # noqa: BLE001 - graded, as LCB (e.g. numpy truth)
                return _failure(results, error, args, expected)
            if not wrong:
                continue
            self.channel.send({"op": "show"})
            shown = self._receive("shown", "err")
            if shown["k"] == "err":
                return _failure_from_repr(results, shown.get("repr"), args, expected)
            return results, {
                "output": str(shown.get("text")),
                "inputs": truncatefn(args),
                "expected": truncatefn(expected),
                "error_code": -2,
                "error_message": "Wrong Answer",
            }
        self.channel.send({"op": "stop"})
        return results, {"execution time": elapsed}


class _ComparisonEscaped(Exception):
    """An error of the judge's own comparison that LCB lets escape to `run_test`."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error
