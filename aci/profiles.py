"""Named ACI profiles: how the interface behaves, as one choice per episode.

Two profiles exist. ``harness`` is this project's own interface. ``mlgym`` behaves
as MLGym-Bench's default agent configuration does, so a model meets the same
interface as in the paper and its numbers compare:

==========================  ===================================  ======================================
knob                        ``harness``                          ``mlgym``
==========================  ===================================  ======================================
file viewer window          100 lines                            1000 lines
step counter                no                                   ``(Current Step: N, Remaining Steps: M)``
                                                                 after each observation
edit/insert check           ``compile()``: syntax errors         flake8 with MLGym's codes
                                                                 (:mod:`aci.lint`), new errors only
malformed reply             answered, spends a step; 3 in a row  asked again within the step (no step
                            end the episode (``exit_format``)    spent); the third malformed reply of
                                                                 one step ends it (``exit_format``)
a submit that fails         the episode goes on                  the episode ends
                                                                 (``submission_not_found (submit)``,
                                                                 ``evaluation_format_error (submit)``)
exit statuses               ``exit_context``, ``exit_format``    MLGym's: ``autosubmission (X)``,
                                                                 ``submission_not_found (X)``,
                                                                 ``evaluation_format_error (X)``
memory tools                on                                   off
==========================  ===================================  ======================================

A task that reproduces an MLGym-Bench task (an ``mlgym:`` block in task.yaml) runs
under ``mlgym`` unless the user picks another profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from aci.errors import AciError


@dataclass(frozen=True)
class AciProfile:
    """One interface behaviour (see the module docstring for the two that exist)."""

    name: str
    window: int
    """Lines the file viewer shows at a time."""
    step_counter: bool
    """Show ``(Current Step: N, Remaining Steps: M)`` after each observation."""
    lint: str | None
    """The edit check: ``flake8`` (MLGym's codes, new errors only) or None (syntax only)."""
    format_retries: int
    """0: a malformed reply spends a step (``max_format_errors`` in a row end the
    episode). N > 0: a malformed reply is answered within the same step, and the
    N-th malformed reply of one step ends the episode with ``exit_format``."""
    mlgym_exits: bool
    """MLGym's exit statuses, and a submit that cannot be scored ends the episode."""
    memory: bool
    """Whether the memory tools are on unless the user says otherwise."""


HARNESS = AciProfile("harness", window=100, step_counter=False, lint=None, format_retries=0,
                     mlgym_exits=False, memory=True)
MLGYM = AciProfile("mlgym", window=1000, step_counter=True, lint="flake8", format_retries=3,
                   mlgym_exits=True, memory=False)
"""MLGym-Bench's default agent: ``configs/agents/default.yaml`` sets WINDOW 1000, its
next-step template shows the step counter, its edit tools run flake8, its agent
re-asks a malformed reply within the step (``format_fails + blocklist_fails <= 2``:
the third failure ends it), its environment ends on every submit."""

PROFILES = {profile.name: profile for profile in (HARNESS, MLGYM)}


def get_profile(name: str) -> AciProfile:
    """The profile named ``name``; an unknown name is one :class:`AciError` line."""
    try:
        return PROFILES[name]
    except KeyError:
        raise AciError(f"unknown ACI profile {name!r}: use one of {', '.join(PROFILES)}") from None


__all__ = ["HARNESS", "MLGYM", "PROFILES", "AciProfile", "get_profile"]
