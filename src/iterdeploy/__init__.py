"""iterdeploy: run, measure and govern iterative deployment of LLM planners."""

__all__ = ["__version__"]
__version__ = "0.1.0"
