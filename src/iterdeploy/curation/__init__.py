"""Curation policies by name: which traces of generations 0..n enter the next curated set."""

from __future__ import annotations

from iterdeploy.registry import Registry

POLICIES = Registry(
    "curation policy",
    {
        "paper": "iterdeploy.curation.policies:paper",
        "none": "iterdeploy.curation.policies:no_curation",
        "keep-k": "iterdeploy.curation.policies:keep_k",
        "random-tie": "iterdeploy.curation.policies:random_tie",
        "window": "iterdeploy.curation.policies:window",
    },
)
