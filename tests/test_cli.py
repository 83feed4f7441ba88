from __future__ import annotations

from iterdeploy import __version__
from iterdeploy.cli import main
from iterdeploy.registry import Registry


def test_version_prints_package_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_unknown_command_exits_2(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_registry_suggests_close_names():
    reg = Registry("thing", {"keep-shortest": 1, "keep-k": 2})
    try:
        reg.get("keep-shortes")
    except Exception as exc:
        assert "Did you mean 'keep-shortest'" in str(exc)
        assert "Available: keep-k, keep-shortest" in str(exc)
    else:
        raise AssertionError("expected ConfigError")


def test_registry_missing_extra_names_install_command():
    reg = Registry("backend", {"x": "vllm_not_installed_here.fake:Thing"})
    try:
        reg.get("x")
    except Exception as exc:
        assert "cannot import" in str(exc)
    else:
        raise AssertionError("expected ConfigError")
