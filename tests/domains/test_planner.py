"""The reference planner: Fast Downward through the up-fast-downward wheel, and BFS."""

from __future__ import annotations

import random

from iterdeploy.domains import DOMAINS
from iterdeploy.domains.planner import (
    OPTIMAL_SEARCH,
    PlannerConfig,
    breadth_first_plan,
    driver_path,
    exit_status,
    find_plan,
    read_plan,
    run_fast_downward,
)
from iterdeploy.pddl.parser import parse_domain, parse_problem
from iterdeploy.pddl.validate import prepare

BLOCKS = DOMAINS.get("blocksworld")
CYCLE = """(define (problem cycle) (:domain blocksworld)
  (:objects b1 b2)
  (:init (arm-empty) (on-table b1) (on-table b2) (clear b1) (clear b2))
  (:goal (and (on b1 b2) (on b2 b1))))
"""


def checker(problem):
    return prepare(parse_domain(BLOCKS.domain_pddl), parse_problem(problem))


def test_driver_script_ships_with_the_wheel():
    assert driver_path().name == "fast-downward.py"
    assert driver_path().is_file()


def test_lama_then_astar_gives_an_optimal_valid_plan():
    problem = BLOCKS.generate(random.Random(5), {"blocks": 5})
    result = find_plan(BLOCKS.domain_pddl, problem, PlannerConfig(bfs_states=0))
    assert result.status == "solved" and result.optimal and result.method == OPTIMAL_SEARCH
    assert checker(problem).validate(list(result.plan)).valid
    # breadth-first search agrees on the optimal length
    assert len(breadth_first_plan(checker(problem), 100_000)) == len(result.plan)


def test_unsolvable_problem_is_reported_not_raised():
    plan, status = run_fast_downward(BLOCKS.domain_pddl, CYCLE, "lama-first", 20, 2048)
    assert plan is None
    assert status == "unsolvable"
    assert breadth_first_plan(checker(CYCLE), 1000) is None


def test_breadth_first_search_gives_up_beyond_its_state_budget():
    problem = BLOCKS.generate(random.Random(1), {"blocks": 9})
    assert breadth_first_plan(checker(problem), 50) is None


def test_plan_files_are_normalised_to_lower_case_steps():
    text = "(PICKUP B1)\n(stack  b1 b2)\n; cost = 2 (unit cost)\n"
    assert read_plan(text) == ("(pickup b1)", "(stack b1 b2)")


def test_exit_codes_map_to_status_words():
    assert exit_status(12, "") == "unsolvable"
    assert exit_status(23, "") == "timeout"
    assert exit_status(22, "") == "out-of-memory"
    status = exit_status(30, "Traceback ...\\n  File x\\nMemoryError\\n'")
    assert status == "error: exit code 30 MemoryError"


def test_domain_solve_is_an_oracle_for_generated_problems():
    rovers = DOMAINS.get("rovers")
    rng = random.Random(3)
    problem = rovers.generate(rng, rovers.sample_params(rng, rovers.level_ranges(1)))
    plan = rovers.solve(problem)
    rovers_domain = parse_domain(rovers.domain_pddl)
    assert prepare(rovers_domain, parse_problem(problem)).validate(list(plan)).valid
    assert BLOCKS.solve(CYCLE) is None
