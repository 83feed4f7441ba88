"""The `[embedded]` table: the recipe follows the pool's domains, and a mismatch is caught early."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import typing

import pytest

from iterdeploy.config import load_config, to_toml
from iterdeploy.embedded.config import SIZES, EmbeddedConfig, Size
from iterdeploy.errors import ConfigError
from iterdeploy.loop.setup import resolve_base


def test_the_recipe_defaults_to_the_pool_domains_and_shares_the_build_of_an_explicit_one():
    config = load_config("quickstart", ["pool.domains=['rovers', 'sokoban']"])
    assert config.embedded.domains == ()
    recipe = config.embedded.for_domains(config.pool.domains)
    assert recipe.domains == ("rovers", "sokoban")
    explicit = EmbeddedConfig(domains=("rovers", "sokoban"))
    assert recipe.digest() == explicit.digest() != EmbeddedConfig().digest()
    assert EmbeddedConfig().digest() == EmbeddedConfig(domains=("blocksworld",)).digest()
    assert "[embedded]" in to_toml(config)


def test_a_recipe_that_leaves_out_a_pool_domain_is_refused_before_the_run():
    with pytest.raises(ConfigError, match=r"embedded\.domains.*never sees rovers.*leave"):
        load_config(None, ["pool.domains=['blocksworld', 'rovers']",
                           "embedded.domains=['blocksworld']"])  # fmt: skip
    # Another base model is not pretrained by the recipe, so the recipe is not checked.
    load_config(None, ["pool.domains=['rovers']", "embedded.domains=['blocksworld']",
                       "model.base=/some/checkpoint"])  # fmt: skip


def test_a_folder_of_another_embedded_build_is_warned_about_unseen_pool_domains(tmp_path, caplog):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "build.json").write_text(json.dumps({"config": {"domains": ["blocksworld"]}}))
    config = load_config(None, ["pool.domains=['blocksworld', 'ferry']", f"model.base={folder}"])
    with caplog.at_level(logging.WARNING, logger="iterdeploy.loop.setup"):
        assert resolve_base(config) == str(folder)
    assert "never on pool domain(s) ferry" in caplog.text
    caplog.clear()
    ok = load_config(None, ["pool.domains=['blocksworld']", f"model.base={folder}"])
    with caplog.at_level(logging.WARNING, logger="iterdeploy.loop.setup"):
        resolve_base(ok)
    assert not caplog.records


def test_the_recipe_module_imports_without_torch():
    code = "import sys, iterdeploy.embedded.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"size": "huge"},
            "embedded.size = 'huge' is not allowed: expected one of 'test', 'small'",
        ),
        ({"dtype": "fp8"}, "embedded.dtype = 'fp8' is not allowed: expected one of 'auto', "),
        ({"examples": 1}, "embedded.examples = 1 is not allowed: expected an integer >= 2"),
        ({"learning_rate": 0.0}, "embedded.learning_rate = 0.0 is not allowed: expected a number"),
        ({"batch_size": 0}, "embedded.batch_size = 0 is not allowed: expected an integer >= 1"),
    ],
)
def test_a_bad_recipe_is_refused_in_the_one_wording(settings, message):
    with pytest.raises(ConfigError) as failed:
        EmbeddedConfig(**settings)
    assert str(failed.value).startswith(message)
    assert tuple(SIZES) == typing.get_args(Size)  # the type and the table name the same sizes
