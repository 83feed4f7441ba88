"""The embedded tiny models: random-init test models and the pretrained default model."""

from __future__ import annotations

from iterdeploy.embedded.model import build_random_model

__all__ = ["build_random_model"]
