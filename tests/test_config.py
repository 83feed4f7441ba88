from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from iterdeploy.config import (
    GateConfig,
    LoopConfig,
    RunConfig,
    config_digest,
    from_dict,
    load_config,
    preset_path,
    read_toml,
    to_dict,
    to_toml,
)
from iterdeploy.curation.checks import CheckConfig
from iterdeploy.errors import ConfigError
from iterdeploy.generation import BACKEND_OPTIONS, BACKENDS
from iterdeploy.loop.setup import check_run
from iterdeploy.tracking.config import TrackingConfig
from iterdeploy.training.config import LaunchConfig, TrainConfig


def test_defaults_load_without_a_preset():
    config = load_config()
    assert config == RunConfig()
    assert config.curation.policy == "paper"


def test_quickstart_preset_loads_and_differs_from_defaults():
    config = load_config("quickstart")
    assert config.model.base == "embedded"
    assert config.model.backend == "transformers"
    assert config.pool.domains == ("blocksworld",)
    assert config != RunConfig()


def test_paper_preset_has_the_papers_settings():
    config = load_config("paper")
    assert config.model.base == "Qwen/Qwen3-4B-Thinking-2507"
    assert config.model.backend == "vllm"
    assert config.model.template == "paper"
    assert config.pool.domains == ("blocksworld", "rovers", "sokoban")
    assert round(config.pool.size * (1 - config.pool.heldout)) == 1000
    assert (config.loop.runs, config.loop.generations) == (3, 5)
    assert config.generation.temperature == 0.6
    assert config.curation.policy == "paper"
    training = dataclasses.asdict(config.training)
    assert training["learning_rate"] == 1e-5
    assert training["epochs"] == 2
    assert training["lora_r"] == 16 and training["lora_alpha"] == 32
    assert training["lora_dropout"] == 0.05


def test_set_overrides_parse_literals_and_fall_back_to_strings():
    config = load_config(
        "quickstart",
        [
            "generation.temperature=0.7",
            "loop.runs=2",
            "curation.policy=keep-k",
            "curation.params.k=3",
            "pool.domains=['blocksworld', 'gripper']",
            "model.base=/m/x",
        ],
    )
    assert config.generation.temperature == 0.7
    assert config.loop.runs == 2
    assert config.curation.params == {"k": 3}
    assert config.pool.domains == ("blocksworld", "gripper")
    assert config.model.base == "/m/x"


def test_int_is_accepted_where_a_float_is_expected():
    assert load_config(None, ["generation.temperature=1"]).generation.temperature == 1.0


def test_unknown_key_names_the_key_and_the_allowed_keys():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["generation.temprature=0.5"])
    message = str(err.value)
    assert "generation.temprature" in message
    assert "did you mean 'generation.temperature'" in message
    assert "max_tokens" in message


def test_unknown_section_lists_the_sections():
    with pytest.raises(ConfigError, match="sampler = .* is not allowed: .*keys loop, pool, model"):
        load_config(None, ["sampler.n=3"])


def test_wrong_type_names_key_value_and_expected_type():
    with pytest.raises(ConfigError, match=r"loop.runs = 'many' is not allowed: .* type int"):
        load_config(None, ["loop.runs=many"])
    with pytest.raises(ConfigError, match=r"pool.domains = 'blocksworld' is .*: expected a list"):
        load_config(None, ["pool.domains=blocksworld"])


def test_cross_field_checks_run_after_loading():
    with pytest.raises(ConfigError, match="curation.require = 'short'"):
        load_config(None, ["curation.require=['short']"])
    with pytest.raises(ConfigError, match=r"generation.temperature = -1.0"):
        load_config(None, ["generation.temperature=-1.0"])
    with pytest.raises(ConfigError, match="loop.runs = 0"):
        load_config(None, ["loop.runs=0"])


def test_malformed_set_and_unknown_preset_say_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["loop.runs"])
    with pytest.raises(ConfigError, match="unknown preset 'quikstart'.*quickstart"):
        load_config("quikstart")
    bad = tmp_path / "bad.toml"
    bad.write_text("[loop\nruns = 2\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        preset_path(tmp_path / "missing.toml")


def test_toml_round_trip_keeps_every_value(tmp_path):
    config = load_config(
        "quickstart",
        [
            "curation.policy=keep-k",
            "curation.params={'k': 2, 'note': 'x y'}",
            "model.backend_options={'batch_size': 32}",
        ],
    )
    checks = (
        CheckConfig("short", "length-ratio", max_ratio=1.5),
        CheckConfig("no-b", "forbidden", atoms=("(holding b)",)),
    )
    curation = dataclasses.replace(config.curation, checks=checks, require=("short",))
    config = dataclasses.replace(config, curation=curation)
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    again = from_dict(RunConfig, read_toml(path))
    assert again == config
    assert config_digest(again) == config_digest(config)
    assert config_digest(load_config()) != config_digest(config)


def test_checks_load_from_a_preset_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[curation]\nrequire = ["short"]\n\n[[curation.checks]]\nname = "short"\n'
        'kind = "length-ratio"\nmax_ratio = 2\n'
    )
    config = load_config(path)
    assert config.curation.checks == (CheckConfig("short", "length-ratio", max_ratio=2.0),)
    path.write_text('[[curation.checks]]\nname = "x"\nkind = "lenght"\n')
    with pytest.raises(ConfigError, match="kind = 'lenght' is not allowed: expected one of"):
        load_config(path)


