//! The scheduler's policy on its own: admission, refills, cache blocks and preemption,
//! prefill chunks, cancellation and failures.

use super::*;
use crate::stop::StopStrings;

fn group(n: usize, max_tokens: usize, temperature: f32) -> GroupSpec {
    GroupSpec {
        sampler: SamplerParams {
            temperature,
            top_p: 1.0,
            top_k: None,
        },
        seed: 0,
        stream: 0,
        n,
        skip: Vec::new(),
        max_tokens,
        ignore_eos: false,
        stops: StopStrings::default(),
    }
}

fn config(slots: usize) -> SchedulerConfig {
    SchedulerConfig {
        max_rows: slots,
        kv_blocks: 1000,
        expected_new_tokens: 16,
        prefill_chunk: 4,
        max_resident_prompts: 2,
        share_prefixes: true,
        attention_budget: usize::MAX,
        record_sample_timings: false,
    }
}

fn scheduler(slots: usize) -> Scheduler {
    scheduler_with(config(slots))
}

/// A scheduler with end-of-sequence token 0 and one letter per token.
fn scheduler_with(config: SchedulerConfig) -> Scheduler {
    Scheduler::new(config, vec![0], Arc::new(|t| vec![b'a' + (t % 26) as u8]))
}

fn request(
    len: usize,
    groups: Vec<GroupSpec>,
) -> (
    Request,
    crossbeam_channel::Receiver<Result<Completion, GenError>>,
) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (
        Request {
            tokens: (0..len as u32).collect(),
            groups,
            reply: tx,
            submitted: Instant::now(),
            observer: None,
            shared_prefix: 0,
        },
        rx,
    )
}

/// Prefills whatever is planned, with logits favouring token `favourite`.
fn prefill_all(s: &mut Scheduler, favourite: usize) {
    while let Some(plan) = s.prefill_plan() {
        let logits = plan.last.then(|| {
            let mut l = vec![0.0f32; 8];
            l[favourite] = 10.0;
            l
        });
        s.prefill_done(&plan, logits);
    }
}

#[test]
fn chunks_shrink_to_keep_attention_scores_within_budget() {
    let mut s = scheduler_with(SchedulerConfig {
        attention_budget: 40,
        ..config(1)
    });
    let (req, _rx) = request(20, vec![group(5, 1, 0.0)]);
    s.add(req);
    let mut chunks = Vec::new();
    while let Some(plan) = s.prefill_plan() {
        let logits = plan.last.then(|| vec![0.0; 4]);
        s.prefill_done(&plan, logits);
        chunks.push((plan.start, plan.len));
    }
    // Full chunks of 4 while 4 × keys ≤ 40, then as many as the budget allows.
    assert_eq!(
        chunks,
        vec![
            (0, 4),
            (4, 4),
            (8, 3),
            (11, 2),
            (13, 2),
            (15, 2),
            (17, 2),
            (19, 1)
        ]
    );
    assert!(chunks.iter().all(|&(start, len)| len * (start + len) <= 40));
}

#[test]
fn prompts_prefill_in_chunks_and_samples_refill_their_slots() {
    let mut s = scheduler(2);
    let (req, rx) = request(10, vec![group(5, 3, 0.0)]);
    s.add(req);
    let plans: Vec<(usize, usize, bool)> = std::iter::from_fn(|| {
        let plan = s.prefill_plan()?;
        let logits = plan.last.then(|| vec![0.0, 0.0, 5.0, 0.0]);
        s.prefill_done(&plan, logits);
        Some((plan.start, plan.len, plan.last))
    })
    .collect();
    assert_eq!(plans, vec![(0, 4, false), (4, 4, false), (8, 2, true)]);
    s.fill_slots();
    assert_eq!(s.active().len(), 2);
    let (rows, groups) = s.decode_batch();
    assert_eq!(
        rows,
        vec![
            DecodeRow {
                token: 2,
                suffix_pos: 0,
                blocks: &[],
            };
            2
        ]
    );
    assert_eq!(groups.len(), 1);
    let (_, keys) = s.sampling_inputs();
    assert_eq!(
        keys.iter().map(|k| (k.index, k.step)).collect::<Vec<_>>(),
        vec![(0, 1), (1, 1)]
    );
    // Two steps of tokens: each sample reaches max_tokens = 3 and is replaced in place.
    let tok = |t| Sampled {
        token: t,
        logprob: -1.0,
    };
    s.apply_tokens(&[tok(3), tok(4)]);
    s.apply_tokens(&[tok(5), tok(6)]);
    let done: Vec<Completion> = rx.try_iter().map(Result::unwrap).collect();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].index, 1); // the last slot is processed first
    assert_eq!(done[1].token_ids, vec![2, 3, 5]);
    assert_eq!(done[1].text, "cdf");
    assert_eq!(done[1].finish_reason, FinishReason::Length);
    // Samples 2 and 3 now occupy the slots, freshly started.
    let indices: Vec<usize> = s.active().iter().map(|a| a.index).collect();
    assert_eq!(indices, vec![3, 2]);
    assert!(s.active().iter().all(|a| a.generated().len() == 1));
}

