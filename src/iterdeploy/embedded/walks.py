"""Pretraining data for the embedded model: random walks rendered as traces.

Each example is a generated task of a pool domain, shown in the `compact` prompt, and a trace in
the format real traces have: a reasoning segment, `</think>`, then one action per line. The
"plan" is a random walk of applicable actions from the initial state that ignores the goal, so
the model learns the action language (which actions exist, which apply where, how a plan is
written) but not planning: only walks that happen to end in a goal state solve their task. The
reasoning segment restates the first k goal atoms, k drawn at random, so traces vary in
reasoning length (curation's token tie-break has something to choose between) while the segment
stays cheap to learn: copying from the prompt, not noise.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from iterdeploy.domains import DOMAINS
from iterdeploy.pddl.model import Domain as ParsedDomain
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare
from iterdeploy.prompting.build import build_prompt
from iterdeploy.prompting.extract import THINK_END


@dataclass(frozen=True, slots=True)
class WalkSpec:
    """Which tasks to draw and how long their walks and reasoning segments are."""

    domains: tuple[str, ...]  # names in iterdeploy.domains.DOMAINS
    levels: tuple[int, ...]  # difficulty ladder levels the tasks come from
    max_steps: int  # walks take 1..max_steps actions, uniformly (fewer if a dead end comes)
    max_reasoning_lines: int  # reasoning restates the first 1..this many goal atoms, uniformly


def render_trace(reasoning: list[str], plan: list[str]) -> str:
    """Return trace text as a thinking model writes it after `<think>\\n`.

    >>> render_trace(["(clear b1)"], ["(pickup b1)", "(stack b1 b2)"])
    '(clear b1)\\n</think>\\n\\n(pickup b1)\\n(stack b1 b2)'
    """
    return "\n".join(reasoning) + f"\n{THINK_END}\n\n" + "\n".join(plan)


@cache
def parsed_domain(name: str) -> ParsedDomain:
    return parse_domain(DOMAINS.get(name).domain_pddl, filename=f"{name}/domain.pddl")


def walk_example(spec: WalkSpec, rng: random.Random) -> dict[str, str]:
    """Return one `{"prompt", "completion"}` example: a fresh task and a random walk on it."""
    domain = DOMAINS.get(rng.choice(spec.domains))
    params = domain.sample_params(rng, domain.level_ranges(rng.choice(spec.levels)))
    problem_pddl = domain.generate(rng, params)
    problem = parse_problem(problem_pddl)
    checker = prepare(parsed_domain(domain.name), problem)
    state, plan = checker.initial_state(), []
    for _ in range(rng.randint(1, spec.max_steps)):
        actions = checker.applicable(state)
        if not actions:
            break
        action = rng.choice(actions)
        plan.append(action)
        state = checker.apply(state, action)
    goal = [str(g) for g in problem.goal]
    reasoning = goal[: rng.randint(1, min(len(goal), spec.max_reasoning_lines))]
    prompt = build_prompt("compact", domain.name, domain.domain_pddl, problem_pddl)
    return {"prompt": prompt, "completion": render_trace(reasoning, plan)}


def walk_examples(spec: WalkSpec, count: int, seed: int) -> Iterator[dict[str, str]]:
    """Yield `count` examples drawn from `random.Random(seed)` alone."""
    rng = random.Random(seed)
    for _ in range(count):
        yield walk_example(spec, rng)
