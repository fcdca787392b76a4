"""`lcb serve` through the official `openai` Python client.

    python test_serve.py BASE_URL LCB_BIN [MODEL]

BASE_URL is the server's root (http://127.0.0.1:PORT; the client talks to BASE_URL/v1),
LCB_BIN the `lcb` binary, whose `lcb generate` gives the reference samples, and MODEL the
model the server was started with (by default the one `/v1/models` lists; the served name
is the --model string, so it is also the path `lcb generate` loads). Each may instead come
from $LCB_SERVE_URL, $LCB_BIN and $LCB_MODEL. Plain asserts, one message per check; a group
of checks stops at its first failure, the other groups still run, and the script exits 1 if
any failed. lcb-cli/tests/serve_openai_client.rs runs it against a real server with the
fixture model (`make test` creates the client's venv, .venv-openai).
"""

import json
import os
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai

REPO = Path(__file__).resolve().parents[3]

PROMPT = "def fib(n):"
SEED = 1234
N = 3
TEMPERATURE = 0.8
MAX_TOKENS = 24
CHAT_USER = "Write a Python function that reverses a string."
CHAT_N = 2
CHAT_MAX_TOKENS = 16
TOKEN_ID_PREFIX = "token_id:"
NO_THINKING = {"chat_template_kwargs": {"enable_thinking": False}}


def ok(what):
    print(f"ok: {what}", flush=True)


def arg(i, env):
    if len(sys.argv) > i:
        return sys.argv[i]
    return os.environ.get(env)


def post_json(url, body):
    """A plain POST (the vLLM-style endpoints are outside the OpenAI client)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def lcb_generate(lcb_bin, model, prompt, n, seed, temperature, max_tokens, extra=()):
    """`lcb generate`'s samples, by index."""
    command = [
        lcb_bin, "generate", "--model", model, "--prompt", prompt,
        "-n", str(n), "--seed", str(seed), "--temperature", str(temperature),
        "--max-tokens", str(max_tokens), *extra,
    ]  # fmt: skip
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{' '.join(command)} failed: {out.stderr}"
    samples = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert [s["index"] for s in samples] == list(range(n)), (
        f"lcb generate gave indices {[s['index'] for s in samples]}, wanted 0..{n}"
    )
    return samples


def token_ids(tokens, where):
    """The ids in `token_id:ID` tokens."""
    ids = []
    for t in tokens:
        assert t.startswith(TOKEN_ID_PREFIX), (
            f"{where}: token {t!r} is not `token_id:ID` despite return_tokens_as_token_ids"
        )
        ids.append(int(t[len(TOKEN_ID_PREFIX) :]))
    return ids


def same_logprobs(got, want, where):
    """Logprobs equal as the numbers a JSON client reads (float64)."""
    if got == want:
        return

    def f32(xs):
        return [struct.unpack("f", struct.pack("f", x))[0] for x in xs]

    if len(got) == len(want) and f32(got) == f32(want):
        raise AssertionError(
            f"{where}: the same float32 logprobs written differently, so a JSON client reads "
            f"different numbers: {got[:3]}... vs {want[:3]}..."
        )
    raise AssertionError(f"{where}: logprobs {got} != {want}")


def by_index(choices, n, where):
    indices = sorted(c.index for c in choices)
    assert indices == list(range(n)), f"{where}: choice indices {indices}, wanted 0..{n - 1}"
    return sorted(choices, key=lambda c: c.index)


def check_models(client, model):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert model in ids, f"models.list: {model!r} not among {ids}"
    card = next(m for m in models.data if m.id == model)
    assert card.owned_by == "lcb", f"models.list: owned_by is {card.owned_by!r}, wanted 'lcb'"
    assert card.object == "model", f"models.list: object is {card.object!r}, wanted 'model'"
    ok(f"models.list lists {model!r}, owned by lcb")


def completions_reference(client, model, **kwargs):
    """The completions request of these checks: n seeded samples, tokens as ids."""
    return client.completions.create(
        model=model, prompt=PROMPT, n=N, seed=SEED, temperature=TEMPERATURE,
        max_tokens=MAX_TOKENS, logprobs=0,
        extra_body={"return_tokens_as_token_ids": True}, **kwargs,
    )  # fmt: skip


