from __future__ import annotations

import torch

from iterdeploy.analysis import theory
from iterdeploy.cli import main


def _toy(seed: int = 0):
    task = theory.ToyTask()
    traces = theory.enumerate_traces(task)
    valid = theory.is_valid(traces, task)
    theta_pi, theta_beta = theory._policies(task, torch.Generator().manual_seed(seed))
    pi = theory.log_probs(theta_pi, traces).exp()
    beta = theory.log_probs(theta_beta, traces).exp()
    return traces, valid, theta_pi, pi, beta


def test_toy_task_has_the_expected_valid_traces():
    traces, valid, *_ = _toy()
    # 4 moves summing to +2: two rights and two waits (6 orders) or three rights and a left (4).
    assert traces.shape == (81, 4)
    assert int(valid.sum()) == 10


def test_all_theory_checks_pass_including_tiny_lm():
    checks = theory.run_checks(seed=1, samples=50_000, lm=True)
    failed = [(c.name, c.error, c.tolerance) for c in checks if not c.passed]
    assert not failed
    names = {c.name for c in checks}
    assert "prop 1 (tiny Qwen3, autograd): g_SFT = (N/N+) g_REINFORCE" in names
    assert "batch of one: sum of per-trace SFT losses = N g_REINFORCE(1_valid/|y|)" in names
    assert sum(c.tolerance is not None for c in checks) >= 15


def test_effective_reward_is_the_density_ratio_of_the_curated_mixture():
    _, valid, _, pi, beta = _toy()
    for lam in (0.0, 0.3, 1.0):
        reward = theory.effective_reward(pi, beta, valid, lam)
        # pi * R_eff is the curated data distribution: it sums to one and lives on valid traces.
        assert abs(float((pi * reward).sum()) - 1.0) < 1e-12
        assert float((pi * reward * (1 - valid)).abs().sum()) == 0.0


def test_literal_form_points_elsewhere_when_success_rates_differ():
    checks = theory.check_proposition_2(
        theory.ToyTask(), 0.5, 20_000, 4.0, torch.Generator().manual_seed(0)
    )
    by_name = {c.name: c for c in checks}
    z_equal = by_name["prop 2 literal form: direction error if Z_pi = Z_beta"]
    z_differ = by_name["prop 2 literal form: direction error (report)"]
    assert z_equal.error < 1e-12
    assert z_differ.error > 0.05


def test_monte_carlo_check_rejects_the_literal_reward():
    # The same estimator with the paper's un-normalised reward is off by many standard errors:
    # the Monte Carlo check has the power to tell the two forms apart.
    traces, valid, theta_pi, pi, beta = _toy()
    scores = theory.score_functions(theta_pi, traces)
    exact = (pi * theory.effective_reward(pi, beta, valid, 0.5)) @ scores
    wrong = theory.literal_reward(pi, beta, valid, 0.5)
    gen = torch.Generator().manual_seed(0)
    _, (estimate, se) = theory._monte_carlo(pi, beta, valid, scores, wrong, 0.5, 50_000, gen)
    check = theory._monte_carlo_check("literal", estimate, se, exact, 50_000, 4.0)
    assert not check.passed
    assert check.error > 40


def test_batch_of_one_adds_a_length_preference():
    checks = theory.check_batch_of_one(32, torch.Generator().manual_seed(0), 0)
    identity, direction = checks
    assert identity.passed and identity.error < 1e-6
    # Lengths 1-8 in this sample: weighting by 1/|y| turns the gradient well away from 0/1.
    assert direction.tolerance is None and direction.error > 0.1


def test_cli_theory_prints_the_checks_and_exits_0(capsys):
    assert main(["theory", "--samples", "20000", "--no-lm"]) == 0
    out = capsys.readouterr().out
    assert "prop 2 (exact): g_SFT = g_REINFORCE(R_eff)" in out
    assert "checks within tolerance" in out
    assert "FAIL" not in out