#[test]
fn a_finished_sample_without_refill_leaves_and_the_others_keep_their_order() {
    let mut s = scheduler(3);
    let (a, rx_a) = request(3, vec![group(1, 5, 0.0)]);
    let (b, rx_b) = request(3, vec![group(2, 5, 0.0)]);
    s.add(a);
    s.add(b);
    prefill_all(&mut s, 1);
    s.fill_slots();
    assert_eq!(s.active().len(), 3);
    let tok = |t| Sampled {
        token: t,
        logprob: -1.0,
    };
    s.reserve_blocks();
    s.apply_tokens(&[tok(1), tok(1), tok(1)]);
    s.reserve_blocks();
    let free = s.blocks().0;
    // Row 0 (prompt A's only sample) hits EOS: its row goes, B's two samples keep theirs, and
    // its block returns at once.
    s.apply_tokens(&[tok(0), tok(1), tok(1)]);
    let left: Vec<(u64, usize)> = s.active().iter().map(|a| (a.prompt, a.index)).collect();
    assert_eq!(left, vec![(2, 0), (2, 1)]);
    // A's own block, then its three-token prompt's block once it is retired.
    assert_eq!(s.blocks().0, free + 2);
    let a: Vec<_> = rx_a.try_iter().collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].as_ref().unwrap().finish_reason, FinishReason::Stop);
    // Prompt A is retired: its channel closes once the retired ones are taken.
    let (timings, channels) = s.take_retired();
    assert_eq!((timings.len(), channels.len()), (1, 1));
    drop(channels);
    assert!(rx_a.recv().is_err());
    assert_eq!(rx_b.try_iter().count(), 0);
}

#[test]
fn new_prompts_wait_while_queued_samples_can_fill_every_slot() {
    let mut s = scheduler(2);
    let (a, _rx_a) = request(4, vec![group(10, 5, 1.0)]);
    let (b, _rx_b) = request(4, vec![group(1, 5, 1.0)]);
    s.add(a);
    s.add(b);
    prefill_all(&mut s, 1);
    // A has 10 unstarted samples ≥ 2 slots: B is not prefilled yet.
    assert!(s.cache(2).is_none());
    s.fill_slots();
    assert_eq!(s.active().len(), 2);
    assert_eq!(s.prefill_plan(), None);
}

#[test]
fn dropping_the_receiver_cancels_the_request() {
    let mut s = scheduler(2);
    let (a, rx) = request(2, vec![group(6, 1, 1.0)]);
    s.add(a);
    drop(rx);
    prefill_all(&mut s, 1);
    // max_tokens 1: every sample ends at its first token; the failed send cancels.
    s.fill_slots();
    assert!(s.is_idle());
    assert_eq!(s.take_retired().0.len(), 1);
}

#[test]
fn a_request_dropped_while_samples_are_in_slots_leaves() {
    let mut s = scheduler(4);
    let (a, rx) = request(2, vec![group(10, 3, 1.0)]);
    s.add(a);
    prefill_all(&mut s, 1);
    s.fill_slots();
    assert_eq!(s.active().len(), 4);
    drop(rx);
    let tok = Sampled {
        token: 2,
        logprob: -1.0,
    };
    // Each step: the first finished sample's send fails, the rest are abandoned.
    for _ in 0..4 {
        let rows = s.active().len();
        if rows == 0 {
            break;
        }
        s.apply_tokens(&vec![tok; rows]);
        s.fill_slots();
    }
    assert!(s.active().is_empty(), "abandoned samples leave their slots");
    assert!(
        s.is_idle(),
        "the cancelled prompt (and its cache) is retired"
    );
    assert_eq!(s.take_retired().0.len(), 1);
    assert_eq!(
        s.finished_total(),
        10,
        "every submitted sample is counted once"
    );
}

