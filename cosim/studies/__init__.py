"""Reproductions of the four seed papers, one package each (`cosim study <name>`), by a lazy registry."""

from __future__ import annotations

from cosim.registry import Registry

__all__ = ["STUDIES", "STUDY_DESCRIPTIONS"]

STUDY_DESCRIPTIONS = {
    "joape2024": "seed 000: DSO/PLO interaction, EO, 4 scenarios x 3 cases, TOPSIS",
    "moradijoz2013": "seed 002: lot allocation by GA on the 9-bus network, AHP, reliability",
    "arabi2025": "seed 001: lot allocation by PSO on the 9-bus network, EV-rate/battery scenarios",
    "neyestani2015": "seed 003: two-stage lot allocation, energy + reserve MILP, IEEE 13-bus",
}

STUDIES = Registry("study", {name: f"cosim.studies.{name}.study:main" for name in STUDY_DESCRIPTIONS},
                   dotted_paths=False)
"""Study name -> its `main(argv) -> exit code`."""
