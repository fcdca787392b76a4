//! The greedy check that opens a question (unless `--no-skip`): one greedy sample,
//! graded at once; a question it solves is recorded in `skipped.json` and not sampled, as
//! in the reference workflow.

use std::sync::atomic::Ordering;

use crossbeam_channel::Receiver;

use super::grading::grade_all;
use super::permits::GenerationPermit;
use super::question::{QuestionContext, QuestionError, CANCEL_POLL};
use crate::evaluator::GradeRequest;
use crate::generator::{Completion, GenError, GenerationRequest, Prompt, SampleGroup};
use crate::problem::Problem;
use crate::sweep::store::{CompletionRecord, Skipped, FORMAT_VERSION};

/// The random stream of the greedy check (greedy decoding draws nothing; the request still
/// names a stream).
const GREEDY_STREAM: u64 = u64::MAX;

/// How a greedy check ended, when it ends the question.
pub(super) enum GreedyEnd {
    Solved,
    Cancelled,
}

impl<'s, 'a: 's> QuestionContext<'s, 'a> {
    /// Generates one greedy sample and grades it; writes `skipped.json` when it passes.
    /// The question's generation permit is handed back while the sample is graded (the
    /// engine has other questions to run meanwhile) and taken again if sampling follows.
    pub(super) fn greedy_check(
        &self,
        idx: usize,
        problem: &Problem,
        prompt: &Prompt,
        permit: &mut Option<GenerationPermit<'s>>,
    ) -> Result<Option<GreedyEnd>, QuestionError> {
        let request = GenerationRequest {
            shares_prefix_with: None,
            prompt: prompt.clone(),
            groups: vec![SampleGroup {
                params: self.params(0.0),
                n: 1,
                stream: GREEDY_STREAM,
                skip: Vec::new(),
            }],
        };
        let rx = self.generator.submit(request)?;
        let completion = match self.wait_for_greedy(&rx)? {
            Some(c) => c,
            None => return Ok(Some(GreedyEnd::Cancelled)),
        };
        self.note_generated(completion.num_tokens());
        self.observer.greedy_generated(completion.num_tokens());
        drop(permit.take());
        let code = self.plan.settings.extract(problem, &completion.text);
        let grade = grade_all(
            self.evaluator,
            &[GradeRequest {
                problem,
                code: &code,
            }],
        )
        .map_err(QuestionError::GreedyGrading)?
        .pop()
        .expect("grade_all returns one grade per request");
        if grade.passed() {
            let num_tokens = completion.num_tokens();
            let skipped = Skipped {
                question_idx: idx,
                question_id: problem.id().to_owned(),
                question_title: problem.title().to_owned(),
                reason: "greedy_passed".into(),
                greedy: CompletionRecord {
                    raw: completion.text,
                    passed: true,
                    verdict: grade.verdict,
                    finish_reason: completion.finish_reason,
                    num_tokens,
                },
                format_version: FORMAT_VERSION,
            };
            self.store.write(&self.store.skipped_path(idx), &skipped)?;
            return Ok(Some(GreedyEnd::Solved));
        }
        match self.generating.acquire(self.cancel) {
            Some(p) => {
                *permit = Some(p);
                Ok(None)
            }
            None => Ok(Some(GreedyEnd::Cancelled)),
        }
    }

    /// The greedy sample, or `None` once the run is interrupted.
    fn wait_for_greedy(
        &self,
        rx: &Receiver<Result<Completion, GenError>>,
    ) -> Result<Option<Completion>, QuestionError> {
        loop {
            if self.cancel.load(Ordering::SeqCst) {
                return Ok(None);
            }
            match rx.recv_timeout(CANCEL_POLL) {
                Ok(c) => return Ok(Some(c?)),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(QuestionError::Contract(
                        "the generator closed the greedy request".into(),
                    ))
                }
            }
        }
    }
}
