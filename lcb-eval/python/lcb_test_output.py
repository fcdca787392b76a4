"""lcb_runner's test-output-prediction check, run inside lcb's sandbox.

`parse_assert_statement` and `check_testcase_output` are copied verbatim from
`lcb_runner/evaluation/compute_test_output_prediction_metrics.py` (LiveCodeBench commit
28fef95), because their quirks are the metric: the prediction is `eval`ed with this module's
globals and the function's locals in scope, an unparsable one counts as a failure, and the
expected output is `json.loads`ed. lcb_runner evaluates model output in its own process; lcb
runs this module in a sandboxed grading child instead. `passes` adds the pass rule of
`pass_k_utils.compute_metrics_from_results` (`np.all(np.array([result]) > 0)`).

Only `ast` and `json` are imported at module level, as upstream (which also has `tqdm` and
`compute_metrics_from_results` there; a prediction naming them compares unequal either way).
"""

import ast
import json


def parse_assert_statement(statement):
    """
    Parse a Python assert statement and extract the expected output
    from the right side of the '==' operator as a string.

    :param statement: A string containing the assert statement.
    :return: The expected output from the assert statement as a string.
    """
    try:
        parsed = ast.parse(statement, mode="exec")
    except SyntaxError:
        return "Invalid syntax"

    if len(parsed.body) == 0:
        return "Empty statement"

    if not isinstance(parsed.body[0], ast.Assert):
        return "Not an assert statement"

    comparison = parsed.body[0].test

    if not isinstance(comparison, ast.Compare) or not isinstance(
        comparison.ops[0], ast.Eq
    ):
        return "Not an equality assertion"

    # Extract and return the right side of the '==' operator as a string
    return ast.get_source_segment(statement, comparison.comparators[0])


def check_testcase_output(testcase_str, expected_output):

    if len(testcase_str.splitlines()) > 1:
        for line in testcase_str.splitlines():
            if line.startswith("#"):
                continue
            if "assert" in line:
                testcase_str = line
                break

    testcase_str = testcase_str.strip()

    if "assert" in testcase_str:
        testcase_output_str = str(parse_assert_statement(testcase_str))

    else:
        testcase_output_str = testcase_str

    global_result = None

    try:
        testcase_output_eval = eval(testcase_output_str)
    except:
        global_result = False
        # print("Failed to eval testcase output", testcase_output_str)
        # breakpoint()

    try:
        expected_output_eval = json.loads(expected_output)
    except:
        global_result = False
        print("Failed to eval expected testcase output", expected_output)

    if global_result is None:
        global_result = testcase_output_eval == expected_output_eval

    return global_result


def passes(prediction, expected_output):
    """Whether lcb_runner counts `prediction` correct for a test whose output is `expected_output`."""
    import numpy as np

    result = check_testcase_output(prediction, expected_output)
    return bool(np.all(np.array([result]) > 0))
