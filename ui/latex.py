"""LaTeX for derivation steps, with dropped terms and scale factors visibly marked.

Pure (no Streamlit): the same SymPy objects the checker verifies are rendered here with the
textbook printer (`derivations.printing`: (xᵢ − μᵢ)², 1/(√(2π)σ)·exp(…)), which changes only how
an expression is written, so a page can never show a formula the code does not compute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from derivations.base import Derivation, Step, check_derivation
from derivations.printing import textbook_latex

DROP_COLOUR = "#fde2e2"  # pale red: this term leaves the objective
SCALE_COLOUR = "#dbeafe"  # pale blue: this factor leaves the objective
# SymPy prints an unevaluated 2·(D/2) as "2 \frac{D}{2}", which reads as the mixed number
# "2 D/2"; a number directly before a fraction gets an explicit \cdot.
_NUMBER_BEFORE_FRACTION = re.compile(r"(?<![\w^_.])(\d+(?:\.\d+)?) \\frac")


def latex(expr: sp.Basic) -> str:
    """The textbook LaTeX of expr, with a visible product sign between a number and a fraction."""
    return _NUMBER_BEFORE_FRACTION.sub(r"\1 \\cdot \\frac", textbook_latex(expr))


@dataclass(frozen=True)
class StepView:
    label: str
    relation: str
    note: str
    latex: str  # the step's line, with the dropped term or factor marked
    result_latex: str  # the step's own expression alone
    verified: str  # "", "symbolic", "numeric", or a failure reason


def parameters_latex(derivation: Derivation) -> str:
    return ", ".join(sp.latex(p) for p in derivation.parameters)


def _marked(term: sp.Expr, colour: str, caption: str) -> str:
    """The term on a coloured background, with a caption underneath (caption is LaTeX)."""
    return (
        rf"\underbrace{{\colorbox{{{colour}}}{{$\displaystyle {latex(term)}$}}}}"
        rf"_{{{caption}}}"
    )


def step_latex(step: Step, parameters: str) -> str:
    expr = latex(step.expr)
    if step.relation == "start":
        return expr
    if step.relation == "equal":
        integrals = sp.Add.make_args(step.expr)
        if len(integrals) > 1 and all(isinstance(t, sp.Integral) for t in integrals):
            # A sum of integrals is too wide for one line: one integral per line.
            lines = r" \\ &\quad + ".join(latex(t) for t in integrals)
            return rf"\begin{{aligned}} &= {lines} \end{{aligned}}"
        return rf"= {expr}"
    if step.relation == "drop":
        caption = rf"\text{{free of }} {parameters} \text{{: dropped}}"
        marked = _marked(step.term, DROP_COLOUR, caption)
        return _two_lines(rf"{expr} \;+\; {marked}", expr)
    # scale: previous = term * expr
    caption = rf"\text{{positive, free of }} {parameters} \text{{: divided out}}"
    marked = _marked(step.term, SCALE_COLOUR, caption)
    return _two_lines(rf"{marked} \cdot \left({expr}\right)", expr)


def _two_lines(split: str, result: str) -> str:
    """The previous expression split into kept part and marked term, then what is kept."""
    return rf"\begin{{aligned}} &= {split} \\[4pt] &\longrightarrow\; {result} \end{{aligned}}"


def derivation_views(derivation: Derivation, verify: bool = True) -> list[StepView]:
    """One view per step; `verify` runs the relation check (a second or so, so cache the result)."""
    params = parameters_latex(derivation)
    checks = check_derivation(derivation) if verify else []
    views = []
    for index, step in enumerate(derivation.steps):
        verified = ""
        if verify and index > 0:
            check = checks[index - 1]
            verified = check.how if check.ok else f"FAILED: {check.how}"
        views.append(
            StepView(
                label=step.label,
                relation=step.relation,
                note=step.note,
                latex=step_latex(step, params),
                result_latex=latex(step.expr),
                verified=verified,
            )
        )
    return views
