"""The domain table: name -> `Domain` (PDDL file, seeded generator, difficulty ladder)."""

from __future__ import annotations

from iterdeploy.registry import Registry

DOMAINS = Registry(
    "domain",
    {
        "blocksworld": "iterdeploy.domains.blocksworld:BLOCKSWORLD",
        "childsnack": "iterdeploy.domains.childsnack:CHILDSNACK",
        "ferry": "iterdeploy.domains.ferry:FERRY",
        "floortile": "iterdeploy.domains.floortile:FLOORTILE",
        "gripper": "iterdeploy.domains.gripper:GRIPPER",
        "logistics": "iterdeploy.domains.logistics:LOGISTICS",
        "miconic": "iterdeploy.domains.miconic:MICONIC",
        "rovers": "iterdeploy.domains.rovers:ROVERS",
        "satellite": "iterdeploy.domains.satellite:SATELLITE",
        "sokoban": "iterdeploy.domains.sokoban:SOKOBAN",
        "spanner": "iterdeploy.domains.spanner:SPANNER",
        "transport": "iterdeploy.domains.transport:TRANSPORT",
    },
)
