use super::*;
use crate::hub_mock::MockHub;
use crate::problem::{TestCase, TestType};
use serde_json::json;

fn stdin_test(input: &str, output: &str) -> TestCase {
    TestCase {
        input: input.into(),
        output: output.into(),
        testtype: TestType::Stdin,
    }
}

/// A row exactly as the dataset stores it (every field a string).
fn lcb_row(id: &str, date: &str, func_name: Option<&str>) -> serde_json::Value {
    let public = vec![stdin_test("1\n", "2\n")];
    let private = vec![stdin_test("2\n", "3\n"), stdin_test("5\n", "6\n")];
    let metadata = match func_name {
        Some(f) => json!({ "func_name": f }),
        None => json!({}),
    };
    json!({
        "question_title": format!("Title {id}"),
        "question_content": "Add one.",
        "platform": "atcoder",
        "question_id": id,
        "contest_id": "abc000",
        "contest_date": date,
        "starter_code": "",
        "difficulty": "easy",
        "public_test_cases": lcb::python_json_dumps(&serde_json::to_value(&public).unwrap()),
        "private_test_cases": lcb::encode_private_tests(&private),
        "metadata": metadata.to_string(),
    })
}

fn write_lines(path: &Path, rows: &[serde_json::Value]) {
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn loads_lcb_rows_in_benchmark_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    write_lines(
        &path,
        &[
            lcb_row("abc301_a", "2023-08-21T00:00:00", None),
            lcb_row("3708", "2025-01-11T18:30:00", Some("zigzag")),
            lcb_row("1873_A", "2023-08-21T00:00:00", None),
        ],
    );
    let set = load_files(&[path]).unwrap();
    let ids: Vec<_> = set.problems().iter().map(|p| p.id()).collect();
    assert_eq!(ids, vec!["1873_A", "3708", "abc301_a"]);
    let (index, problem) = set.get("3708").unwrap();
    assert_eq!(index, 1);
    let p = problem.as_lcb().unwrap();
    assert_eq!(p.func_name.as_deref(), Some("zigzag"));
    assert_eq!(p.test_type(), TestType::Functional);
    assert_eq!(p.num_tests(), 3);
    assert_eq!(
        p.tests().next().unwrap().input,
        "1\n",
        "public tests come first"
    );
}

#[test]
fn date_window_filters_lcb_problems() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    write_lines(
        &path,
        &[
            lcb_row("a", "2025-01-01T00:00:00", None),
            lcb_row("b", "2025-04-30T18:30:00", None),
            lcb_row("c", "2024-06-01T00:00:00", None),
        ],
    );
    let set = load_files(&[path]).unwrap();
    let window = DateWindow::parse(Some("2025-01-01"), Some("2025-04-30")).unwrap();
    let kept = set.filter_dates(&window).unwrap();
    let ids: Vec<_> = kept.problems().iter().map(|p| p.id()).collect();
    assert_eq!(ids, vec!["a"]);
}

#[test]
fn missing_field_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let mut bad = lcb_row("x", "2025-01-01T00:00:00", None);
    bad.as_object_mut().unwrap().remove("private_test_cases");
    write_lines(&path, &[lcb_row("y", "2025-01-01T00:00:00", None), bad]);
    let err = load_files(&[path]).unwrap_err().to_string();
    assert!(
        err.contains("p.jsonl:2: field `private_test_cases`: missing"),
        "{err}"
    );
}

#[test]
fn bad_metadata_and_dates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let mut bad = lcb_row("x", "2025-01-01T00:00:00", None);
    bad["metadata"] = json!("{not json");
    write_lines(&path, &[bad]);
    let err = load_files(std::slice::from_ref(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains(":1: field `metadata`"), "{err}");
    write_lines(&path, &[lcb_row("x", "yesterday", None)]);
    let err = load_files(&[path]).unwrap_err().to_string();
    assert!(err.contains("field `contest_date`"), "{err}");
}

#[test]
fn duplicate_ids_and_mixed_families_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    write_lines(
        &path,
        &[
            lcb_row("x", "2025-01-01T00:00:00", None),
            lcb_row("x", "2025-01-01T00:00:00", None),
        ],
    );
    let err = load_files(std::slice::from_ref(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than once"), "{err}");
    let he = json!({"task_id": "T/0", "prompt": "", "canonical_solution": "", "test": "", "entry_point": "f"});
    write_lines(&path, &[lcb_row("x", "2025-01-01T00:00:00", None), he]);
    let err = load_files(&[path]).unwrap_err().to_string();
    assert!(
        err.contains(":2: a HumanEval row in a file of LiveCodeBench rows"),
        "{err}"
    );
}

#[test]
fn loads_humaneval_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("he.jsonl");
    let row = |id: &str| json!({"task_id": id, "prompt": "def f(x):\n", "canonical_solution": "    return x\n", "test": "def check(c):\n    assert c(1) == 1\n", "entry_point": "f"});
    write_lines(&path, &[row("HumanEval/10"), row("HumanEval/2")]);
    let set = load_files(&[path]).unwrap();
    let ids: Vec<_> = set.problems().iter().map(|p| p.id()).collect();
    assert_eq!(ids, vec!["HumanEval/10", "HumanEval/2"]);
    let Problem::HumanEval(p) = &set.problems()[0] else {
        panic!("family")
    };
    assert_eq!(
        p.program("    return x\n"),
        "def f(x):\n    return x\n\ndef check(c):\n    assert c(1) == 1\n\ncheck(f)"
    );
}

