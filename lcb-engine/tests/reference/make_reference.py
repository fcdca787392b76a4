#!/usr/bin/env python3
"""Build the greedy-parity fixture for lcb-engine from Hugging Face transformers.

Writes, next to this script, `qwen3_tiny/`:
  config.json, generation_config.json   - a random tiny Qwen3 (transformers' own config)
  model.safetensors.gz                   - its weights (float32), gzip-compressed
  cases.json                             - prompts, their token ids, and transformers'
                                           greedy continuation (ids, text, log-probs)

The model uses the real Qwen3 vocabulary (151,936 rows) so the vendored tokenizer
(fixtures/tokenizer/qwen3, not copied here) applies. To keep the fixture small only a few
thousand rows of the embedding and of the (untied) output projection are non-zero (the
prompts' tokens and ids below 1024); the rest are zeros, which compress to almost nothing.
Every other token's logit is exactly 0, below the best active one; the script checks that
each greedy step's best logit beats the runner-up by a clear margin, so float rounding
differences cannot flip a token.

Run (torch and transformers from PyPI, CPU is enough):
    python3 -m venv /tmp/lcbref
    /tmp/lcbref/bin/pip install torch transformers safetensors numpy
    /tmp/lcbref/bin/python lcb-engine/tests/reference/make_reference.py
"""

import gzip
import io
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from safetensors.torch import save
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
TOKENIZER_DIR = os.path.join(ROOT, "fixtures", "tokenizer", "qwen3")
OUT = os.path.join(HERE, "qwen3_tiny")
NEW_TOKENS = 24
MIN_MARGIN = 1e-3

SEED = 1234
ACTIVE_BELOW = 1024

TEXT_PROMPTS = [
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "import sys\n\nfor line in sys.stdin:\n    a, b = map(int, line.split())\n    print(a + b)\n",
]
CHAT_PROMPTS = [
    # (messages, enable_thinking)
    ([{"role": "user", "content": "Write a Python function that reverses a string."}], False),
    (
        [
            {"role": "system", "content": "You are an expert Python programmer."},
            {"role": "user", "content": "Read N numbers and print their sum."},
        ],
        None,
    ),
]


def load_tokenizer():
    tmp = tempfile.mkdtemp()
    with gzip.open(os.path.join(TOKENIZER_DIR, "tokenizer.json.gz"), "rb") as f:
        open(os.path.join(tmp, "tokenizer.json"), "wb").write(f.read())
    shutil.copy(os.path.join(TOKENIZER_DIR, "tokenizer_config.json"), tmp)
    return AutoTokenizer.from_pretrained(tmp)


def main():
    tok = load_tokenizer()
    cases = []
    for text in TEXT_PROMPTS:
        cases.append({"kind": "text", "prompt": text, "ids": tok.encode(text, add_special_tokens=False)})
    for messages, thinking in CHAT_PROMPTS:
        kwargs = {} if thinking is None else {"enable_thinking": thinking}
        rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
        cases.append(
            {
                "kind": "chat",
                "messages": messages,
                "enable_thinking": thinking,
                "prompt": rendered,
                "ids": tok.encode(rendered, add_special_tokens=False),
            }
        )

    config = Qwen3Config(
        vocab_size=151936,
        hidden_size=32,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=1024,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        attention_bias=False,
        bos_token_id=151643,
        eos_token_id=151645,
    )
    torch.manual_seed(SEED)
    model = Qwen3ForCausalLM(config).to(torch.float32).eval()
    # A random model, not a trained one: give the weights a spread that keeps logits
    # well separated, and non-trivial norm scales.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.rand_like(p) - 0.1)
            elif p.dim() == 2:
                p.normal_(0.0, 1.0 / p.shape[1] ** 0.5)
        emb = model.model.embed_tokens.weight
        emb.normal_(0.0, 1.0)
        head = model.lm_head.weight
        head.normal_(0.0, 2.0 / config.hidden_size ** 0.5)
        active = torch.zeros(config.vocab_size, dtype=torch.bool)
        active[:ACTIVE_BELOW] = True
        for case in cases:
            active[torch.tensor(case["ids"])] = True
        emb[~active] = 0.0
        head[~active] = 0.0
    model.config._attn_implementation = "eager"

    for case in cases:
        ids = torch.tensor([case["ids"]])
        generated, logprobs = [], []
        with torch.no_grad():
            past = None
            inp = ids
            for _ in range(NEW_TOKENS):
                out = model(input_ids=inp, past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[0, -1].float()
                top2 = torch.topk(logits, 2)
                margin = float(top2.values[0] - top2.values[1])
                if margin < MIN_MARGIN:
                    sys.exit(f"greedy margin {margin} too small for case {case['prompt'][:30]!r}; change SEED")
                nxt = int(top2.indices[0])
                generated.append(nxt)
                # float64: torch's float32 log_softmax over 151,936 entries is itself off by ~1e-4.
                logprobs.append(float(torch.log_softmax(logits.double(), -1)[nxt]))
                inp = torch.tensor([[nxt]])
        # Cross-check: transformers' own greedy generate gives the same tokens.
        check = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                               max_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=151643)
        if check[0, ids.shape[1]:].tolist() != generated:
            sys.exit(f"generate() disagrees with the step loop: {check[0, ids.shape[1]:].tolist()} vs {generated}")
        case["greedy_ids"] = generated
        case["greedy_text"] = tok.decode(generated, skip_special_tokens=True)
        case["greedy_logprobs"] = logprobs

    os.makedirs(OUT, exist_ok=True)
    config_dict = config.to_dict()
    config_dict["torch_dtype"] = "float32"
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config_dict, f, indent=2, sort_keys=True)
    with open(os.path.join(OUT, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 151643, "eos_token_id": [151645, 151643]}, f, indent=2)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    blob = save(tensors, metadata={"format": "pt"})
    with gzip.GzipFile(os.path.join(OUT, "model.safetensors.gz"), "wb", mtime=0, compresslevel=9) as f:
        f.write(blob)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(
            {
                "generator": {
                    "script": "lcb-engine/tests/reference/make_reference.py",
                    "transformers": transformers.__version__,
                    "torch": torch.__version__,
                    "python": sys.version.split()[0],
                    "attn_implementation": "eager",
                    "dtype": "float32",
                    "new_tokens": NEW_TOKENS,
                },
                "cases": cases,
            },
            f,
            indent=1,
            ensure_ascii=False,
        )
    size = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {OUT} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
