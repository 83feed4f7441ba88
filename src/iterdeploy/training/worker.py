"""The worker of a distributed training job: `python -m iterdeploy.training.worker JOB`.

`training.distributed.train_distributed` writes JOB (base, examples, `TrainConfig`) and launches
this module once per process; each process runs the in-process `training.sft.train` on its share
of the batches and saves into JOB/rank<r>, where `training.distributed.collect` checks them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path

from iterdeploy.training.config import TrainConfig
from iterdeploy.training.sft import train


def main(argv: list[str] | None = None) -> None:
    """Worker entry (one per process): train rank r of the job into JOB/rank<r>."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    job = Path((argv if argv is not None else sys.argv[1:])[0])
    spec = json.loads((job / "job.json").read_text())
    examples = [json.loads(line) for line in (job / "examples.jsonl").read_text().splitlines()]
    rank = int(os.environ.get("RANK", "0"))
    folder = job / f"rank{rank}"
    result = train(spec["base"], examples, TrainConfig(**spec["config"]), folder / "model")
    record = asdict(result)
    record["path"] = str(record["path"])
    (folder / "result.json").write_text(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
