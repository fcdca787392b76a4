//! Self-repair, LiveCodeBench's second turn of code generation: each sample of a finished
//! code-generation tree that failed is shown to the model again, with the grader's feedback,
//! and the model's fix is graded; a sample that passed stands as it is (lcb_runner keeps its
//! output and grades it again). Sample `j` of this tree at temperature `T` is the repair of
//! sample `j` of the source tree at `T`, drawn at `T`.
//!
//! Every repair prompt of a question begins with the same system message and question, so
//! each request names that head as its anchor (`shares_prefix_with`) and the engine prefills
//! it once per question.

use std::collections::VecDeque;

use crossbeam_channel::{Receiver, Select, Sender};

use super::grading::grade_all;
use super::question::{sample_stream, QuestionContext, QuestionError};
use crate::evaluator::GradeRequest;
use crate::generator::{Completion, GenError, GenerationRequest, Generator, Prompt, SampleGroup};
use crate::problem::Problem;
use crate::prompt::self_repair;
use crate::sweep::store::{CompletionRecord, ResultStore, Skipped, TemperatureResult};

/// What one temperature of a question asks for: a repair per failed source sample, and the
/// passing source samples that stand as they are.
pub(super) struct RepairWork {
    pub requests: Vec<Repair>,
    pub given: Vec<(usize, CompletionRecord)>,
}

/// One sample to repair; its request is built only when it is submitted (a question at the
/// reference scale has tens of thousands, each prompt holding the whole question).
pub(super) struct Repair {
    /// The sample's index.
    pub index: usize,
    /// Its temperature's group in the question's merged channel.
    pub group: usize,
    /// The failed program.
    pub code: String,
    /// The grader's feedback on it.
    pub feedback: String,
    /// The question's repair settings.
    pub shared: std::sync::Arc<RepairShared>,
}

/// What every repair of one (question, temperature) shares.
pub(super) struct RepairShared {
    pub question: String,
    pub anchor: Prompt,
    pub params: crate::generator::SamplingParams,
    pub stream: u64,
    pub thinking: bool,
}

impl Repair {
    /// The request: lcb_runner's repair conversation, sample `index` of the repair stream
    /// (`n = index + 1` without the earlier ones draws exactly it), the question's head as
    /// anchor.
    fn request(&self) -> GenerationRequest {
        let s = &self.shared;
        GenerationRequest {
            prompt: Prompt::Chat {
                messages: self_repair::messages(&s.question, &self.code, &self.feedback),
                enable_thinking: s.thinking,
            },
            groups: vec![SampleGroup {
                params: s.params.clone(),
                n: self.index + 1,
                stream: s.stream,
                skip: (0..self.index).collect(),
            }],
            shares_prefix_with: Some(s.anchor.clone()),
        }
    }
}

