"""bench says whether the machine was idle while it timed: from how long its thread waited for a CPU core."""
from __future__ import annotations

from nnintro.commands.bench import machine_note


def test_a_busy_machine_is_named_and_an_idle_one_said_idle():
    idle = machine_note({"waited_for_a_core": {"seconds": 0.2, "of_seconds": 40.0}})
    assert "waited 0.2 s of the 40.0 s it timed for a CPU core (0.5%)" in idle and idle.endswith("the machine was otherwise idle")
    busy = machine_note({"waited_for_a_core": {"seconds": 9.0, "of_seconds": 40.0}})
    assert "(22.5%)" in busy and "other programs were using this machine's cores" in busy and "run bench again" in busy
    for unknown in (None, {"seconds": 0.0, "of_seconds": 0.0}):
        assert "make sure the machine is otherwise idle" in machine_note({"waited_for_a_core": unknown})
