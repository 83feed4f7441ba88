"""Prompting: building prompts from templates (`build`) and reading plans out of model text
(`extract`)."""

__all__ = ["build", "extract"]