def test_a_training_launch_table_selects_accelerate_and_round_trips(tmp_path):
    config = load_config(None, ["training.launch.processes=4", "training.launch.strategy=zero2"])
    assert config.training.launch == LaunchConfig(strategy="zero2", processes=4)
    assert load_config(None, ["training.launch={}"]).training.launch == LaunchConfig()
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    assert "[training.launch]" in path.read_text()
    assert from_dict(RunConfig, read_toml(path)) == config
    assert config_digest(config) != config_digest(load_config())


def test_an_unset_training_launch_leaves_the_stored_config_and_digest_as_before():
    config = load_config("quickstart")
    assert config.training.launch is None
    stored = to_dict(config)["training"]  # what the digest, config.toml and the store hold
    assert stored == {k: v for k, v in dataclasses.asdict(config.training).items() if k != "launch"}
    assert "launch" not in to_toml(config)


def test_bad_training_launch_values_name_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"training.launch = 'accelerate' is not allowed: "
                       r"expected a table of "
                       r"keys \(strategy, processes"):  # fmt: skip
        load_config(None, ["training.launch=accelerate"])
    with pytest.raises(ConfigError, match="training.launch.strategy = 'zero3'.*'ddp', 'zero2'"):
        load_config(None, ["training.launch.strategy=zero3"])
    with pytest.raises(ConfigError, match="launch.machines = 2 is not allowed: expected 1"):
        load_config(None, ["training.launch.machines=2", "training.launch.processes=4"])
    with pytest.raises(ConfigError, match="did you mean 'training.launch.processes'"):
        load_config(None, ["training.launch.procs=2"])


def test_paper_ray_preset_is_the_paper_preset_on_a_cluster_with_ddp_training():
    paper, ray = load_config("paper"), load_config("paper-ray")
    assert (ray.loop.executor, ray.loop.ray_address) == ("ray", "auto")
    assert ray.training.launch == LaunchConfig(strategy="ddp", processes=8)
    assert dataclasses.replace(ray.training, launch=None) == paper.training
    for section in ("pool", "generation", "curation"):
        assert getattr(ray, section) == getattr(paper, section)


@pytest.mark.parametrize("preset", [None, "quickstart", "paper", "paper-ray"])
def test_a_stored_config_reads_back_with_the_same_digest(preset, tmp_path):
    # A run stores config.toml and checks its digest on every resume: a default that changes
    # type on the way through TOML (epochs 2 -> 2.0) would make every such run refuse to start.
    config = load_config(preset)
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    again = from_dict(RunConfig, read_toml(path))
    assert again == config
    assert config_digest(again) == config_digest(config)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["curation.policy=papr"], "unknown curation policy 'papr'. Did you mean 'paper'?"),
        (["curation.policy=keep-k", "curation.params={'k': 0}"], "keep-k needs an integer k >= 1"),
        (["curation.policy=window", "curation.params={'w': -1}"], "window needs an integer w >= 1"),
        (["curation.params={'k': 2}"], "curation.params = {'k': 2} do not fit policy 'paper'"),
        (["model.backend=transfomers"], "unknown backend 'transfomers'. Did you mean"),
        (
            ["model.backend_options={'batch': 8}"],
            "model.backend_options.batch = 8 is not allowed: "
            "expected one of the keys batch_size, dtype, device, trust_remote_code (did you mean "
            "'model.backend_options.batch_size'?)",
        ),
        (
            ["model.backend_options={'batch_size': '8'}"],
            "model.backend_options.batch_size = '8' is not allowed: expected a value of type int",
        ),
        (
            ["model.backend_options={'dtype': 'fp8'}"],
            "model.backend_options.dtype = 'fp8' is not "
            "allowed: expected one of 'auto', 'float32', 'bfloat16', 'float16'",
        ),
        (
            ["model.backend=fake", "model.backend_options={'valid_rate': 1.5}"],
            "model.backend_options.valid_rate = 1.5 is not allowed: expected a rate in [0, 1]",
        ),
        (
            ["model.backend=openai", "model.backend_options={'endpoint': 'responses'}"],
            "model.backend_options.endpoint = 'responses' is not allowed: expected one of 'chat', "
            "'completions'",
        ),
        (["model.template=bogus"], "model.template = 'bogus' is not allowed: expected one of"),
        (["pool.domains=['blockworld']"], "unknown domain 'blockworld'. Did you mean"),
        (["pool.levels=[0, 42]"], "domain 'blocksworld': no difficulty level 42"),
        (["model.base=./no/such/model"], "model.base = './no/such/model' is not allowed"),
    ],
)
def test_check_run_names_what_would_fail_later(overrides, message):
    config = load_config("quickstart", overrides)  # loads: these only fail when checked
    with pytest.raises(ConfigError) as failed:
        check_run(config)
    assert message in str(failed.value)


