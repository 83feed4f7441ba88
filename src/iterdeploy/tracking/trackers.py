"""The three trackers, each working offline: TensorBoard event files, an MLflow store, W&B.

Names are shared: a generation's numbers are `run<r>/<summary field>` at step = generation;
the training loss of generation g's model is `run<r>/train_loss/g<g>` at step = optimizer step
(`eval_loss` likewise). The curated set goes as an artifact (TensorBoard has none: the file is
copied beside the event files and its digest logged as text). Each library is imported when
its tracker is opened, so it is needed only when configured (`pip install 'iterdeploy[track]'`).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from iterdeploy.errors import ConfigError
from iterdeploy.tracking.session import GenerationRecord, TrackerContext


def metric_name(run: int, name: str) -> str:
    """Return the tracked name of a summary field, e.g. "run0/pool_solved"."""
    return f"run{run}/{name}"


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Return nested config tables as {"section.key": text}, e.g. for MLflow params.

    >>> flatten({"loop": {"seed": 0, "runs": 2}, "pool": {"domains": ["gripper"]}})
    {'loop.seed': '0', 'loop.runs': '2', 'pool.domains': '["gripper"]'}
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def _need(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"tracking.backends lists {module.split('.')[0]!r}, which needs: "
            f"pip install 'iterdeploy[track]' (missing module {exc.name!r})"
        ) from exc


class TensorBoardTracker:
    """Event files in <dir>/tensorboard, read by `tensorboard --logdir`."""

    def __init__(self, context: TrackerContext) -> None:
        _need("tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.dir = context.dir / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.dir))

    def log_config(self, config: Mapping[str, Any]) -> None:
        text = json.dumps(config, indent=1, sort_keys=True)
        self.writer.add_text("config", "    " + text.replace("\n", "\n    "), 0)
        self.writer.flush()

    def log_generation(self, record: GenerationRecord) -> None:
        r, g = record.run, record.generation
        for name, value in record.metrics.items():
            self.writer.add_scalar(metric_name(r, name), value, g)
        for tag, curve in (("train_loss", record.losses), ("eval_loss", record.eval_losses)):
            for step, loss in curve:
                self.writer.add_scalar(metric_name(r, f"{tag}/g{g}"), loss, step)
        if record.dataset is not None:
            copy = self.dir / "datasets" / f"r{r}-g{g}.jsonl"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(record.dataset, copy)
            self.writer.add_text(
                metric_name(r, "dataset"), f"{copy.name} sha256 {record.dataset_digest}", g
            )
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class MLflowTracker:
    """One MLflow run per run folder (found again on resume by its tag), params = config."""

    TAG = "iterdeploy.run_id"

    def __init__(self, context: TrackerContext) -> None:
        mlflow = _need("mlflow")
        uri = context.config.mlflow_uri or (context.dir / "mlruns").resolve().as_uri()
        if uri.startswith("file:"):
            # MLflow 3 keeps the file store in maintenance mode behind this switch; a file store
            # is what works offline with no server and no database.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        project = context.config.project
        experiment = self.client.get_experiment_by_name(project)
        exp_id = experiment.experiment_id if experiment else self.client.create_experiment(project)
        found = self.client.search_runs(
            [exp_id], filter_string=f"tags.`{self.TAG}` = '{context.run_id}'"
        )
        run = found[0] if found else None
        if run is None:
            run = self.client.create_run(
                exp_id, run_name=context.run_id, tags={self.TAG: context.run_id}
            )
        self.run_id = run.info.run_id
        self.Metric = importlib.import_module("mlflow.entities").Metric

    def log_config(self, config: Mapping[str, Any]) -> None:
        params = flatten(config)
        for key in sorted(params):
            self.client.log_param(self.run_id, key, params[key][:6000])  # MLflow's value limit
        self.client.log_dict(self.run_id, dict(config), "config.json")

    def log_generation(self, record: GenerationRecord) -> None:
        r, g, now = record.run, record.generation, int(time.time() * 1000)
        metrics = [self.Metric(metric_name(r, k), v, now, g) for k, v in record.metrics.items()]
        for tag, curve in (("train_loss", record.losses), ("eval_loss", record.eval_losses)):
            metrics += [self.Metric(metric_name(r, f"{tag}/g{g}"), v, now, s) for s, v in curve]
        for start in range(0, len(metrics), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
        if record.dataset is not None:
            self.client.log_artifact(self.run_id, str(record.dataset), f"datasets/r{r}-g{g}")

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


class WandbTracker:
    """W&B runs with id = the run folder's id; offline they only write files under <dir>.

    Each send is its own short W&B session (init, log, finish): `finish` is the only point at
    which W&B has written everything, so a kill can lose at most the session in progress, which
    the ledger has not yet recorded. Offline, each session is an `offline-run-*` folder of the
    same run id, and `wandb sync <dir>/wandb/offline-run-*` uploads them into one run.
    """

    def __init__(self, context: TrackerContext) -> None:
        self.wandb = _need("wandb")
        self.context = context
        context.dir.mkdir(parents=True, exist_ok=True)
        self.id = re.sub(r"[^A-Za-z0-9_-]", "-", context.run_id)

    @contextmanager
    def _session(self, config: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Yield a W&B run, finished on exit; offline, W&B's staging and cache stay with the
        run (unless WANDB_DATA_DIR / WANDB_CACHE_DIR are set) for that time only."""
        wandb, context = self.wandb, self.context
        home = context.dir / "wandb-home"
        names = ("WANDB_DATA_DIR", "WANDB_CACHE_DIR")
        saved = {name: os.environ.get(name) for name in names}
        if context.config.wandb_mode == "offline":
            for name, sub in zip(names, ("data", "cache"), strict=True):
                os.environ.setdefault(name, str(home / sub))
        try:
            run = wandb.init(
                mode=context.config.wandb_mode, dir=str(context.dir),
                project=context.config.project, id=self.id, name=context.run_id, resume="allow",
                config=dict(config or {}),
                settings=wandb.Settings(
                    silent=True, console="off", save_code=False, disable_git=True,
                    x_disable_stats=True, x_disable_meta=True,
                ),
            )  # fmt: skip
            yield run
            run.finish()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def log_config(self, config: Mapping[str, Any]) -> None:
        with self._session(config):
            pass  # the config goes with wandb.init

    def log_generation(self, record: GenerationRecord) -> None:
        r, g = record.run, record.generation
        with self._session() as run:
            values = {metric_name(r, k): v for k, v in record.metrics.items()}
            run.log({**values, "generation": g})
            for tag, curve in (("train_loss", record.losses), ("eval_loss", record.eval_losses)):
                for step, loss in curve:
                    name = metric_name(r, f"{tag}/g{g}")
                    run.log({name: loss, f"{name}/step": step})
            if record.dataset is not None:
                artifact = self.wandb.Artifact(
                    f"curated-{self.id}-r{r}-g{g}",
                    type="dataset",
                    metadata={"run": r, "generation": g, "sha256": record.dataset_digest},
                )
                artifact.add_file(str(record.dataset), name=f"r{r}-g{g}.jsonl")
                run.log_artifact(artifact)

    def close(self) -> None:
        """Nothing stays open between sends."""
