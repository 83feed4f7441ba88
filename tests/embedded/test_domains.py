"""Every registered domain works as a pool domain with the embedded model.

For each domain: an embedded model pretrained on that domain alone (a scaled-down recipe, 1,500
walks), the loop's generation 0 on a pool of that domain, and what the model wrote. The model
is pretrained on random legal walks that ignore the goal: it must write the domain's actions
(most steps name known actions and objects, some plans are legal from start to end), and it
must not plan better than such walks do. Valid traces come at about the rate a random walk of
the pretraining length ends in the goal times the share of legal plans. With this small recipe,
of the 9 domains where such walks end in the goal 5% of the time or more, 6 gave valid traces
(Blocksworld, Ferry, Floortile, Gripper, Miconic, Spanner) and Rovers, Sokoban and Transport
none in 512 samples, so valid traces are not required here; the full recipe gives them in all
three paper domains (bench/RESULTS.md, paper-cpu).
"""

from __future__ import annotations

import random
from statistics import fmean

import pytest

from iterdeploy.analysis.data import load_run
from iterdeploy.config import load_config
from iterdeploy.domains import DOMAINS
from iterdeploy.embedded.walks import parsed_domain
from iterdeploy.loop.orchestrator import start_run
from iterdeploy.pddl.parser import parse_problem
from iterdeploy.pddl.validate import prepare

SAMPLES = 64  # per task: 8 tasks x 64 samples = 512 traces
MAX_STEPS = 6  # the pretraining walks' length, as in the default recipe
# Reasons that mean the model did not write the domain's language: a step that does not parse,
# names no action, has the wrong arity or names an object the task lacks.
MALFORMED = {"unparsable", "unknown-action", "wrong-arity", "unknown-object", "type-mismatch"}


def walk_goal_rate(domain: str, problems: list[str], walks: int = 200) -> float:
    """Return how often a uniform random legal walk of 1..MAX_STEPS steps ends in the goal."""
    rng, hits = random.Random(0), 0
    for text in problems:
        checker = prepare(parsed_domain(domain), parse_problem(text))
        for _ in range(walks):
            state = checker.initial_state()
            for _ in range(rng.randint(1, MAX_STEPS)):
                actions = checker.applicable(state)
                if not actions:
                    break
                state = checker.apply(state, rng.choice(actions))
            hits += checker.is_goal(state)
    return hits / (walks * len(problems))


@pytest.mark.parametrize("domain", DOMAINS.names())
def test_the_embedded_model_deploys_on_every_domain(domain, cache, tmp_path):
    overrides = [
        f"pool.domains=['{domain}']",
        "pool.size=8",
        "pool.heldout=0.0",
        "pool.levels=[0]",
        "loop.generations=0",
        "loop.validation_workers=1",
        "embedded.size=small",
        "embedded.levels=[0]",
        "embedded.examples=1500",
        "embedded.tokenizer_examples=300",
        f"generation.n={SAMPLES}",
        "generation.temperature=1.0",
        "generation.max_tokens=128",
        "model.backend_options={'dtype': 'float32', 'batch_size': 128}",
    ]
    data = load_run(start_run(load_config("quickstart", overrides), tmp_path / "run"))
    traces = data.traces_of(0, 0, "pool")
    assert len(traces) == 8 * SAMPLES  # every sample stored, each with a verdict
    assert all(t.reason for t in traces)
    legal = [t for t in traces if t.valid or t.reason == "goal-not-reached"]
    malformed = [t for t in traces if t.reason in MALFORMED]
    # It writes the domain's actions: most traces name known actions and objects, and some are
    # legal plans from start to end.
    assert len(malformed) < 0.5 * len(traces), sorted({t.reason for t in malformed})
    assert legal, f"{domain}: no legal plan in {len(traces)} samples"
    rate = walk_goal_rate(domain, [t.problem for t in data.tasks.values()])
    # A walk-pretrained base does not plan: its valid share stays near the walks' (a base that
    # already planned would leave the loop nothing to teach).
    assert fmean(t.valid for t in traces) <= max(4 * rate, 0.05)
