//! The decode-step op counter. A test binary of its own with one test: the counter reads a
//! process-wide tensor counter, which tests running beside it would advance.

use candle_core::{DType, Device};
use lcb_engine::config::Qwen3Config;
use lcb_engine::model::op_count::count_decode_step;
use lcb_engine::model::{DecodeAttention, StepShape};

fn shape(layers: usize) -> Qwen3Config {
    Qwen3Config {
        vocab_size: 96,
        hidden_size: 32,
        intermediate_size: 48,
        num_hidden_layers: layers,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 8,
        max_position_embeddings: 1024,
        rope_theta: 1_000_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        attention_bias: false,
        eos_token_id: vec![],
    }
}

#[test]
fn the_count_grows_by_the_same_ops_per_layer_and_with_attention_calls() {
    let count_with = |layers: usize, rows: usize, budget: Option<usize>, mode| {
        let step = StepShape {
            rows,
            prompt_tokens: 40,
            own_tokens: 0,
            attention_budget: budget,
            attention: mode,
        };
        count_decode_step(&shape(layers), DType::F32, &Device::Cpu, step).unwrap()
    };
    let count = |layers, rows, budget| count_with(layers, rows, budget, DecodeAttention::Shared);
    let (one, two, three) = (count(1, 8, None), count(2, 8, None), count(3, 8, None));
    let per_layer = two.forward - one.forward;
    assert!(per_layer > 10, "{one:?} {two:?}");
    assert_eq!(three.forward - two.forward, per_layer, "{two:?} {three:?}");
    // Sampling is one op (its result) whatever the rows.
    assert_eq!(one.sampling, 1);
    // Rows go through the same ops...
    assert_eq!(count(2, 3, None), two);
    // ...unless the attention budget splits the prompt attention into more calls.
    let split = count(2, 8, Some(4 * 40));
    assert!(split.forward > two.forward, "{split:?} vs {two:?}");
    // The kernels' path (two attention ops) takes fewer.
    let kernels = count_with(2, 8, None, DecodeAttention::Kernels);
    let kernels_per_layer =
        kernels.forward - count_with(1, 8, None, DecodeAttention::Kernels).forward;
    assert!(
        kernels_per_layer + 20 < per_layer,
        "{kernels_per_layer} vs {per_layer}"
    );
    eprintln!(
        "per layer {per_layer} (kernels {kernels_per_layer}), two layers {two:?}, split {split:?}"
    );
}