def check_completions(client, base, lcb_bin, model):
    """n samples with a seed: each choice is `lcb generate`'s sample of that index."""
    response = completions_reference(client, model)
    assert response.object == "text_completion", f"completions: object {response.object!r}"
    assert response.model == model, f"completions: model {response.model!r}, wanted {model!r}"
    choices = by_index(response.choices, N, "completions")
    reference = lcb_generate(lcb_bin, model, PROMPT, N, SEED, TEMPERATURE, MAX_TOKENS)
    for choice, sample in zip(choices, reference):
        i = choice.index
        assert choice.text == sample["text"], (
            f"completions choice {i}: text {choice.text!r} != lcb generate's {sample['text']!r}"
        )
        assert choice.finish_reason == sample["finish_reason"], (
            f"completions choice {i}: finish_reason {choice.finish_reason!r} != "
            f"lcb generate's {sample['finish_reason']!r}"
        )
        lp = choice.logprobs
        assert lp is not None, f"completions choice {i}: no logprobs despite logprobs=0"
        ids = token_ids(lp.tokens, f"completions choice {i}")
        assert ids == sample["token_ids"], (
            f"completions choice {i}: token ids {ids} != lcb generate's {sample['token_ids']}"
        )
        same_logprobs(
            lp.token_logprobs,
            sample["logprobs"],
            f"completions choice {i} (got) vs lcb generate (wanted)",
        )
        assert len(lp.text_offset) == len(ids) and lp.text_offset[:1] == [0], (
            f"completions choice {i}: text_offset {lp.text_offset} for {len(ids)} tokens"
        )
        assert lp.text_offset == sorted(lp.text_offset), (
            f"completions choice {i}: text_offset {lp.text_offset} not increasing"
        )
    ok(
        f"completions n={N} seed={SEED} temperature={TEMPERATURE}: text, finish_reason, "
        "token ids and logprobs equal lcb generate's samples"
    )

    usage = response.usage
    assert usage is not None, "completions: no usage"
    generated = sum(len(c.logprobs.tokens) for c in choices)
    assert usage.completion_tokens == generated, (
        f"completions usage: completion_tokens {usage.completion_tokens} != {generated} "
        "tokens in the choices"
    )
    count = post_json(f"{base}/tokenize", {"model": model, "prompt": PROMPT})["count"]
    assert usage.prompt_tokens == count, (
        f"completions usage: prompt_tokens {usage.prompt_tokens} != /tokenize count {count}"
    )
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, (
        f"completions usage: total_tokens {usage.total_tokens} != prompt + completion"
    )
    ok(
        f"completions usage: prompt_tokens {count} = /tokenize count, completion_tokens "
        f"{generated} = the choices' tokens, total the sum"
    )
    return response


