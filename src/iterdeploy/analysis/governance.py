"""The release gate as tables: the gate's walk over each run, and what the loop deployed.

The gate itself (`GateConfig`, `compare`, `gate_chain`, the deployed pointer, `promote`,
`rollback`) lives with the loop in `iterdeploy.loop.gate`; this module only reads.
"""

from __future__ import annotations

import json

from iterdeploy.analysis.data import RunData
from iterdeploy.analysis.metrics import Table
from iterdeploy.loop.gate import GateConfig, deployed, gate_chain
from iterdeploy.loop.store import open_store


def gate_table(datas: list[RunData], config: GateConfig) -> Table:
    """Return the gate's walk for every run of every folder, and the deployed generation now."""
    rows = []
    for data in datas:
        with open_store(data.folder) as store:
            for run in data.runs:
                now_deployed = deployed(store, run)
                for d in gate_chain(store, run, config):
                    rows.append(
                        (
                            data.run_id,
                            run,
                            d.candidate,
                            d.reference,
                            "pass" if d.passed else "fail",
                            round(d.solve_rate, 4),
                            round(d.reference_rate, 4),
                            "; ".join(d.reasons),
                            now_deployed,
                        )
                    )
    return Table(
        "gate",
        f"Release gate on {config.split} tasks (max drop {config.max_drop:g}, max group drop "
        f"{config.max_group_drop:g}, groups by {'/'.join(config.group_by) or 'none'})",
        (
            "run_id",
            "run",
            "candidate",
            "released_before",
            "gate",
            "solve_rate",
            "released_rate",
            "reasons",
            "deployed_now",
        ),
        tuple(rows),
        "Each generation is compared with the last generation the gate released; "
        "deployed_now is the store's pointer (moved by the loop, promote and rollback).",
    )


def loop_deployments_table(datas: list[RunData]) -> Table:
    """Return, per run and evaluated generation, which model sampled the pool and why."""
    rows = []
    for data in datas:
        with open_store(data.folder) as store:
            gates = store.gate_decisions()
        for run in data.runs:
            for gen in data.generations[run]:
                gate = gates.get((run, gen))
                rows.append(
                    (
                        data.run_id,
                        run,
                        gen,
                        data.pool_model(run, gen),
                        "-" if gate is None else "pass" if gate["passed"] else "fail",
                        None if gate is None else gate["reference"],
                        "; ".join(json.loads(gate["reasons"])) if gate else "",
                    )
                )
    return Table(
        "loop_deployments",
        "What the loop deployed: the model that sampled each generation's pool traces",
        ("run_id", "run", "generation", "pool_sampled_by", "gate", "gated_against", "reasons"),
        tuple(rows),
        'With loop.deploy = "newest" every generation samples its pool with its own model '
        "(gate -); with \"gated\" the loop's gate (the run's [gate] thresholds) decides, and a "
        "model that fails never generates pool traces, so never training data.",
    )
