"""Prompts from text templates: `paper` (full PDDL + two worked examples) and `compact`.

`paper` follows the paper's prompt: the domain and problem PDDL, preceded by solved Gripper and
Logistics examples, asking for reasoning and then one `(action args)` per line. `compact` is a
few lines of state for tiny models on CPU, where a 1500-token prompt makes generation about 10x
slower. The model's chat template is applied later, by whoever owns its tokenizer
(`render_chat`).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template
from typing import Protocol

from iterdeploy.errors import ConfigError
from iterdeploy.pddl.parser import parse_problem

TEMPLATES = ("paper", "compact")
EXAMPLES = ("gripper", "logistics")  # the paper's two worked examples, from unrelated domains


class ChatTokenizer(Protocol):
    """The part of a Hugging Face tokenizer that `render_chat` uses."""

    chat_template: str | None

    def apply_chat_template(self, conversation: list[dict[str, str]], **kwargs: object) -> str: ...


@cache
def read_template(name: str) -> str:
    """Return the text of `templates/<name>.txt` shipped with the package."""
    return files("iterdeploy.prompting").joinpath("templates").joinpath(f"{name}.txt").read_text()


def example(domain: str) -> tuple[str, str, str]:
    """Return (domain PDDL, problem PDDL, plan) of the worked example of `domain`."""
    parts = ("domain", "problem", "plan")
    return tuple(read_template(f"example_{domain}_{part}").strip() for part in parts)  # type: ignore[return-value]


def build_prompt(template: str, domain_name: str, domain_pddl: str, problem_pddl: str) -> str:
    """Return the prompt for one task rendered with `template` ("paper" or "compact").

    Raises `ConfigError` for an unknown template and `PDDLParseError` for PDDL that the
    compact template cannot read.
    """
    if template == "paper":
        fields = {"domain_pddl": domain_pddl.strip(), "problem_pddl": problem_pddl.strip()}
        for name in EXAMPLES:
            domain, problem, plan = example(name)
            fields |= {f"{name}_domain": domain, f"{name}_problem": problem, f"{name}_plan": plan}
    elif template == "compact":
        fields = compact_fields(domain_name, problem_pddl)
    else:
        raise ConfigError(
            f"model.template = {template!r} is unknown: use one of {', '.join(TEMPLATES)}"
        )
    return Template(read_template(template)).substitute(fields).rstrip("\n")


def compact_fields(domain_name: str, problem_pddl: str) -> dict[str, str]:
    """Return the compact template's fields: the domain name, objects, init and goal atoms.

    The action schemas are left out: a tiny model learns them from its training traces, and
    every prompt token costs CPU time in generation and training alike.
    """
    problem = parse_problem(problem_pddl)
    return {
        "domain_name": domain_name,
        "objects": " ".join(o.name for o in problem.objects),
        "init": " ".join(map(str, problem.init)),
        "goal": " ".join(map(str, problem.goal)),
    }


def render_chat(tokenizer: ChatTokenizer, prompt: str) -> str:
    """Return `prompt` as the model sees it: in its chat template when it has one, else as is.

    The generation prompt of the template is added (for Qwen3-Thinking it ends in `<think>`).
    """
    if not getattr(tokenizer, "chat_template", None):
        return prompt
    messages = [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
