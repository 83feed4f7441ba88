"""Generation backends by name; each is imported on first use, so its extra is optional.

`BACKEND_OPTIONS` names each backend's options dataclass (`generation.options`, standard library
only), so `model.backend_options` is checked without importing the backend.
"""

from __future__ import annotations

from iterdeploy.generation.options import (
    FakeOptions,
    OpenAIOptions,
    TransformersOptions,
    VLLMOptions,
)
from iterdeploy.registry import Registry

BACKENDS = Registry(
    "backend",
    {
        "fake": "iterdeploy.generation.fake:FakeBackend",
        "transformers": "iterdeploy.generation.hf:TransformersBackend",
        "vllm": "iterdeploy.generation.vllm:VLLMBackend",
        "openai": "iterdeploy.generation.openai_http:OpenAIBackend",
    },
)
BACKEND_OPTIONS = Registry(
    "backend",
    {
        "fake": FakeOptions,
        "transformers": TransformersOptions,
        "vllm": VLLMOptions,
        "openai": OpenAIOptions,
    },
)
