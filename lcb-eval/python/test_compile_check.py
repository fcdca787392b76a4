#!/usr/bin/env python3
"""Differential test of the worker's compile check: answering without a child must change
nothing.

For every program below, the worker's `_without_child` (the check it runs before forking) is
compared with grading the program the old way, entirely in a forked child
(`lcb_grader.grade_lcb` / `grade_humaneval` computing everything themselves). Where the check
answers, its answer must equal the child's, field for field; where it does not, the child
grades with the source the worker prepared, which must equal the one the child computes.

Run by `lcb-eval/tests/compile_check.rs` with the Python lcb grades with; by hand:
`python3 lcb-eval/python/test_compile_check.py`. The last line printed is
"N programs, M answered without a child, K mismatches"; the exit status is non-zero on any
mismatch.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lcb_grader  # noqa: E402  (needs the path above)
import worker  # noqa: E402

TIMEOUT = 3.0

STDIN_TESTS = (["1 2\n", "5 7\n"], ["3\n", "12\n"])
CALL_TESTS = (["1\n2", "5\n7"], ["3", "12"])

# (name, code, functional?) — syntax errors of every kind the parser and the symbol table
# report, programs that compile, and the cases the check must leave to the child.
PROGRAMS = [
    ("valid stdin", "a, b = map(int, input().split())\nprint(a + b)", False),
    ("valid with main guard",
     "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n"
     "if __name__ == '__main__':\n    main()", False),
    ("valid functional",
     "class Solution:\n    def add(self, a, b):\n        return a + b", True),
    ("unbalanced bracket", "n = int(input()\nprint(n)", False),
    ("mismatched brackets", "x = [1, 2)\nprint(x)", False),
    ("bad operator", "def %= lenf int(x)\n", False),
    ("bad indentation", "for i in range(3):\nprint(i)", False),
    ("unexpected indent", "x = 1\n    y = 2\nprint(x)", False),
    ("tab/space mix", "if True:\n\tx = 1\n        y = 2\n", False),
    ("unterminated string", "print('abc)\n", False),
    ("unterminated triple quote", 's = """abc\nprint(s)\n', False),
    ("invalid character", "x = 1 ‚ 2\nprint(x)", False),
    ("keyword as name", "class = 3\nprint(class)", False),
    ("walrus misuse", "x := 5\nprint(x)", False),
    ("empty def body", "def f():\n", False),
    ("lone else", "else:\n    pass\n", False),
    ("global after assignment",
     "x = 1\ndef f():\n    x = 2\n    global x\n", False),
    ("nonlocal at module level", "nonlocal x\n", True),
    ("return outside function (functional)", "return 5\n", True),
    ("yield outside function (functional)", "yield 5\n", True),
    ("await outside async", "def f():\n    await g()\n", True),
    ("break outside loop (functional)", "break\n", True),
    ("broken functional", "class Solution:\n    def add(self, a, b)\n        return a + b", True),
    ("assignment to literal", "1 = x\n", False),
    ("starred alone", "*a\n", False),
    ("duplicate argument", "def f(a, a):\n    pass\n", False),
    ("huge int literal (allowed by LCB's limit)", "x = " + "7" * 5000 + "\nprint(1)", False),
    ("huge int literal beyond LCB's limit", "x = " + "7" * 60000 + "\nprint(1)", False),
    ("null byte", "x = 1\x00\nprint(x)", False),
    ("too many parentheses", "x = " + "(" * 300 + "1" + ")" * 300 + "\nprint(x)", False),
    ("deep unary chain", "x = " + "-" * 100000 + "1\nprint(x)", False),
    ("markdown left in", "```python\nprint(1)\n```", False),
    ("prose", "Here is the solution: it reads n and prints it.", False),
    ("empty", "", False),
    ("only comment", "# nothing", False),
    ("syntax warning only", "x = 1\nif x is 1:\n    print('\\d')\n", False),
    ("f-string error", "x = 1\nprint(f'{x!z}')\n", False),
]

HUMANEVAL = [
    ("valid", "def add(a, b):\n    return a + b\n"),
    ("syntax error", "def add(a, b)\n    return a + b\n"),
    ("bad indentation", "def add(a, b):\nreturn a + b\n"),
    ("huge int literal (beyond the default limit)", "X = " + "7" * 5000 + "\n"),
    ("null byte", "def add(a, b):\n    return a + b\x00\n"),
]
HUMANEVAL_TEST = "\n\ndef check(f):\n    assert f(1, 2) == 3\n\ncheck(add)\n"


def in_child(function):
    """Runs `function()` in a forked child with the standard streams on /dev/null; returns
    its JSON-encoded result (as the worker's protocol carries it)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        status = 0
        try:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            data = json.dumps(function(), default=str).encode()
            while data:
                data = data[os.write(wfd, data):]
        except BaseException:  # noqa: BLE001 - reported as an empty result
            status = 3
        os._exit(status)
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks) or b"null")


def roundtrip(value):
    return json.loads(json.dumps(value, default=str))


def main():
    lcb_grader.configure_timer("cpu", 2.0)
    checked = answered = 0
    mismatches = []
    for name, code, functional in PROGRAMS:
        fn_name = "add" if functional else None
        inputs, outputs = CALL_TESTS if functional else STDIN_TESTS
        problem = {"mode": "lcb", "inputs": inputs, "outputs": outputs, "fn_name": fn_name}
        job = {"code": code, "timeout": TIMEOUT}
        reply, source = worker.Worker._without_child(job, problem)

        def old_way():
            results, metadata = lcb_grader.grade_lcb(code, inputs, outputs, fn_name, TIMEOUT)
            return {"results": results, "metadata": metadata,
                    "verdict": lcb_grader.classify(results, metadata)}

        def child_source():
            if hasattr(sys, "set_int_max_str_digits"):
                sys.set_int_max_str_digits(lcb_grader.INT_MAX_STR_DIGITS)
            if fn_name is None:
                return lcb_grader.make_function(lcb_grader.clean_if_name(code))
            return lcb_grader.IMPORT_PRELUDE + "\n\n" + code

        checked += 1
        expected = in_child(old_way)
        if source != in_child(child_source):
            mismatches.append("%s: the worker prepared another source than the child" % name)
        if reply is not None:
            answered += 1
            if roundtrip(reply) != expected:
                mismatches.append("%s: check %r, child %r" % (name, reply, expected))
    for name, body in HUMANEVAL:
        program = body + HUMANEVAL_TEST
        job = {"code": program, "timeout": TIMEOUT}
        reply, _ = worker.Worker._without_child(job, {"mode": "humaneval"})
        expected = in_child(lambda: dict(zip(("status", "detail"),
                                             lcb_grader.grade_humaneval(program, TIMEOUT))))
        checked += 1
        if reply is not None:
            answered += 1
            if roundtrip(reply) != expected:
                mismatches.append("humaneval %s: check %r, child %r" % (name, reply, expected))
    for line in mismatches:
        print("MISMATCH", line)
    print("%d programs, %d answered without a child, %d mismatches"
          % (checked, answered, len(mismatches)))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
