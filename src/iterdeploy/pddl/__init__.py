"""PDDL core (standard library only): parser, writer and the plan validator.

Import from the modules: `pddl.parser` (parse_domain, parse_problem, load_domain,
load_problem), `pddl.validate` (prepare, validate_plan, Checker, and `Verdict`, `Reason` from
`pddl.verdict`; the compiled actions it caches are in `pddl.ground`),
`pddl.formula` (ADL conditions and derived predicates on states), `pddl.plan` (plan files)
and `pddl.writer` (PDDL text). `pddl.conditions` and `pddl.checks` serve the parser and
`prepare`.
"""

__all__ = [
    "checks",
    "conditions",
    "formula",
    "ground",
    "model",
    "parser",
    "plan",
    "sexpr",
    "validate",
    "verdict",
    "writer",
]