/// Records tokens and says "cancelled" once asked to.
#[derive(Default)]
struct Recorder {
    tokens: std::sync::Mutex<Vec<TokenEvent>>,
    gone: std::sync::atomic::AtomicBool,
}

impl RequestObserver for Recorder {
    fn token(&self, event: TokenEvent) {
        self.tokens.lock().unwrap().push(event);
    }
    fn cancelled(&self) -> bool {
        self.gone.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn an_observer_hears_every_token_but_the_last_and_can_call_the_request_off() {
    let mut s = scheduler(2);
    let recorder = Arc::new(Recorder::default());
    let (mut a, rx) = request(2, vec![group(3, 3, 1.0)]);
    a.observer = Some(recorder.clone());
    s.add(a);
    prefill_all(&mut s, 1);
    s.fill_slots();
    let tok = |token| Sampled {
        token,
        logprob: -0.5,
    };
    // Two samples decode: their first tokens (drawn from the prompt's logits) were heard.
    assert_eq!(recorder.tokens.lock().unwrap().len(), 2);
    s.apply_tokens(&[tok(3), tok(4)]);
    // The third token of each ends it (max_tokens 3): the completion carries it, the
    // observer does not hear it.
    s.apply_tokens(&[tok(5), tok(6)]);
    let done: Vec<Completion> = rx.try_iter().map(Result::unwrap).collect();
    assert_eq!(done.len(), 2);
    let heard = recorder.tokens.lock().unwrap().clone();
    for c in &done {
        let mine: Vec<u32> = heard
            .iter()
            .filter(|e| e.index == c.index && e.group == c.group)
            .map(|e| e.token)
            .collect();
        assert_eq!(mine, c.token_ids[..2], "sample {}", c.index);
    }
    // The third sample started in a refilled slot; the caller leaves now.
    assert_eq!(s.active().len(), 1);
    recorder
        .gone
        .store(true, std::sync::atomic::Ordering::SeqCst);
    s.drop_cancelled();
    s.apply_tokens(&[tok(3)]);
    s.fill_slots();
    assert!(
        s.active().is_empty() && s.is_idle(),
        "abandoned and retired"
    );
    assert_eq!(s.finished_total(), 3);
    let (_, channels) = s.take_retired();
    drop(channels);
    assert!(
        rx.recv().is_err(),
        "the channel closed without a third completion"
    );
}

#[test]
fn a_request_called_off_before_it_starts_never_prefills() {
    let mut s = scheduler(2);
    let recorder = Arc::new(Recorder::default());
    let (mut a, rx) = request(6, vec![group(4, 3, 1.0)]);
    a.observer = Some(recorder.clone());
    s.add(a);
    recorder
        .gone
        .store(true, std::sync::atomic::Ordering::SeqCst);
    s.drop_cancelled();
    assert_eq!(s.prefill_plan(), None);
    s.fill_slots();
    assert!(s.is_idle());
    assert_eq!(s.finished_total(), 4);
    drop(s.take_retired());
    assert!(rx.recv().is_err());
}

#[test]
fn failing_one_prompt_leaves_the_others_running() {
    let mut s = scheduler(2);
    let (a, rx_a) = request(2, vec![group(3, 2, 1.0)]);
    let (b, rx_b) = request(2, vec![group(2, 2, 1.0)]);
    s.add(a);
    s.add(b);
    let first = s.prefill_plan().unwrap().prompt;
    s.fail_prompt(first, "out of memory");
    assert!(matches!(rx_a.try_recv(), Ok(Err(GenError::Failed(m))) if m == "out of memory"));
    assert_eq!(s.finished_total(), 3);
    prefill_all(&mut s, 1);
    s.fill_slots();
    decode_until_no_slot_is_active(&mut s);
    assert_eq!(rx_b.try_iter().filter(|r| r.is_ok()).count(), 2);
    assert!(s.is_idle());
    assert_eq!(s.finished_total(), 5);
}

/// Feeds every active slot an ordinary token, step after step, refilling slots, until
/// none is active.
fn decode_until_no_slot_is_active(s: &mut Scheduler) {
    let tok = Sampled {
        token: 2,
        logprob: -1.0,
    };
    while !s.active().is_empty() {
        let rows = s.active().len();
        s.apply_tokens(&vec![tok; rows]);
        s.fill_slots();
    }
}

#[test]
fn prompt_logits_are_unusable_exactly_when_a_sample_from_them_would_be() {
    let ok = [0.5f32, -1.0, 2.0];
    assert!(!unusable_logits(&ok));
    assert!(
        !unusable_logits(&[0.5, f32::NEG_INFINITY, 2.0]),
        "a masked token is not an error"
    );
    assert!(unusable_logits(&[0.5, f32::NAN, 2.0]));
    assert!(unusable_logits(&[0.5, f32::INFINITY, 2.0]));
    assert!(unusable_logits(&[f32::NEG_INFINITY; 3]));
    // The sampler agrees: its log-probability is finite exactly for the usable rows.
    let key = crate::rng::DrawKey {
        seed: 0,
        stream: 0,
        index: 0,
        step: 0,
    };
    for row in [
        ok.to_vec(),
        vec![0.5, f32::NEG_INFINITY, 2.0],
        vec![0.5, f32::NAN, 2.0],
        vec![0.5, f32::INFINITY, 2.0],
        vec![f32::NEG_INFINITY; 3],
    ] {
        let s = crate::sampling::sample(&row, &crate::sampling::SamplerParams::GREEDY, key);
        assert_eq!(unusable_logits(&row), !s.logprob.is_finite(), "{row:?}");
    }
}

#[test]
fn non_finite_prompt_logits_fail_that_request_alone() {
    let mut s = scheduler(2);
    let (a, rx_a) = request(2, vec![group(3, 2, 1.0)]);
    let (b, rx_b) = request(2, vec![group(2, 2, 1.0)]);
    s.add(a);
    s.add(b);
    let plan = s.prefill_plan().unwrap();
    let mut logits = vec![0.0f32; 8];
    logits[3] = f32::NAN;
    s.prefill_done(&plan, Some(logits));
    assert!(matches!(rx_a.try_recv(), Ok(Err(GenError::Failed(m))) if m.starts_with(NON_FINITE)));
    prefill_all(&mut s, 1);
    s.fill_slots();
    decode_until_no_slot_is_active(&mut s);
    assert_eq!(rx_b.try_iter().filter(|r| r.is_ok()).count(), 2);
    assert!(s.is_idle());
    assert_eq!(s.finished_total(), 5);
}

#[test]
fn a_non_finite_token_fails_its_request_and_frees_its_slots() {
    let mut s = scheduler(4);
    let (a, rx_a) = request(2, vec![group(6, 3, 1.0)]);
    let (b, rx_b) = request(2, vec![group(2, 3, 1.0)]);
    s.add(a);
    s.add(b);
    prefill_all(&mut s, 1);
    s.fill_slots();
    // A fills every slot first; its second sample meets NaN logits.
    assert_eq!(s.active().len(), 4);
    let ok = Sampled {
        token: 2,
        logprob: -1.0,
    };
    let mut tokens = vec![ok; 4];
    tokens[1].logprob = f32::NAN;
    s.apply_tokens(&tokens);
    let got: Vec<_> = rx_a.try_iter().collect();
    assert_eq!(got.len(), 1, "one error, no completions: {got:?}");
    assert!(matches!(&got[0], Err(GenError::Failed(m)) if m.contains("at token 1 of sample 1")));
    // B, held back while A could fill every slot, now prefills and runs.
    prefill_all(&mut s, 1);
    s.fill_slots();
    decode_until_no_slot_is_active(&mut s);
    assert_eq!(rx_b.try_iter().filter(|r| r.is_ok()).count(), 2);
    assert!(s.is_idle(), "the failed prompt (and its cache) is retired");
    assert_eq!(
        s.finished_total(),
        8,
        "every submitted sample is counted once"
    );
    assert!(rx_a.try_recv().is_err(), "nothing after the error");
}

#[test]
fn failing_all_counts_every_outstanding_sample_as_finished() {
    let mut s = scheduler(2);
    let (a, rx) = request(2, vec![group(5, 3, 1.0)]);
    s.add(a);
    prefill_all(&mut s, 1);
    s.fill_slots();
    s.fail_all("device lost");
    assert!(s.is_idle());
    assert_eq!(s.finished_total(), 5);
    assert!(matches!(rx.try_recv(), Ok(Err(GenError::Failed(_)))));
}

#[test]
fn sample_timings_are_kept_only_when_asked_for() {
    for record in [false, true] {
        let mut s = scheduler_with(SchedulerConfig {
            record_sample_timings: record,
            ..config(2)
        });
        // Three samples of four tokens and one of one token (max_tokens bounds them).
        let (r, _rx) = request(6, vec![group(3, 4, 1.0), group(1, 1, 1.0)]);
        s.add(r);
        prefill_all(&mut s, 3);
        s.fill_slots();
        decode_until_no_slot_is_active(&mut s);
        let timings = s.take_sample_timings();
        if !record {
            assert!(timings.is_empty());
            continue;
        }
        let mut tokens: Vec<usize> = timings.iter().map(|t| t.tokens).collect();
        tokens.sort_unstable();
        assert_eq!(tokens, [1, 4, 4, 4]);
        for t in &timings {
            assert!(t.first_token_seconds >= 0.0);
            assert_eq!(t.seconds_per_output_token.is_some(), t.tokens > 1, "{t:?}");
        }
        assert!(s.take_sample_timings().is_empty(), "taken once");
    }
}

/// Decodes until nothing is left, as the worker does (admit, reserve, apply), feeding token
/// 1 to every row; returns the most rows one step decoded.
fn decode_with_blocks(s: &mut Scheduler) -> usize {
    let (mut steps, mut most) = (0, 0);
    loop {
        s.fill_slots();
        s.reserve_blocks();
        while let Some(plan) = s.prefill_plan() {
            s.prefill_done(&plan, plan.last.then(|| vec![0.0, 5.0]));
        }
        let rows = s.active().len();
        most = most.max(rows);
        if rows == 0 && s.is_idle() {
            return most;
        }
        assert!(steps < 10_000, "no progress");
        // Every row has the block its next key/value goes to, inside the pool.
        for a in s.active() {
            assert!(a.blocks().len() * crate::model::BLOCK_TOKENS >= a.generated().len());
        }
        let tok = Sampled {
            token: 1,
            logprob: -0.5,
        };
        s.apply_tokens(&vec![tok; rows]);
        steps += 1;
    }
}

#[test]
fn a_dry_pool_preempts_the_youngest_and_every_sample_still_finishes_once() {
    // 6 blocks: the 4-token prompt takes one; admission expects 1-token samples, so 4 start
    // at once and outgrow the pool at their 17th token (two blocks each).
    let mut s = scheduler_with(SchedulerConfig {
        max_rows: 8,
        kv_blocks: 6,
        expected_new_tokens: 1,
        ..config(8)
    });
    let recorder = Arc::new(Recorder::default());
    let (mut a, rx) = request(4, vec![group(4, 40, 1.0)]);
    a.observer = Some(recorder.clone());
    s.add(a);
    decode_with_blocks(&mut s);
    let (preempted, _) = s.preemptions();
    assert!(preempted > 0, "the pool was never dry");
    let mut done: Vec<Completion> = rx.try_iter().map(Result::unwrap).collect();
    done.sort_by_key(|c| c.index);
    assert_eq!(
        done.iter().map(|c| c.index).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(done.iter().all(|c| c.token_ids.len() == 40));
    // The observer heard each sample's 39 tokens before its last once, rerun or not.
    let heard = recorder.tokens.lock().unwrap().clone();
    for i in 0..4 {
        assert_eq!(
            heard.iter().filter(|e| e.index == i).count(),
            39,
            "sample {i}"
        );
    }
    assert_eq!(s.blocks(), (6, 6), "every block came back");
    assert_eq!(s.finished_total(), 4);
}

#[test]
fn a_pool_for_one_prompt_and_one_sample_runs_the_samples_one_at_a_time() {
    // 1 block of prompt + 3 blocks for a 40-token sample, samples expected to run to their
    // limit: no second sample is admitted beside the first.
    let mut s = scheduler_with(SchedulerConfig {
        kv_blocks: 4,
        expected_new_tokens: 40,
        ..config(8)
    });
    let (a, rx) = request(4, vec![group(3, 40, 1.0)]);
    s.add(a);
    assert_eq!(decode_with_blocks(&mut s), 1);
    assert_eq!(rx.try_iter().filter(|c| c.is_ok()).count(), 3);
    assert_eq!(s.blocks(), (4, 4));
}

#[test]
fn a_sample_alone_evicts_an_idle_prompt_and_one_that_cannot_fit_fails_with_the_sizes() {
    // Prompt A's sample grows while prompt B (prefilled, waiting) holds blocks: B is evicted
    // and prefilled again once A is done.
    let mut s = scheduler_with(SchedulerConfig {
        kv_blocks: 5,
        expected_new_tokens: 1,
        ..config(1)
    });
    let (a, rx_a) = request(4, vec![group(1, 40, 1.0)]);
    let (b, rx_b) = request(20, vec![group(1, 10, 1.0)]);
    s.add(a);
    s.add(b);
    decode_with_blocks(&mut s);
    assert!(s.preemptions().1 > 0, "B was never evicted");
    assert_eq!(rx_a.try_iter().filter(|c| c.is_ok()).count(), 1);
    assert_eq!(rx_b.try_iter().filter(|c| c.is_ok()).count(), 1);
    assert_eq!(s.blocks(), (5, 5));

    // A request whose prompt and one sample exceed the whole pool fails at once, clearly.
    let (c, rx_c) = request(40, vec![group(1, 40, 1.0)]);
    s.add(c);
    assert_eq!(s.prefill_plan(), None);
    let err = match rx_c.try_recv() {
        Ok(Err(GenError::Failed(m))) => m,
        other => panic!("{other:?}"),
    };
    assert!(
        err.contains("80 tokens (5 blocks of 16)") && err.contains("needs 6 blocks"),
        "{err}"
    );
    assert!(s.is_idle());
}

#[test]
fn a_family_copies_its_head_from_a_resident_prompt_and_prompts_get_runs_of_blocks() {
    let mut s = scheduler_with(SchedulerConfig {
        kv_blocks: 20,
        prefill_chunk: 64,
        ..config(4)
    });
    // Two 40-token prompts whose first 20 tokens are the family's head.
    let (mut a, rx_a) = request(40, vec![group(1, 3, 1.0)]);
    let (mut b, rx_b) = request(40, vec![group(1, 3, 1.0)]);
    b.tokens[20..].iter_mut().for_each(|t| *t += 100);
    a.shared_prefix = 20;
    b.shared_prefix = 20;
    s.add(a);
    s.add(b);
    // A prefills its head as a chunk of its own, then the rest.
    let first = s.prefill_plan().unwrap();
    assert_eq!((first.start, first.len, first.from_family), (0, 20, 0));
    s.prefill_done(&first, None);
    let rest = s.prefill_plan().unwrap();
    assert_eq!((rest.start, rest.len), (20, 20));
    s.prefill_done(&rest, Some(vec![0.0, 5.0]));
    // Prompts take runs from the top of the pool.
    assert_eq!(s.cache(1).unwrap().blocks, [17, 18, 19]);
    // B is admitted beside A: its head is copied from A, it prefills from the end of it.
    let plan = s.prefill_plan().unwrap();
    assert_eq!((plan.prompt, plan.start, plan.from_family), (2, 20, 20));
    assert_eq!(s.cache(2).unwrap().blocks, [14, 15, 16]);
    assert_eq!(
        s.take_head_copies(),
        vec![HeadCopy {
            from: vec![17, 18, 19],
            to: vec![14, 15, 16],
            len: 20
        }]
    );
    s.prefill_done(&plan, Some(vec![0.0, 5.0]));
    // Samples take blocks from the bottom; everything comes back at the end.
    decode_with_blocks(&mut s);
    assert_eq!(rx_a.try_iter().filter(|c| c.is_ok()).count(), 1);
    assert_eq!(rx_b.try_iter().filter(|c| c.is_ok()).count(), 1);
    assert_eq!(s.blocks(), (20, 20));
}