#[test]
fn source_parsing_distinguishes_paths_and_hub_refs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    std::fs::write(&path, "").unwrap();
    assert_eq!(
        ProblemSource::parse(path.to_str().unwrap()).unwrap(),
        ProblemSource::Path(path.clone())
    );
    assert_eq!(
        ProblemSource::parse("livecodebench/code_generation_lite@v6").unwrap(),
        ProblemSource::Hub {
            repo: "livecodebench/code_generation_lite".into(),
            tag: "v6".into()
        }
    );
    assert!(ProblemSource::parse("livecodebench/code_generation_lite@v9").is_err());
    let err = ProblemSource::parse("/nope/problems.jsonl")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nope/problems.jsonl"), "{err}");
}

#[test]
fn hub_reference_downloads_the_tagged_shards() {
    let hub = MockHub::start();
    let repo = "livecodebench/code_generation_lite";
    let shard = |rows: &[serde_json::Value]| -> Vec<u8> {
        rows.iter()
            .map(|r| format!("{r}\n"))
            .collect::<String>()
            .into_bytes()
    };
    hub.add_file(
        repo,
        RepoKind::Dataset,
        "test.jsonl",
        shard(&[lcb_row("b", "2023-05-01T00:00:00", None)]),
    );
    hub.add_file(
        repo,
        RepoKind::Dataset,
        "test2.jsonl",
        shard(&[lcb_row("a", "2024-05-01T00:00:00", None)]),
    );
    let cache = tempfile::tempdir().unwrap();
    let options = HubOptions {
        endpoint: Some(hub.endpoint()),
        cache_dir: Some(cache.path().to_owned()),
        ..Default::default()
    };
    let both = load(
        &ProblemSource::parse(&format!("{repo}@release_v2")).unwrap(),
        &options,
    )
    .unwrap();
    let ids: Vec<_> = both.problems().iter().map(|p| p.id()).collect();
    assert_eq!(ids, vec!["a", "b"]);
    let second = load(
        &ProblemSource::parse(&format!("{repo}@v2")).unwrap(),
        &options,
    )
    .unwrap();
    assert_eq!(second.len(), 1);
    // release_v3 needs test3.jsonl, which the hub lacks: the error names it.
    let err = load(
        &ProblemSource::parse(&format!("{repo}@release_v3")).unwrap(),
        &options,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("test3.jsonl"), "{err}");
}

/// The prediction datasets load from the hub's parquet files, into the same problems as their
/// JSON Lines exports (`fixtures/scenarios/make_parquet.py` wrote the files with the hub's
/// column types).
#[test]
fn prediction_datasets_load_from_the_hubs_parquet_files() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios");
    let hub = MockHub::start();
    for (repo, file, fixture) in [
        (
            "livecodebench/execution-v2",
            "data/test-00000-of-00001.parquet",
            "execution-v2.parquet",
        ),
        (
            "livecodebench/test_generation",
            "test.parquet",
            "test_generation.parquet",
        ),
    ] {
        hub.add_file(
            repo,
            RepoKind::Dataset,
            file,
            std::fs::read(fixtures.join(fixture)).unwrap(),
        );
    }
    let cache = tempfile::tempdir().unwrap();
    let options = HubOptions {
        endpoint: Some(hub.endpoint()),
        cache_dir: Some(cache.path().to_owned()),
        ..Default::default()
    };
    for (repo, jsonl) in [
        ("livecodebench/execution-v2", "execution_fixtures.jsonl"),
        (
            "livecodebench/test_generation",
            "test_output_fixtures.jsonl",
        ),
    ] {
        let from_hub = load(&ProblemSource::parse(repo).unwrap(), &options).unwrap();
        let from_jsonl = load_files(&[fixtures.join(jsonl)]).unwrap();
        assert_eq!(from_hub.len(), from_jsonl.len(), "{repo}");
        for (a, b) in from_hub.problems().iter().zip(from_jsonl.problems()) {
            match (a, b) {
                (Problem::Execution(a), Problem::Execution(b)) => {
                    // The hub's problem_id is a list where the export has text.
                    assert_eq!(
                        a.problem_id,
                        json!(b
                            .problem_id
                            .as_str()
                            .unwrap()
                            .split('_')
                            .map(|p| p.parse::<i64>().unwrap())
                            .collect::<Vec<_>>())
                    );
                    let mut a = a.clone();
                    a.problem_id = b.problem_id.clone();
                    assert_eq!(&a, b);
                }
                (a, b) => assert_eq!(a, b, "{repo}"),
            }
        }
    }
    let err = ProblemSource::parse("livecodebench/execution-v2@v6")
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no release versions"), "{err}");
}

#[test]
fn a_corrupt_parquet_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.parquet");
    std::fs::write(&path, b"PAR1 not really").unwrap();
    let err = load_files(&[path]).unwrap_err().to_string();
    assert!(
        err.contains("rows.parquet: not a readable parquet file"),
        "{err}"
    );
}
