"""Numerical checks of the paper's two propositions: curated SFT is REINFORCE in disguise.

Proposition 1 (on-policy): of N sampled traces, N+ are valid; the SFT gradient on the valid ones
is (N/N+) times the REINFORCE gradient with reward 1_valid. Proposition 2 (pooled generations):
SFT on a lam : (1-lam) mixture of current-policy and earlier-policy valid traces is, in
expectation, REINFORCE with R_eff = 1_valid * (lam/Z_pi + (1-lam) * beta/(Z_beta * pi)), where Z
is a policy's success probability. The paper writes 1_valid * (lam + (1-lam) * beta/pi); that
form points the same way only when Z_pi = Z_beta. The checks run on a toy autoregressive softmax
policy whose trace space is small enough to enumerate, and with autograd on a tiny random Qwen3
causal LM. docs/theory.md has the derivation.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

DTYPE = torch.float64  # the identities are exact: double precision shows them to ~1e-15
MOVES = (-1, 0, 1)  # toy action language: step left, wait, step right on a line


@dataclass(frozen=True, slots=True)
class Check:
    """One numerical comparison; `tolerance=None` marks a figure that is reported, not gated."""

    name: str
    error: float
    tolerance: float | None
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.tolerance is None or self.error <= self.tolerance


@dataclass(frozen=True, slots=True)
class ToyTask:
    """A one-dimensional planning task: a trace is `length` moves, valid iff they sum to `goal`."""

    length: int = 4  # steps per trace: 3**4 = 81 traces in all
    goal: int = 2  # required net displacement


# ---- toy policy: bigram softmax over moves, logits[context, move] ----------------------------


def enumerate_traces(task: ToyTask) -> torch.Tensor:
    """Return every trace of the toy task as move indices, shape (len(MOVES)**length, length)."""
    rows = list(itertools.product(range(len(MOVES)), repeat=task.length))
    return torch.tensor(rows, dtype=torch.long)


def is_valid(traces: torch.Tensor, task: ToyTask) -> torch.Tensor:
    """Return the 0/1 validity of each trace (the validator of the toy task) as floats."""
    displacement = torch.tensor(MOVES, dtype=torch.long)[traces].sum(dim=1)
    return (displacement == task.goal).to(DTYPE)


def _contexts(traces: torch.Tensor) -> torch.Tensor:
    # Context of step t is the previous move + 1; context 0 is the start of the trace.
    start = torch.zeros(traces.shape[0], 1, dtype=torch.long)
    return torch.cat([start, traces[:, :-1] + 1], dim=1)


def log_probs(theta: torch.Tensor, traces: torch.Tensor) -> torch.Tensor:
    """Return log pi_theta(y) for each trace; theta has shape (len(MOVES) + 1, len(MOVES))."""
    step_logp = torch.log_softmax(theta, dim=-1)[_contexts(traces), traces]
    return step_logp.sum(dim=1)


def score_functions(theta: torch.Tensor, traces: torch.Tensor) -> torch.Tensor:
    """Return grad_theta log pi(y) per trace in closed form, shape (n_traces, theta.numel())."""
    probs = torch.softmax(theta.detach(), dim=-1)
    contexts = _contexts(traces)
    grads = torch.zeros(traces.shape[0], *theta.shape, dtype=DTYPE)
    rows = torch.arange(traces.shape[0])
    for t in range(traces.shape[1]):  # d/dlogits of log softmax = onehot(move) - probs
        grads[rows, contexts[:, t]] -= probs[contexts[:, t]]
        grads[rows, contexts[:, t], traces[:, t]] += 1.0
    return grads.reshape(traces.shape[0], -1)


def success_probability(theta: torch.Tensor, traces: torch.Tensor, valid: torch.Tensor):
    """Return Z = P_pi(valid), differentiable in theta."""
    return (log_probs(theta, traces).exp() * valid).sum()


def effective_reward(
    pi: torch.Tensor, beta: torch.Tensor, valid: torch.Tensor, lam: float
) -> torch.Tensor:
    """Return R_eff(y) = 1_valid * (lam/Z_pi + (1-lam) * beta/(Z_beta * pi)) per trace."""
    z_pi, z_beta = (pi * valid).sum(), (beta * valid).sum()
    return valid * (lam / z_pi + (1 - lam) * beta / (z_beta * pi))


def literal_reward(
    pi: torch.Tensor, beta: torch.Tensor, valid: torch.Tensor, lam: float
) -> torch.Tensor:
    """Return the paper's R(y) = 1_valid * (lam + (1-lam) * beta/pi), without normalisers."""
    return valid * (lam + (1 - lam) * beta / pi)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def _sine(a: torch.Tensor, b: torch.Tensor) -> float:
    # Relative error left after the best rescaling of `a`: 0 iff the two point the same way.
    # (The residual of a_hat off b_hat, not sqrt(1 - cos^2), which loses half the digits.)
    a_hat, b_hat = a / torch.linalg.vector_norm(a), b / torch.linalg.vector_norm(b)
    return float(torch.linalg.vector_norm(a_hat - torch.dot(a_hat, b_hat) * b_hat))


