"""The embedded tiny models: random-init test models and the pretrained default model.

`build_random_model` is loaded on first use, so `iterdeploy.embedded.config` (the run config's
`[embedded]` table) imports without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_random_model"]


def __getattr__(name: str) -> Any:
    if name == "build_random_model":
        from iterdeploy.embedded.model import build_random_model

        return build_random_model
    raise AttributeError(f"module 'iterdeploy.embedded' has no attribute {name!r}")
