"""Consistency checks of a task, run once by `validate.prepare`: located errors, not verdicts.

The problem must fit its domain (declared predicates, arities, objects and types), and every
action, derived-predicate and goal formula may name only variables in scope and declared
objects. A failure is a `PDDLParseError` that points at the offending name in its file.
"""

from __future__ import annotations

from iterdeploy.errors import PDDLParseError
from iterdeploy.pddl.formula import atoms_of
from iterdeploy.pddl.formula import variables_of as quantified_variables
from iterdeploy.pddl.model import OBJECT, Action, Atom, Condition, Domain, Problem, TypedName
from iterdeploy.pddl.sexpr import Source


class TaskChecks:
    """The type and object tables of a task, and the checks that use them."""

    def __init__(self, domain: Domain, problem: Problem) -> None:
        self.domain = domain
        self.problem = problem
        self.ancestors = ancestry(domain)  # type -> itself and its ancestors
        self.objects = self._object_table()  # object or constant -> its types and ancestors
        self._signatures = {p.name: p.parameters for p in domain.predicates}

    def action(self, action: Action) -> None:
        """Check an action's parameter types and its ADL conditions and effects."""
        owner = f"action {action.name!r}"
        for param in action.parameters:
            for type_name in param.types:
                if type_name not in self.ancestors:
                    raise self.error(
                        "domain",
                        f"parameter {param.name} of {owner} has undeclared type {type_name!r}",
                        "a type from :types",
                        param.pos,
                    )
        names = {p.name for p in action.parameters}
        for effect in action.effects:
            scope = names | {v.name for v in effect.variables}
            for atom in [*effect.add, *effect.delete]:
                self.atom_names(atom, scope)
            self.types_declared(effect.variables, owner)
            if effect.condition is not None:
                self.condition(effect.condition, scope, owner)
        if action.condition is not None:
            self.condition(action.condition, names, owner)

    def _object_table(self) -> dict[str, frozenset[str]]:
        """Return each object and constant with the set of its types and their ancestors."""
        table: dict[str, frozenset[str]] = {}
        declared: dict[str, tuple[str, ...]] = {}
        for item, where in [(c, "domain") for c in self.domain.constants] + [
            (o, "problem") for o in self.problem.objects
        ]:
            for type_name in item.types:
                if type_name not in self.ancestors:
                    raise self.error(
                        where,
                        f"object {item.name!r} has undeclared type {type_name!r}",
                        "a type from the domain's :types",
                        item.pos,
                    )
            if item.name in declared and declared[item.name] != item.types:
                raise self.error(
                    where,
                    f"object {item.name!r} is declared with two types",
                    f"one type, as in the domain's constants: {' '.join(declared[item.name])}",
                    item.pos,
                )
            declared[item.name] = item.types
            table[item.name] = frozenset().union(*(self.ancestors[t] for t in item.types))
        return table

    def condition(
        self, condition: Condition, names: set[str], owner: str, where: str = "domain"
    ) -> None:
        """Check that an ADL condition names declared types and objects only."""
        variables = list(quantified_variables(condition))
        self.types_declared(tuple(variables), owner, where)
        scope = names | {v.name for v in variables}
        for atom in atoms_of(condition):
            self.atom_names(atom, scope, where)

    def types_declared(
        self, variables: tuple[TypedName, ...], owner: str, where: str = "domain"
    ) -> None:
        for variable in variables:
            for type_name in variable.types:
                if type_name not in self.ancestors:
                    raise self.error(
                        where,
                        f"variable {variable.name} of {owner} has undeclared type {type_name!r}",
                        "a type from :types",
                        variable.pos,
                    )

    def atom_names(self, atom: Atom, variables: set[str], where: str = "domain") -> None:
        for index, arg in enumerate(atom.args, start=1):
            if arg not in variables and arg not in self.objects:
                raise self.error(
                    where,
                    f"{atom} uses {arg!r}, which is neither a variable nor a declared object",
                    "a declared constant or object",
                    atom.pos,
                    index,
                )

    def fact(self, atom: Atom, where: str) -> None:
        """Check predicate, arity, objects and argument types of an init or goal atom."""
        params = self._signatures.get(atom.predicate)
        if params is None:
            raise self.problem_error(
                f"{where} atom {atom} uses undeclared predicate {atom.predicate!r}",
                "a predicate of the domain",
                atom.pos,
                0,
            )
        if len(params) != len(atom.args):
            raise self.problem_error(
                f"{where} atom {atom} has {len(atom.args)} arguments",
                f"{len(params)} arguments",
                atom.pos,
            )
        for index, (arg, param) in enumerate(zip(atom.args, params, strict=True), start=1):
            ancestors = self.objects.get(arg)
            if ancestors is None:
                raise self.problem_error(
                    f"{where} atom {atom} uses undeclared object {arg!r}",
                    "an object from :objects or a domain constant",
                    atom.pos,
                    index,
                )
            if ancestors.isdisjoint(param.types):
                raise self.problem_error(
                    f"{where} atom {atom}: {arg!r} does not fit {param.name}",
                    f"an object of type {' or '.join(param.types)}",
                    atom.pos,
                    index,
                )

    def problem_error(
        self, message: str, expected: str, pos: int = -1, item: int | None = None
    ) -> PDDLParseError:
        return self.error("problem", message, expected, pos, item)

    def error(
        self, where: str, message: str, expected: str, pos: int = -1, item: int | None = None
    ) -> PDDLParseError:
        """Return an error in the problem or domain file, at the parsed offset `pos` if known.

        With `item`, the error points at that item of the list at `pos` (0: an atom's
        predicate, 1: its first argument, ...).
        """
        model = self.problem if where == "problem" else self.domain
        if pos < 0 or not model.text:  # built in code, not parsed: no position to give
            return PDDLParseError(message, filename=model.filename, expected=expected)
        src = Source(model.text, model.filename)
        if item is not None:
            pos = src.item_offset(pos, item)
        return src.error(message, pos, expected=expected)


def ancestry(domain: Domain) -> dict[str, frozenset[str]]:
    """Return each type mapped to itself and all its ancestors (always including object)."""
    parents = {t.name: t.types for t in domain.types}
    out = {OBJECT: frozenset([OBJECT])}
    for name in parents:
        seen, todo = {name, OBJECT}, [name]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        out[name] = frozenset(seen)
    for name in parents.values():
        for parent in name:
            out.setdefault(parent, frozenset([parent, OBJECT]))
    return out
