"""A byte-level BPE tokenizer trained locally with `tokenizers`, shaped like Qwen3's.

Pre-tokenization cuts text into PDDL symbols: a name with its leading space and the parentheses
that open or close on it, so `(on b3 b2)` is at most three tokens, `(on`, ` b3`, ` b2)`, once
the vocabulary holds them (the pretraining corpus puts every frequent symbol there). Fewer
tokens per atom make both pretraining and sampling cheaper: a trace is decoded one token a step.
The chat template mirrors Qwen3-Thinking: the generation prompt ends in `<think>\\n`, so the
model's output has no opening tag and closes with `</think>`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"  # ends every assistant turn: the stop (eos) token
THINK_TAGS = ["<think>", "</think>"]
SPECIAL_TOKENS = [PAD, IM_START, IM_END, *THINK_TAGS]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n<think>\n' }}{% endif %}"
)

# A symbol: an optional space, an optional "(", a name, its closing ")"s; else a run of
# whitespace, or a parenthesis on its own.
_PRETOKEN = Regex(r" ?\(?[^\s()]+\)*|\s+|[()]")


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Return a byte-level BPE tokenizer with `vocab_size` entries trained on `texts`."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(_PRETOKEN, behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    # As in Qwen3: the reasoning tags are added tokens but not special ones, so decoding with
    # skip_special_tokens=True keeps them in the text.
    wrapped.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in THINK_TAGS])
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def seed_corpus(seed: int = 0, lines: int = 4000) -> list[str]:
    """Return PDDL-flavoured lines (actions, atoms, keywords) for a tokenizer without real data.

    Enough for a random-init test model: it covers the action language of the classic domains
    and the trace format, not any particular task.
    """
    rng = random.Random(seed)
    actions = {
        "pick-up": 1, "put-down": 1, "stack": 2, "unstack": 2, "pick": 3, "drop": 3,
        "move": 2, "load-truck": 3, "unload-truck": 3, "drive-truck": 4, "fly-airplane": 3,
        "navigate": 3, "sample_soil": 3, "take_image": 5, "push-to-goal": 7, "board": 2,
    }  # fmt: skip
    keywords = (
        "user assistant define domain problem :objects :init :goal and not on clear ontable holding"
    )
    objects = [
        f"{p}{i}" for p in ("b", "ball", "room", "truck", "pos-", "rover", "c") for i in range(10)
    ]
    objects += list("abcdefghij")
    out = [keywords, "(:requirements :strips :typing)", "</think>"]
    for _ in range(lines):
        name, arity = rng.choice(list(actions.items()))
        args = " ".join(rng.choice(objects) for _ in range(arity))
        out.append(f"({name} {args})")
    return out
