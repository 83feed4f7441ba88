"""Generation backends by name; each is imported on first use, so its extra is optional."""

from __future__ import annotations

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
