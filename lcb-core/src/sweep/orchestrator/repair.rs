//! Self-repair, LiveCodeBench's second turn of code generation: each sample of a finished
//! code-generation tree that failed is shown to the model again, with the grader's feedback,
//! and the model's fix is graded; a sample that passed stands as it is (lcb_runner keeps its
//! output and grades it again). Sample `j` of this tree at temperature `T` is the repair of
//! sample `j` of the source tree at `T`, drawn at `T`.
//!
//! Every repair prompt of a question begins with the same system message and question, so
//! each request names that head as its anchor (`shares_prefix_with`) and the engine prefills
//! it once per question.

use crossbeam_channel::{Receiver, Select};

use super::grading::grade_all;
use super::question::{sample_stream, QuestionContext, QuestionError};
use crate::evaluator::GradeRequest;
use crate::generator::{Completion, GenError, GenerationRequest, Prompt, SampleGroup};
use crate::problem::Problem;
use crate::prompt::self_repair;
use crate::sweep::store::{CompletionRecord, ResultStore, TemperatureResult};

/// What one temperature of a question asks for: a request per failed source sample (sample
/// index, request), and the passing source samples that stand as they are.
pub(super) struct RepairWork {
    pub requests: Vec<(usize, GenerationRequest)>,
    pub given: Vec<(usize, CompletionRecord)>,
}

/// The prompt a question's repair prompts share: the system message and the question. It
/// is the question's recorded prompt.
pub(super) fn anchor(problem: &Problem, thinking: bool) -> Result<Prompt, QuestionError> {
    let Problem::Lcb(p) = problem else {
        return Err(QuestionError::Contract(format!(
            "self-repair runs on code-generation problems; `{}` is a {} problem",
            problem.id(),
            problem.family()
        )));
    };
    Ok(Prompt::Chat {
        messages: self_repair::shared_head(&p.question_content),
        enable_thinking: thinking,
    })
}

/// Merges the completion channels of several requests into one, each completion's `group`
/// set to its request's group; the merged channel closes when every request's has.
pub(super) fn merge(
    receivers: Vec<(Receiver<Result<Completion, GenError>>, usize)>,
) -> Receiver<Result<Completion, GenError>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("lcb-repair-merge".into())
        .spawn(move || {
            let mut live = receivers;
            while !live.is_empty() {
                let mut select = Select::new();
                for (r, _) in &live {
                    select.recv(r);
                }
                let op = select.select();
                let i = op.index();
                match op.recv(&live[i].0) {
                    Ok(Ok(mut c)) => {
                        c.group = live[i].1;
                        if tx.send(Ok(c)).is_err() {
                            return; // The question ended: dropping the requests cancels them.
                        }
                    }
                    Ok(Err(e)) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    Err(_) => {
                        live.swap_remove(i);
                    }
                }
            }
        })
        .expect("spawning a thread");
    rx
}

impl<'s, 'a: 's> QuestionContext<'s, 'a> {
    /// The source tree's samples of question `idx` at `temperature`.
    pub(super) fn repair_source(
        &self,
        from: &str,
        idx: usize,
        problem: &Problem,
        temperature: f64,
    ) -> Result<Vec<CompletionRecord>, QuestionError> {
        let n = self.plan.settings.n;
        let store = ResultStore::new(from);
        let path = store.temperature_path(idx, temperature, n);
        let result: TemperatureResult = store.read(&path)?.ok_or_else(|| {
            QuestionError::Contract(format!(
                "{} is missing: self-repair needs a finished code-generation tree with n = {n} at every temperature",
                path.display()
            ))
        })?;
        if result.question_id != problem.id() || result.completions.len() != n {
            return Err(QuestionError::Contract(format!(
                "{} holds {} samples of `{}`, not {n} of `{}`",
                path.display(),
                result.completions.len(),
                result.question_id,
                problem.id()
            )));
        }
        Ok(result.completions)
    }

    /// The repair requests of one temperature: every failed source sample not in `have`,
    /// with the grader's feedback on it (graded again here, which the verdict cache makes
    /// cheap, to get the metadata the tree does not keep), and the passing ones, given.
    pub(super) fn repair_work(
        &self,
        problem: &Problem,
        temperature: f64,
        source: &[CompletionRecord],
        have: &[bool],
    ) -> Result<RepairWork, QuestionError> {
        let Problem::Lcb(lcb) = problem else {
            unreachable!("anchor() refused other problems")
        };
        let settings = &self.plan.settings;
        let wanted: Vec<usize> = (0..source.len()).filter(|&j| !have[j]).collect();
        let (given, failed): (Vec<usize>, Vec<usize>) =
            wanted.into_iter().partition(|&j| source[j].passed);
        let codes: Vec<String> = failed
            .iter()
            .map(|&j| settings.extract(problem, &source[j].raw))
            .collect();
        let requests: Vec<GradeRequest<'_>> = codes
            .iter()
            .map(|code| GradeRequest { problem, code })
            .collect();
        let grades = grade_all(self.evaluator, &requests).map_err(QuestionError::Grading)?;
        let anchor = anchor(problem, settings.thinking)?;
        let mut out = RepairWork {
            requests: Vec::with_capacity(failed.len()),
            given: given.iter().map(|&j| (j, source[j].clone())).collect(),
        };
        for ((&j, code), grade) in failed.iter().zip(&codes).zip(grades) {
            // lcb_runner reads each sample's metadata as a JSON string; a program killed
            // before reporting has none (no feedback, as for metadata without an error code).
            let metadata = grade
                .metadata
                .map(|m| m.to_string())
                .unwrap_or_else(|| "{}".into());
            let feedback = self_repair::feedback(&metadata).unwrap_or_else(|why| {
                self.observer.warn(&format!(
                    "q{} sample {j} at T={temperature}: lcb_runner would fail on this sample's feedback ({why}); repairing it without feedback",
                    problem.id()
                ));
                String::new()
            });
            let prompt = Prompt::Chat {
                messages: self_repair::messages(&lcb.question_content, code, &feedback),
                enable_thinking: settings.thinking,
            };
            // Sample j of its temperature's stream: n = j + 1 without 0..j draws exactly it.
            let group = SampleGroup {
                params: self.params(temperature),
                n: j + 1,
                stream: sample_stream(problem.id(), temperature),
                skip: (0..j).collect(),
            };
            out.requests.push((
                j,
                GenerationRequest {
                    prompt,
                    groups: vec![group],
                    shares_prefix_with: Some(anchor.clone()),
                },
            ));
        }
        Ok(out)
    }
}