def _policies(task: ToyTask, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (theta_pi, theta_beta): an earlier policy beta and a better one pi grown from it."""
    traces = enumerate_traces(task)
    valid = is_valid(traces, task)
    theta_beta = 0.5 * torch.randn(len(MOVES) + 1, len(MOVES), generator=gen, dtype=DTYPE)
    theta = theta_beta.clone().requires_grad_(True)
    for _ in range(3):  # a few ascent steps on log Z: the next generation solves more
        (grad,) = torch.autograd.grad(success_probability(theta, traces, valid).log(), theta)
        theta = (theta + 0.5 * grad).detach().requires_grad_(True)
    return theta.detach(), theta_beta


# ---- Proposition 1 ---------------------------------------------------------------------------


def check_proposition_1(task: ToyTask, n: int, gen: torch.Generator) -> list[Check]:
    """Return the Proposition 1 checks on the toy policy (sampled batch and expectation)."""
    traces, theta_pi = enumerate_traces(task), _policies(task, gen)[0]
    valid = is_valid(traces, task)
    analytic = score_functions(theta_pi, traces)
    by_autograd = torch.func.jacrev(lambda th: log_probs(th, traces))(theta_pi)
    by_autograd = by_autograd.reshape(traces.shape[0], -1)
    theta = theta_pi.clone().requires_grad_(True)
    pi = log_probs(theta_pi, traces).exp()
    batch = _draw_with_some_valid(pi, valid, n, gen)
    n_plus = int(valid[batch].sum())
    sample = traces[batch]
    # The two losses as a trainer would write them: mean NLL of the valid traces, and the
    # REINFORCE surrogate -(1/N) sum_i r_i log pi(y_i).
    sft_loss = -log_probs(theta, sample[valid[batch] == 1]).mean()
    rf_loss = -(valid[batch] * log_probs(theta, sample)).mean()
    (g_sft,) = torch.autograd.grad(sft_loss, theta)
    (g_rf,) = torch.autograd.grad(rf_loss, theta)
    z = success_probability(theta, traces, valid)
    (g_z,) = torch.autograd.grad(z, theta)
    expected_rf = (pi * valid) @ analytic
    return [
        Check(
            "score function: closed form = autograd",
            float((analytic - by_autograd).abs().max()),
            1e-12,
            f"{traces.shape[0]} traces, max abs difference",
        ),
        Check(
            "prop 1 (toy): g_SFT = (N/N+) g_REINFORCE",
            _rel(g_sft, (n / n_plus) * g_rf),
            1e-12,
            f"N={n}, N+={n_plus}, relative error",
        ),
        Check(
            "prop 1 (toy): E[g_REINFORCE] = grad Z_pi",
            _rel(expected_rf, g_z.reshape(-1)),
            1e-12,
            f"enumerated over {traces.shape[0]} traces, Z_pi={z.item():.4f}",
        ),
    ]


def _draw_with_some_valid(
    pi: torch.Tensor, valid: torch.Tensor, n: int, gen: torch.Generator
) -> torch.Tensor:
    # Proposition 1 needs N+ > 0; redraw the (seeded) batch until it has a valid trace.
    for _ in range(100):
        batch = torch.multinomial(pi, n, replacement=True, generator=gen)
        if valid[batch].sum() > 0:
            return batch
    raise RuntimeError(f"no valid trace in 100 batches of {n}: the toy policy never succeeds")


# ---- Proposition 2 ---------------------------------------------------------------------------


def check_proposition_2(
    task: ToyTask, lam: float, samples: int, tolerance: float, gen: torch.Generator
) -> list[Check]:
    """Return the Proposition 2 checks: exact by enumeration, Monte Carlo, and the literal form."""
    traces = enumerate_traces(task)
    valid = is_valid(traces, task)
    theta_pi, theta_beta = _policies(task, gen)
    pi = log_probs(theta_pi, traces).exp()
    beta = log_probs(theta_beta, traces).exp()
    z_pi, z_beta = float((pi * valid).sum()), float((beta * valid).sum())
    scores = score_functions(theta_pi, traces)
    # The SFT objective: expected log-likelihood under the curated mixture q (held fixed).
    q = lam * pi * valid / z_pi + (1 - lam) * beta * valid / z_beta
    theta = theta_pi.clone().requires_grad_(True)
    (g_sft,) = torch.autograd.grad((q * log_probs(theta, traces)).sum(), theta)
    g_sft = g_sft.reshape(-1)
    reward = effective_reward(pi, beta, valid, lam)
    g_rf = (pi * reward) @ scores
    g_lit = (pi * literal_reward(pi, beta, valid, lam)) @ scores
    (mc_sft, sft_se), (mc_rf, rf_se) = _monte_carlo(
        pi, beta, valid, scores, reward, lam, samples, gen
    )
    same_z = _same_success_reweighting(pi, valid)
    g_same = (pi * effective_reward(pi, same_z, valid, lam)) @ scores
    g_same_lit = (pi * literal_reward(pi, same_z, valid, lam)) @ scores
    ratio = f"lam={lam}, Z_pi={z_pi:.4f}, Z_beta={z_beta:.4f}"
    return [
        Check("prop 2 (exact): g_SFT = g_REINFORCE(R_eff)", _rel(g_rf, g_sft), 1e-12, ratio),
        _monte_carlo_check("SFT on mixture samples", mc_sft, sft_se, g_sft, samples, tolerance),
        _monte_carlo_check("REINFORCE on pi samples", mc_rf, rf_se, g_sft, samples, tolerance),
        Check(
            "prop 2 literal form: direction error if Z_pi = Z_beta",
            _sine(g_same_lit, g_same),
            1e-12,
            "beta reweights pi within valid traces; then R_lit = Z * R_eff",
        ),
        Check(
            "prop 2 literal form: direction error (report)",
            _sine(g_lit, g_sft),
            None,
            f"{ratio}; error left after the best rescaling",
        ),
        Check(
            "prop 2 literal form: relative error (report)",
            _rel(g_lit, g_sft),
            None,
            ratio,
        ),
    ]


def _monte_carlo_check(what, estimate, se, exact, samples, tolerance) -> Check:
    # Error in standard errors: ||estimate - exact|| / ||std error||. For an unbiased estimate it
    # is about 1 (over 20 seeds it stayed below 2); a biased one grows with sqrt(samples).
    error = float(torch.linalg.vector_norm(estimate - exact) / torch.linalg.vector_norm(se))
    note = f"{samples} samples, relative error {_rel(estimate, exact):.2e}; error in std errors"
    return Check(f"prop 2 (Monte Carlo): {what}", error, tolerance, note)


def _monte_carlo(pi, beta, valid, scores, reward, lam, samples, gen):
    """Return [(estimate, standard-error vector)] for SFT on mixture draws and REINFORCE on pi."""
    from_pi = round(lam * samples)
    # Valid traces of a policy are draws from that policy conditioned on validity.
    current = torch.multinomial(pi * valid, from_pi, replacement=True, generator=gen)
    earlier = torch.multinomial(beta * valid, samples - from_pi, replacement=True, generator=gen)
    on_policy = torch.multinomial(pi, samples, replacement=True, generator=gen)
    # A stratified mean: each stratum's variance counts with its own weight.
    parts = [(lam, scores[current]), (1 - lam, scores[earlier])]
    sft = sum(w * x.mean(dim=0) for w, x in parts)
    sft_se = torch.sqrt(sum(w**2 * x.var(dim=0) / x.shape[0] for w, x in parts))
    terms = reward[on_policy, None] * scores[on_policy]
    rf_se = torch.sqrt(terms.var(dim=0) / samples)
    return [(sft, sft_se), (terms.mean(dim=0), rf_se)]


def _same_success_reweighting(pi: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Return a distribution unlike pi within valid and invalid traces, with Z_beta = Z_pi."""
    tilt = torch.linspace(0.2, 3.0, pi.shape[0], dtype=DTYPE)
    beta = pi * tilt
    z = (pi * valid).sum()
    beta_valid = beta * valid / (beta * valid).sum() * z
    beta_invalid = beta * (1 - valid) / (beta * (1 - valid)).sum() * (1 - z)
    return beta_valid + beta_invalid


# ---- Proposition 1 with autograd on a tiny causal LM -----------------------------------------


def check_tiny_lm(n: int, gen: torch.Generator, seed: int) -> Check:
    """Return the Proposition 1 check on a tiny random Qwen3 model, SFT loss computed by HF.

    The SFT side is the model's own completion-only loss (labels with the prompt masked as
    -100, the way TRL trains); the REINFORCE side is the surrogate -(1/N) sum r_i log pi(y_i).
    A completion is valid iff its token ids sum to an even number.
    """
    model = _tiny_model(seed)
    prompt, length = torch.tensor([[1, 2, 3]]), 6
    ids = _sample(model, prompt.repeat(n, 1), length, gen)
    completion = ids[:, prompt.shape[1] :]
    rewards = _even(completion)
    n_plus = int(rewards.sum())
    params = [p for p in model.parameters() if p.requires_grad]
    valid_ids = ids[rewards == 1]
    labels = valid_ids.clone()
    labels[:, : prompt.shape[1]] = -100
    # HF averages over the N+ * length completion tokens; times `length` it is the mean
    # sequence NLL, the SFT loss of Proposition 1.
    sft_loss = model(input_ids=valid_ids, labels=labels).loss * length
    g_sft = _flat_grad(sft_loss, params)
    logits = model(input_ids=ids).logits[:, prompt.shape[1] - 1 : -1]
    seq_logp = torch.log_softmax(logits, -1).gather(-1, completion[..., None]).sum(dim=(1, 2))
    g_rf = _flat_grad(-(rewards * seq_logp).mean(), params)
    size = sum(p.numel() for p in params)
    return Check(
        "prop 1 (tiny Qwen3, autograd): g_SFT = (N/N+) g_REINFORCE",
        _rel((n / n_plus) * g_rf, g_sft),
        1e-6,  # RMSNorm computes in float32 even in a float64 model
        f"{size} parameters, N={n}, N+={n_plus}",
    )


def check_batch_of_one(n: int, gen: torch.Generator, seed: int) -> list[Check]:
    """Return checks of the paper's batch size 1: a per-trace token mean rewards 1_valid/|y|.

    Completions end at token 0 (an end-of-sequence) or after 8 tokens, so lengths differ.
    Summing HF's per-trace loss (a mean over that trace's tokens) over the valid traces, as an
    epoch of batch-size-1 steps does before the optimizer's rescaling, gives N times the
    REINFORCE gradient with R = 1_valid / |y|: a preference for short traces that no validator
    asked for. The direction error against the 0/1 reward is reported.
    """
    model = _tiny_model(seed)
    prompt = torch.tensor([[1, 2, 3]])
    ids = _sample(model, prompt.repeat(n, 1), 8, gen)
    params = [p for p in model.parameters() if p.requires_grad]
    p_len = prompt.shape[1]
    lengths = [_length(row[p_len:]) for row in ids]
    seqs = [row[: p_len + k] for row, k in zip(ids, lengths, strict=True)]
    valid = torch.stack([_even(s[None, p_len:])[0] for s in seqs])
    sft_loss = sum(
        model(
            input_ids=s[None], labels=torch.cat([torch.full((p_len,), -100), s[p_len:]])[None]
        ).loss
        for s, v in zip(seqs, valid, strict=True)
        if v == 1
    )
    g_sft = _flat_grad(sft_loss, params)
    logp = torch.stack([_sequence_logp(model, s, p_len) for s in seqs])
    per_token = valid / torch.tensor(lengths, dtype=DTYPE)
    g_len = _flat_grad(-(per_token * logp).mean(), params, keep=True)  # logp is used again
    g_01 = _flat_grad(-(valid * logp).mean(), params)
    note = f"N={n}, N+={int(valid.sum())}, lengths {min(lengths)}-{max(lengths)}"
    return [
        Check(
            "batch of one: sum of per-trace SFT losses = N g_REINFORCE(1_valid/|y|)",
            _rel(n * g_len, g_sft),
            1e-6,
            note,
        ),
        Check(
            "batch of one vs 0/1 reward: direction error (report)",
            _sine(g_sft, g_01),
            None,
            "the length preference a per-trace token mean adds",
        ),
    ]


def _tiny_model(seed: int):
    """Return a random 2-layer Qwen3 with a 16-token vocabulary, in float64 (no download)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=16,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=64,
        initializer_range=0.5,
    )
    with torch.random.fork_rng():  # model init draws from the global RNG: keep it untouched
        torch.manual_seed(seed)
        return Qwen3ForCausalLM(config).to(DTYPE).eval()


def _even(completion: torch.Tensor) -> torch.Tensor:
    # The toy validator of the tiny-model checks: valid iff the token ids sum to an even number.
    return (completion.sum(dim=1) % 2 == 0).to(DTYPE)


def _length(completion: torch.Tensor) -> int:
    ends = (completion == 0).nonzero()
    return int(ends[0, 0]) + 1 if len(ends) else completion.shape[0]


def _sequence_logp(model, seq: torch.Tensor, prompt_len: int) -> torch.Tensor:
    logits = model(input_ids=seq[None]).logits[0, prompt_len - 1 : -1]
    return torch.log_softmax(logits, -1).gather(-1, seq[prompt_len:, None]).sum()


def _flat_grad(loss: torch.Tensor, params: list[torch.Tensor], keep: bool = False) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, retain_graph=keep)
    return torch.cat([g.reshape(-1) for g in grads])


@torch.no_grad()
def _sample(model, ids: torch.Tensor, steps: int, gen: torch.Generator) -> torch.Tensor:
    for _ in range(steps):
        probs = torch.softmax(model(input_ids=ids).logits[:, -1], dim=-1)
        ids = torch.cat([ids, torch.multinomial(probs, 1, generator=gen)], dim=1)
    return ids


# ---- all checks ------------------------------------------------------------------------------


def run_checks(
    seed: int = 0,
    samples: int = 200_000,
    tolerance: float = 4.0,
    lams: tuple[float, ...] = (0.25, 0.5, 0.75),
    lm: bool = True,
) -> list[Check]:
    """Return every check: Proposition 1 (toy, tiny LM) and Proposition 2 for each lam.

    Args:
        samples: Monte Carlo draws per estimate in Proposition 2.
        tolerance: allowed error of those Monte Carlo estimates, in standard errors (the norm
            of the error over the norm of the per-component standard errors).
        lm: also run the autograd check on a tiny Qwen3 model (needs transformers).
    """
    task = ToyTask()
    checks = check_proposition_1(task, 64, torch.Generator().manual_seed(seed))
    for lam in lams:
        gen = torch.Generator().manual_seed(seed)
        checks += check_proposition_2(task, lam, samples, tolerance, gen)
    if lm:
        checks.append(check_tiny_lm(32, torch.Generator().manual_seed(seed), seed))
        checks += check_batch_of_one(32, torch.Generator().manual_seed(seed), seed)
    failed = [c.name for c in checks if not c.passed]
    log.info("theory: %d checks, %d failed %s", len(checks), len(failed), failed or "")
    return checks


def format_checks(checks: list[Check]) -> str:
    """Return the checks as an aligned text table, one line each, then a verdict line."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        status = "report" if c.tolerance is None else ("ok" if c.passed else "FAIL")
        limit = "" if c.tolerance is None else f"<= {c.tolerance:.0e}"
        lines.append(f"{c.name:<{width}}  {c.error:9.2e} {limit:>8}  {status:<6} {c.note}")
    failed = sum(not c.passed for c in checks)
    lines.append(f"{len(checks) - failed}/{len(checks)} checks within tolerance")
    return "\n".join(lines)
