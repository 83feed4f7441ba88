"""The project's exception types: one base and five kinds.

Only `cli.py` catches the base class. An invalid plan or unparsable model output is a
`Verdict`, never an exception. Exit codes (README): 2 when the input cannot be used (config,
usage, parse errors, missing or foreign run folders), 1 when a check or the work itself failed
(a release gate, a backend, training); raise the base class for a failed check.
"""

from __future__ import annotations

from functools import cache


class IterdeployError(Exception):
    """Base class of every error iterdeploy raises on purpose."""

    exit_code = 1


def require(ok: bool, key: str, value: object, allowed: str) -> None:
    """Raise the one wording of a failed config check: `key = value is not allowed: expected
    allowed` (every config dataclass's `__post_init__` checks through this)."""
    if not ok:
        raise ConfigError(f"{key} = {value!r} is not allowed: expected {allowed}")


def one_of(choices: tuple[object, ...]) -> str:
    """Return the `allowed` text of a closed set of values: "one of 'a', 'b'"."""
    return "one of " + ", ".join(map(repr, choices))


def require_choices(config: object, section: str) -> None:
    """Check every `Literal` field of the dataclass `config` (or tuple of them) against its
    annotation, naming `section.field` (the values are listed once: in the type)."""
    for name, choices in literal_fields(type(config)).items():
        value = getattr(config, name)
        for item in value if isinstance(value, tuple) else (value,):
            require(item in choices, f"{section}.{name}", item, one_of(choices))


@cache
def literal_fields(cls: type) -> dict[str, tuple[object, ...]]:
    """Return {field: allowed values} of the fields of `cls` typed `Literal[...]` or
    `tuple[Literal[...], ...]`."""
    import dataclasses
    import typing  # here: `iterdeploy validate` imports this module and never needs typing

    hints = typing.get_type_hints(cls)
    found = {}
    for name in (f.name for f in dataclasses.fields(cls)):
        hint = hints[name]
        if typing.get_origin(hint) is tuple:
            hint = typing.get_args(hint)[0]
        if typing.get_origin(hint) is typing.Literal:
            found[name] = typing.get_args(hint)
    return found


class ConfigError(IterdeployError):
    """A bad configuration or usage: names the key, the value and what is allowed."""

    exit_code = 2


class PDDLParseError(IterdeployError):
    """Malformed PDDL, located by file, line and column."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        filename: str = "<string>",
        line: int = 0,
        column: int = 0,
        token: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.filename = filename
        self.line = line
        self.column = column
        self.token = token
        self.expected = expected
        where = f"{filename}:{line}:{column}"
        parts = [f"{where}: {message}"]
        if expected is not None:
            parts.append(f"expected {expected}")
        if token is not None:
            parts.append(f"got {token!r}")
        super().__init__(", ".join(parts))


class BackendError(IterdeployError):
    """A generation backend failed after its retries (server down, timeouts, 5xx)."""


class StoreError(IterdeployError):
    """The run store is missing, corrupt, or does not match the requested run."""

    exit_code = 2  # the folder given is not a usable run (or pool): input, as for ConfigError


class TrainingError(IterdeployError):
    """Fine-tuning failed or produced an unusable model (e.g. an empty adapter)."""


# What a config holding a literal API key is told (the message never repeats the secret).
LITERAL_KEY = (
    "model.backend_options.api_key: do not write the API key into the config (it is stored "
    "with the run); export OPENAI_API_KEY=<your key>, or name another variable with "
    "model.backend_options.api_key_env"
)