/// The random stream of repairs at `temperature`: not the source's, whose draws produced
/// the program the prompt shows (reusing them would tie the fix's tokens to the bug's).
pub(super) fn repair_stream(question_id: &str, temperature: f64) -> u64 {
    sample_stream(&format!("{question_id}\0self-repair"), temperature)
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

/// Repair requests a question has in the generator at once: as many as the sweep's default
/// decode slots, few enough that merging their channels stays cheap (a question may have
/// thousands). The engine decodes as many of them at once as it holds prompt caches.
const IN_FLIGHT: usize = 256;

/// A request's, or the merged, completion channel.
pub(super) type Completions = Receiver<Result<Completion, GenError>>;

/// A question's repair requests: submitted [`IN_FLIGHT`] at a time, one more each time one
/// finishes (each has one sample), their completions merged into one channel whose
/// completions carry their temperature's group.
pub(super) struct RepairFeed {
    queue: VecDeque<Repair>,
    /// Hands new requests' channels to the merging thread; dropped when the queue is empty,
    /// so the merged channel closes after the last completion.
    control: Option<Sender<(Completions, usize)>>,
}

impl RepairFeed {
    /// Starts merging and submits the first requests; returns the feed and the merged
    /// channel.
    pub(super) fn start(
        requests: Vec<Repair>,
        generator: &dyn Generator,
    ) -> Result<(RepairFeed, Completions), GenError> {
        let (control, merged) = merge();
        let mut feed = RepairFeed {
            queue: requests.into(),
            control: Some(control),
        };
        for _ in 0..IN_FLIGHT {
            feed.next(generator)?;
        }
        if feed.queue.is_empty() {
            feed.control = None;
        }
        Ok((feed, merged))
    }

    /// Submits the next request, if any (called as each completion arrives).
    pub(super) fn next(&mut self, generator: &dyn Generator) -> Result<(), GenError> {
        if let Some(repair) = self.queue.pop_front() {
            let rx = generator.submit(repair.request())?;
            if let Some(control) = &self.control {
                // The merging thread ends only after the control channel closes.
                let _ = control.send((rx, repair.group));
            }
        }
        if self.queue.is_empty() {
            self.control = None;
        }
        Ok(())
    }
}

/// The merging thread: completions of every channel it is handed, each with its group, into
/// one channel that closes once the control channel has closed and every channel is done.
fn merge() -> (Sender<(Completions, usize)>, Completions) {
    let (control_tx, control) = crossbeam_channel::unbounded::<(Completions, usize)>();
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("lcb-repair-merge".into())
        .spawn(move || {
            let mut live: Vec<(Completions, usize)> = Vec::new();
            let mut control = Some(control);
            while control.is_some() || !live.is_empty() {
                let mut select = Select::new();
                for (r, _) in &live {
                    select.recv(r);
                }
                if let Some(c) = &control {
                    select.recv(c);
                }
                let op = select.select();
                let i = op.index();
                if i == live.len() {
                    let c = control.as_ref().expect("selected");
                    match op.recv(c) {
                        Ok(item) => live.push(item),
                        Err(_) => control = None,
                    }
                    continue;
                }
                match op.recv(&live[i].0) {
                    Ok(Ok(mut c)) => {
                        c.group = live[i].1;
                        if tx.send(Ok(c)).is_err() {
                            // The question ended. Its requests in flight run to their end
                            // (one sample each; the engine notices a dropped request only
                            // when it answers it).
                            return;
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
    (control_tx, rx)
}

impl<'s, 'a: 's> QuestionContext<'s, 'a> {
    /// Whether the source tree skipped question `idx` (greedy decoding solved it, so it has
    /// no samples to repair): its `skipped.json` is copied into this tree.
    pub(super) fn repair_skipped(
        &self,
        from: &str,
        idx: usize,
        problem: &Problem,
    ) -> Result<bool, QuestionError> {
        let source = ResultStore::new(from);
        let Some(skipped) = source.read::<Skipped>(&source.skipped_path(idx))? else {
            return Ok(false);
        };
        if skipped.question_id != problem.id() {
            return Err(QuestionError::Contract(format!(
                "{} is about `{}`, not `{}`",
                source.skipped_path(idx).display(),
                skipped.question_id,
                problem.id()
            )));
        }
        self.store.write(&self.store.skipped_path(idx), &skipped)?;
        Ok(true)
    }

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

    /// The repairs of one temperature (group `group` of the question's channel): every
    /// failed source sample not in `have`, with the grader's feedback on it (the program is
    /// graded again: the tree keeps verdicts, not the grader's metadata), and the passing
    /// ones, given.
    pub(super) fn repair_work(
        &self,
        problem: &Problem,
        temperature: f64,
        group: usize,
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
        let shared = std::sync::Arc::new(RepairShared {
            question: lcb.question_content.clone(),
            anchor: anchor(problem, settings.thinking)?,
            params: self.params(temperature),
            stream: repair_stream(problem.id(), temperature),
            thinking: settings.thinking,
        });
        let mut out = RepairWork {
            requests: Vec::with_capacity(failed.len()),
            given: given.iter().map(|&j| (j, source[j].clone())).collect(),
        };
        for ((&j, code), grade) in failed.iter().zip(codes).zip(grades) {
            // lcb_runner reads each sample's metadata as a JSON string; a program killed
            // before reporting has none (no feedback, as for metadata without an error code).
            let metadata = grade
                .metadata
                .map(|m| m.to_string())
                .unwrap_or_else(|| "{}".into());
            let feedback = self_repair::feedback(&metadata).unwrap_or_else(|why| {
                self.observer.warn(&format!(
                    "{} sample {j} at T={temperature}: lcb_runner would fail on this sample's feedback ({why}); repairing it without feedback",
                    problem.id()
                ));
                String::new()
            });
            out.requests.push(Repair {
                index: j,
                group,
                code,
                feedback,
                shared: shared.clone(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::generator::{FinishReason, SamplingParams};

    /// Answers each request with one completion (its sample index), later, from its own
    /// thread, and counts requests in flight.
    struct OneEach {
        in_flight: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
    }

    impl Generator for OneEach {
        fn submit(&self, request: GenerationRequest) -> Result<Completions, GenError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let (tx, rx) = crossbeam_channel::unbounded();
            let in_flight = self.in_flight.clone();
            let index = request.groups[0].n - 1;
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_micros(200));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = tx.send(Ok(Completion {
                    group: 0,
                    index,
                    text: String::new(),
                    token_ids: vec![1],
                    logprobs: vec![0.0],
                    token_count: None,
                    finish_reason: FinishReason::Stop,
                }));
            });
            Ok(rx)
        }
        fn prompt_text(&self, _: &Prompt) -> Result<String, GenError> {
            Ok(String::new())
        }
        fn model_name(&self) -> String {
            "one-each".into()
        }
        fn describe(&self) -> serde_json::Value {
            serde_json::Value::Null
        }
    }

    #[test]
    fn many_repairs_go_in_a_few_hundred_at_a_time_and_all_come_back_with_their_group() {
        let generator = OneEach {
            in_flight: Arc::default(),
            most: Arc::default(),
        };
        let total = 3 * IN_FLIGHT + 7;
        let shared = std::sync::Arc::new(RepairShared {
            question: "q".into(),
            anchor: Prompt::Text("q".into()),
            params: SamplingParams::default(),
            stream: 0,
            thinking: false,
        });
        let requests: Vec<Repair> = (0..total)
            .map(|i| Repair {
                index: i,
                group: i % 5,
                code: "print(1)".into(),
                feedback: String::new(),
                shared: shared.clone(),
            })
            .collect();
        let (mut feed, merged) = RepairFeed::start(requests, &generator).unwrap();
        let mut seen = vec![false; total];
        for _ in 0..total {
            let c = merged.recv().unwrap().unwrap();
            assert_eq!(c.group, c.index % 5);
            assert!(!seen[c.index], "sample {} twice", c.index);
            seen[c.index] = true;
            feed.next(&generator).unwrap();
        }
        assert!(seen.iter().all(|&s| s));
        // Every request was answered and the feed is spent: the merged channel closes.
        assert!(merged.recv().is_err());
        let most = generator.most.load(Ordering::SeqCst);
        assert!(most <= IN_FLIGHT, "{most} requests in flight");
    }
}
