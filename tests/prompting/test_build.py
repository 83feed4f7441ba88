"""Prompt templates: the paper prompt with its worked examples, the compact one, chat templates."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from iterdeploy.embedded import build_random_model
from iterdeploy.errors import ConfigError, PDDLParseError
from iterdeploy.pddl.validate import validate_plan
from iterdeploy.prompting.build import EXAMPLES, build_prompt, example, render_chat


@pytest.fixture(scope="module")
def blocksworld(benchmarks):
    root = benchmarks / "ipc2023-learning" / "blocksworld"
    problem = sorted((root / "training" / "easy").glob("*.pddl"))[0]
    return (root / "domain.pddl").read_text(), problem.read_text()


@pytest.mark.parametrize("name", EXAMPLES)
def test_worked_example_plans_are_valid(name):
    from iterdeploy.pddl.parser import parse_domain, parse_problem

    domain, problem, plan = example(name)
    verdict = validate_plan(parse_domain(domain), parse_problem(problem), plan)
    assert verdict.valid, verdict
    assert verdict.length >= 5


def test_paper_prompt_holds_both_examples_then_the_task(blocksworld):
    domain, problem = blocksworld
    prompt = build_prompt("paper", "blocksworld", domain, problem)
    for name in EXAMPLES:
        for part in example(name):
            assert part in prompt
    assert prompt.index("(domain gripper)") < prompt.index("(domain logistics)")
    assert prompt.index("(domain logistics)") < prompt.rindex(domain.strip())
    assert prompt.endswith(problem.strip())
    assert "one action per line" in prompt
    assert "$" not in prompt  # every placeholder was filled


def test_compact_prompt_lists_objects_init_and_goal(blocksworld):
    domain, problem = blocksworld
    lines = build_prompt("compact", "blocksworld", domain, problem).splitlines()
    assert [line.split(":")[0] for line in lines] == ["domain", "objects", "init", "goal"]
    assert lines[0] == "domain: blocksworld"
    assert lines[1].split() == ["objects:", "b1", "b2"]
    assert "(arm-empty)" in lines[2]
    assert lines[3].startswith("goal: (")
    assert len(" ".join(lines)) < len(problem)  # shorter than the PDDL it encodes


def test_compact_prompt_keeps_negative_goals():
    domain = """(define (domain d) (:predicates (p ?x) (q ?x))
      (:action flip :parameters (?x) :precondition (p ?x) :effect (and (q ?x) (not (p ?x)))))"""
    problem = "(define (problem t) (:domain d) (:objects a) (:init (p a)) (:goal (not (p a))))"
    assert build_prompt("compact", "d", domain, problem).endswith("goal: (not (p a))")


def test_unknown_template_lists_the_known_ones():
    with pytest.raises(ConfigError, match="paper, compact"):
        build_prompt("short", "d", "", "")


def test_compact_prompt_reports_unreadable_pddl_with_its_location():
    with pytest.raises(PDDLParseError, match="<problem>:1"):
        build_prompt("compact", "d", "", "(define (problem")


def test_render_chat_applies_the_models_template_or_leaves_the_prompt(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(build_random_model(tmp_path / "m"))
    rendered = render_chat(tokenizer, "goal: (on a b)")
    assert rendered.startswith("<|im_start|>user\ngoal: (on a b)<|im_end|>")
    assert rendered.endswith("<|im_start|>assistant\n<think>\n")
    tokenizer.chat_template = None
    assert render_chat(tokenizer, "goal: (on a b)") == "goal: (on a b)"