def check_greedy_and_stop(client, lcb_bin, model):
    """Greedy is deterministic; a stop string ends the text just before it."""
    def greedy(**kwargs):
        return client.completions.create(
            model=model, prompt=PROMPT, temperature=0, max_tokens=MAX_TOKENS, **kwargs
        )

    first, second = greedy(n=2), greedy(n=2)
    texts = [c.text for c in by_index(first.choices, 2, "greedy")]
    again = [c.text for c in by_index(second.choices, 2, "greedy (again)")]
    assert texts[0] == texts[1], f"greedy: the two choices differ: {texts}"
    assert texts == again, f"greedy: two calls differ: {texts} vs {again}"
    reference = lcb_generate(lcb_bin, model, PROMPT, 1, 0, 0, MAX_TOKENS)[0]
    assert texts[0] == reference["text"], (
        f"greedy: {texts[0]!r} != lcb generate --temperature 0's {reference['text']!r}"
    )
    ok(f"greedy (temperature 0) is deterministic across choices and calls: {texts[0]!r}")

    # A stop string from the middle of the unconstrained greedy text, first seen past its
    # start, so the stopped text is a non-empty proper prefix.
    text = texts[0]
    stop = next(
        (
            s
            for size in (3, 2, 1)
            for k in range(len(text) // 3, len(text) - size + 1)
            if (s := text[k : k + size]).strip() and text.find(s) > 0
        ),
        None,
    )
    assert stop is not None, f"stop: no usable stop string in the greedy text {text!r}"
    expected = text[: text.find(stop)]
    for stops in (stop, ["\x00never\x00", stop]):
        choice = greedy(stop=stops).choices[0]
        assert choice.text == expected, (
            f"stop {stops!r}: text {choice.text!r}, wanted the prefix before it {expected!r}"
        )
        assert choice.finish_reason == "stop", (
            f"stop {stops!r}: finish_reason {choice.finish_reason!r}, wanted 'stop'"
        )
    ok(f"stop {stop!r} (alone and in a list): text {expected!r}, finish_reason 'stop'")

    # Streamed, the text held back while it might begin the stop string is sent or dropped.
    chunks = list(greedy(stop=stop, stream=True))
    joined = "".join(c.choices[0].text for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    finishes = [f for f in finishes if f is not None]
    assert joined == expected, (
        f"streamed stop {stop!r}: deltas join to {joined!r}, not {expected!r}"
    )
    assert finishes == ["stop"], (
        f"streamed stop {stop!r}: finish reasons {finishes}, wanted ['stop']"
    )
    ok(f"streamed stop {stop!r}: the same text, one finish_reason 'stop'")


def chat_messages():
    return [{"role": "user", "content": CHAT_USER}]


def chat_reference(client, model, **kwargs):
    """The chat request of these checks: n seeded samples with logprobs, thinking off."""
    return client.chat.completions.create(
        model=model, messages=chat_messages(), n=CHAT_N, seed=SEED,
        temperature=TEMPERATURE, max_tokens=CHAT_MAX_TOKENS, logprobs=True,
        extra_body=NO_THINKING, **kwargs,
    )  # fmt: skip


def check_chat(client, base, lcb_bin, model):
    """Chat with thinking off: each choice is `lcb generate --chat --no-thinking`'s."""
    response = chat_reference(client, model)
    assert response.object == "chat.completion", f"chat: object {response.object!r}"
    choices = by_index(response.choices, CHAT_N, "chat")
    reference = lcb_generate(
        lcb_bin, model, CHAT_USER, CHAT_N, SEED, TEMPERATURE, CHAT_MAX_TOKENS,
        extra=("--chat", "--no-thinking"),
    )  # fmt: skip
    for choice, sample in zip(choices, reference):
        i = choice.index
        assert choice.message.role == "assistant", f"chat choice {i}: role {choice.message.role!r}"
        assert choice.message.content == sample["text"], (
            f"chat choice {i}: content {choice.message.content!r} != "
            f"lcb generate --chat --no-thinking's {sample['text']!r}"
        )
        assert choice.finish_reason == sample["finish_reason"], (
            f"chat choice {i}: finish_reason {choice.finish_reason!r} != "
            f"lcb generate's {sample['finish_reason']!r}"
        )
        assert choice.logprobs is not None and choice.logprobs.content is not None, (
            f"chat choice {i}: no logprobs despite logprobs=True"
        )
        got = [t.logprob for t in choice.logprobs.content]
        same_logprobs(got, sample["logprobs"], f"chat choice {i} (got) vs lcb generate (wanted)")
        joined = b"".join(bytes(t.bytes) for t in choice.logprobs.content)
        assert joined == sample["text"].encode(), (
            f"chat choice {i}: the tokens' bytes {joined!r} do not spell the content"
        )
        assert all(t.top_logprobs == [] for t in choice.logprobs.content), (
            f"chat choice {i}: top_logprobs not empty with top_logprobs absent"
        )
    usage = response.usage
    generated = sum(len(c.logprobs.content) for c in choices)
    count = post_json(
        f"{base}/tokenize", {"model": model, "messages": chat_messages(), **NO_THINKING}
    )["count"]
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        count,
        generated,
        count + generated,
    ), f"chat usage {usage} != prompt {count} (/tokenize), completion {generated}"
    ok(
        f"chat n={CHAT_N} (enable_thinking false, logprobs): content, finish_reason and "
        "logprobs equal lcb generate --chat --no-thinking's; usage consistent"
    )
    return response


def check_completions_stream(client, model, full):
    """The streamed choices are the non-streamed ones (`full`), token for token."""
    full = full or completions_reference(client, model)
    stream = completions_reference(
        client, model, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks, "completions stream: no chunks"
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1], (
        f"completions stream: {len(usage_chunks)} usage chunks; wanted one, the last"
    )
    assert chunks[-1].choices == [], "completions stream: the usage chunk has choices"
    assert chunks[-1].usage == full.usage, (
        f"completions stream: usage {chunks[-1].usage} != non-streamed {full.usage}"
    )
    texts, tokens, finishes = [""] * N, [[] for _ in range(N)], [[] for _ in range(N)]
    logprobs = [[] for _ in range(N)]
    for chunk in chunks[:-1]:
        assert len(chunk.choices) == 1, (
            f"completions stream: a chunk with {len(chunk.choices)} choices"
        )
        c = chunk.choices[0]
        texts[c.index] += c.text
        if c.logprobs is not None:
            tokens[c.index] += c.logprobs.tokens
            logprobs[c.index] += c.logprobs.token_logprobs
        if c.finish_reason is not None:
            finishes[c.index].append(c.finish_reason)
    for choice in full.choices:
        i = choice.index
        assert texts[i] == choice.text, (
            f"completions stream choice {i}: deltas join to {texts[i]!r}, not {choice.text!r}"
        )
        assert finishes[i] == [choice.finish_reason], (
            f"completions stream choice {i}: finish reasons {finishes[i]}, wanted "
            f"exactly one {choice.finish_reason!r}"
        )
        assert tokens[i] == choice.logprobs.tokens, (
            f"completions stream choice {i}: tokens {tokens[i]} != non-streamed "
            f"{choice.logprobs.tokens}"
        )
    ok(
        f"completions stream ({len(chunks)} chunks): deltas and tokens join to the "
        "non-streamed choices, one finish_reason each, the usage chunk last"
    )
    for choice in full.choices:
        same_logprobs(
            logprobs[choice.index],
            choice.logprobs.token_logprobs,
            f"completions stream choice {choice.index} (streamed) vs non-streamed",
        )
    ok("completions stream: the logprobs are the non-streamed ones")


def check_chat_stream(client, model, full):
    """The streamed choices are the non-streamed ones (`full`)."""
    full = full or chat_reference(client, model)
    stream = chat_reference(client, model, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks, "chat stream: no chunks"
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1], (
        f"chat stream: {len(usage_chunks)} usage chunks; wanted one, the last"
    )
    assert chunks[-1].choices == [], "chat stream: the usage chunk has choices"
    assert chunks[-1].usage == full.usage, (
        f"chat stream: usage {chunks[-1].usage} != non-streamed {full.usage}"
    )
    texts, finishes, roles = [""] * CHAT_N, [[] for _ in range(CHAT_N)], [[] for _ in range(CHAT_N)]
    logprobs = [[] for _ in range(CHAT_N)]
    for chunk in chunks[:-1]:
        assert chunk.object == "chat.completion.chunk", f"chat stream: object {chunk.object!r}"
        assert len(chunk.choices) == 1, f"chat stream: a chunk with {len(chunk.choices)} choices"
        c = chunk.choices[0]
        texts[c.index] += c.delta.content or ""
        if c.logprobs is not None and c.logprobs.content is not None:
            logprobs[c.index] += [t.logprob for t in c.logprobs.content]
        if c.delta.role is not None:
            roles[c.index].append(c.delta.role)
        if c.finish_reason is not None:
            finishes[c.index].append(c.finish_reason)
    for choice in full.choices:
        i = choice.index
        assert texts[i] == choice.message.content, (
            f"chat stream choice {i}: deltas join to {texts[i]!r}, not "
            f"{choice.message.content!r}"
        )
        assert finishes[i] == [choice.finish_reason], (
            f"chat stream choice {i}: finish reasons {finishes[i]}, wanted exactly one "
            f"{choice.finish_reason!r}"
        )
        assert roles[i] == ["assistant"], (
            f"chat stream choice {i}: roles {roles[i]}, wanted 'assistant' once"
        )
    ok(
        f"chat stream ({len(chunks)} chunks): deltas join to the non-streamed messages, one "
        "role and one finish_reason each, the usage chunk last"
    )
    for choice in full.choices:
        want = [t.logprob for t in choice.logprobs.content]
        where = f"chat stream choice {choice.index} (streamed) vs non-streamed"
        same_logprobs(logprobs[choice.index], want, where)
    ok("chat stream: the logprobs are the non-streamed ones")


def expect_error(kind, call, what, param=None):
    try:
        call()
    except kind as e:
        body = e.body if isinstance(e.body, dict) else {}
        message = body.get("message", "")
        if param is not None:
            assert e.param == param, f"{what}: error param {e.param!r}, wanted {param!r}: {body}"
            assert param in message, f"{what}: the message does not name {param!r}: {message!r}"
        ok(f"{what}: {kind.__name__} ({e.status_code}): {message}")
        return
    except openai.APIStatusError as e:
        raise AssertionError(
            f"{what}: {type(e).__name__} ({e.status_code}), wanted {kind.__name__}: {e.body}"
        ) from e
    raise AssertionError(f"{what}: no error, wanted {kind.__name__}")


def check_errors(client, model):
    def completion(**kwargs):
        args = {"model": model, "prompt": PROMPT, "max_tokens": 2, **kwargs}
        return lambda: client.completions.create(**args)

    expect_error(
        openai.NotFoundError, completion(model="no-such-model"), "unknown model", "model"
    )
    expect_error(
        openai.BadRequestError, completion(temperature=-1), "temperature -1", "temperature"
    )
    expect_error(
        openai.BadRequestError,
        completion(extra_body={"frobnicate": 1}),
        "unknown field frobnicate",
        "frobnicate",
    )
    expect_error(openai.BadRequestError, completion(logprobs=5), "logprobs 5", "logprobs")
    expect_error(
        openai.BadRequestError,
        lambda: client.chat.completions.create(
            model=model, messages=chat_messages(), max_tokens=2, logprobs=True, top_logprobs=3
        ),
        "chat top_logprobs 3",
        "top_logprobs",
    )
    expect_error(
        openai.NotFoundError,
        lambda: client.chat.completions.create(
            model="no-such-model", messages=chat_messages(), max_tokens=2
        ),
        "chat unknown model",
        "model",
    )


def main():
    base = arg(1, "LCB_SERVE_URL")
    lcb_bin = arg(2, "LCB_BIN")
    if not base or not lcb_bin:
        sys.exit(__doc__)
    base = base.rstrip("/")
    started = time.monotonic()
    print(f"openai {openai.__version__} against {base}/v1", flush=True)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=120)
    model = arg(3, "LCB_MODEL") or client.models.list().data[0].id
    failures = []

    def run(check, *args):
        """Runs one group of checks; a failed one is reported and the others still run."""
        try:
            return check(*args)
        except AssertionError as e:
            failures.append(f"{check.__name__}: {e}")
            print(f"FAIL: {check.__name__}: {e}", flush=True)
        except openai.APIError as e:
            failures.append(f"{check.__name__}: {type(e).__name__}: {e}")
            print(f"FAIL: {check.__name__}: {type(e).__name__}: {e}", flush=True)
        return None

    run(check_models, client, model)
    run(check_greedy_and_stop, client, lcb_bin, model)
    run(check_errors, client, model)
    # The streams are compared with the non-streamed responses of the same seed (asked
    # again when the checks of those failed).
    full = run(check_completions, client, base, lcb_bin, model)
    run(check_completions_stream, client, model, full)
    chat = run(check_chat, client, base, lcb_bin, model)
    run(check_chat_stream, client, model, chat)
    elapsed = time.monotonic() - started
    if failures:
        print(f"{len(failures)} check group(s) failed in {elapsed:.1f} s:", flush=True)
        for f in failures:
            print(f"  {f}", flush=True)
        sys.exit(1)
    print(f"all checks passed in {elapsed:.1f} s", flush=True)


if __name__ == "__main__":
    main()
