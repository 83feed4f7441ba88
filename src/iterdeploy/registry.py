"""Name -> object tables with lazy imports, did-you-mean errors and install hints.

Entries are objects or "module:attr" strings imported on first `get()`, so optional
dependencies (torch, vllm, ray) are only needed by the entries that use them.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from iterdeploy.errors import ConfigError

# Top-level modules of optional dependencies -> the extra that installs them.
EXTRAS = {
    "torch": "hf",
    "transformers": "hf",
    "tokenizers": "hf",
    "safetensors": "hf",
    "peft": "train",
    "trl": "train",
    "datasets": "train",
    "vllm": "vllm",
    "httpx": "openai",
    "matplotlib": "plot",
    "ray": "ray",
    "up_fast_downward": "planner",
    "unified_planning": "planner",
}


class Registry:
    """A table of named entries of one kind (domain, backend, policy, ...)."""

    def __init__(self, kind: str, entries: dict[str, Any]) -> None:
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Any:
        """Return the entry called `name`, importing it if it is a "module:attr" string."""
        if name not in self._entries:
            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}"
            )
        entry = self._entries[name]
        if isinstance(entry, str) and ":" in entry:
            entry = self._entries[name] = load_object(entry, what=f"{self.kind} {name!r}")
        return entry


def load_object(path: str, what: str = "object") -> Any:
    """Return the attribute named by "package.module:attr", with a clear error if missing."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top in EXTRAS:
            raise ConfigError(
                f"{what} needs: pip install 'iterdeploy[{EXTRAS[top]}]' (missing module {top!r})"
            ) from exc
        raise ConfigError(f"cannot import {module_name!r} for {what}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"{module_name!r} has no attribute {attr!r} (for {what})") from exc