def test_check_run_accepts_the_presets_and_a_model_folder(tmp_path):
    check_run(load_config("quickstart"))
    check_run(load_config("paper"))  # a hub id: not checked against the hub
    (tmp_path / "config.json").write_text("{}")
    check_run(load_config("quickstart", [f"model.base={tmp_path}"]))
    with pytest.raises(ConfigError, match="a model folder \\(with config.json\\)"):
        check_run(load_config("quickstart", [f"model.base={tmp_path.parent}"]))


def test_check_run_names_every_missing_extra():
    code = (
        "import sys\n"
        "for m in ('torch', 'transformers', 'trl'): sys.modules[m] = None\n"
        "from iterdeploy.config import load_config\n"
        "from iterdeploy.loop.setup import check_run\n"
        "check_run(load_config('quickstart'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "this run needs: pip install 'iterdeploy[hf,train]'" in done.stderr
    assert "(missing modules torch, transformers, trl)" in done.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "loop.deploy=latest",
            "loop.deploy = 'latest' is not allowed: expected one of 'newest', 'gated'",
        ),
        (
            "loop.executor=slurm",
            "loop.executor = 'slurm' is not allowed: expected one of 'local', 'ray'",
        ),
        (
            "gate.split=test",
            "gate.split = 'test' is not allowed: expected one of 'heldout', 'pool'",
        ),
        (
            "training.method=qlora",
            "training.method = 'qlora' is not allowed: expected one of 'lora', 'full'",
        ),
        (
            "tracking.wandb_mode=cloud",
            "tracking.wandb_mode = 'cloud' is not allowed: expected one of 'offline', 'online'",
        ),
        (
            "gate.group_by=['colour']",
            "gate.group_by[0] = 'colour' is not allowed: expected one of 'domain', 'difficulty'",
        ),
    ],
)
def test_a_value_outside_a_closed_set_names_the_key_and_the_choices(override, message, tmp_path):
    with pytest.raises(ConfigError) as failed:
        load_config(None, [override])
    assert str(failed.value) == message
    section, _, rest = override.partition(".")
    key, _, value = rest.partition("=")
    path = tmp_path / "preset.toml"
    path.write_text(f"[{section}]\n{key} = {value if value.startswith('[') else repr(value)}\n")
    with pytest.raises(ConfigError, match="is not allowed: expected one of"):
        load_config(path)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: LoopConfig(deploy="latest"),
            "loop.deploy = 'latest' is not allowed: expected one of 'newest', 'gated'",
        ),
        (lambda: GateConfig(split="test"), "gate.split = 'test' is not allowed"),
        (lambda: GateConfig(group_by=("colour",)), "gate.group_by = 'colour' is not allowed"),
        (
            lambda: TrainConfig(dtype="fp8"),
            "training.dtype = 'fp8' is not allowed: expected one "
            "of 'auto', 'float32', 'bfloat16', 'float16'",
        ),
        (lambda: LaunchConfig(mixed_precision="fp8"), "training.launch.mixed_precision = 'fp8'"),
        (
            lambda: TrackingConfig(backends=("tensorbord",)),
            "tracking.backends = 'tensorbord' is "
            "not allowed: expected one of 'tensorboard', 'mlflow', 'wandb'",
        ),
        (lambda: CheckConfig("short", kind="shorter"), "curation.checks['short'].kind = 'shorter'"),
    ],
)
def test_a_dataclass_built_in_python_checks_its_closed_sets_too(build, message):
    with pytest.raises(ConfigError) as failed:
        build()
    assert str(failed.value).startswith(message)


def test_every_backend_declares_its_options_and_checking_them_imports_no_backend():
    assert BACKEND_OPTIONS.names() == BACKENDS.names()
    code = (
        "import sys\n"
        "from iterdeploy.config import load_config\n"
        "from iterdeploy.loop.setup import _check_backend\n"
        "for backend in ('transformers', 'vllm', 'openai', 'fake'):\n"
        "    _check_backend(load_config(None, [f'model.backend={backend}']).model)\n"
        "assert not {'torch', 'vllm', 'httpx'} & set(sys.modules), sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_backend_options_stay_the_table_as_written(tmp_path):
    options = "model.backend_options={'timeout': 60, 'endpoint': 'chat'}"
    config = load_config(None, ["model.backend=openai", options])
    assert to_dict(config)["model"]["backend_options"] == {"timeout": 60, "endpoint": "chat"}
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    assert config_digest(from_dict(RunConfig, read_toml(path))) == config_digest(config)
