"""bench says whether the machine was idle while it timed: from how long its thread waited for a CPU core."""
from __future__ import annotations

from nnintro.commands.bench import machine_note


def test_a_busy_machine_is_named_and_an_idle_one_said_idle():
    idle = machine_note({"waited_for_a_core": {"seconds": 0.2, "of_seconds": 40.0}})
    assert "waited 0.2 s of the 40.0 s it timed for a CPU core (0.5%)" in idle and idle.endswith("took its cores")
    busy = machine_note({"waited_for_a_core": {"seconds": 9.0, "of_seconds": 40.0}})
    assert "(22.5%)" in busy and "other programs were using this machine's cores" in busy and "run bench again" in busy
    for unknown in (None, {"seconds": 0.0, "of_seconds": 0.0}):
        assert "make sure the machine is otherwise idle" in machine_note({"waited_for_a_core": unknown})


def test_the_machines_speed_moving_between_the_rounds_is_said_with_the_spread():
    waited = {"seconds": 0.1, "of_seconds": 30.0}
    steady = machine_note({"waited_for_a_core": waited, "gemm_gflops_before_each_round": [150.0, 160.0, 155.0]})
    assert steady.endswith("held steady before each round (150-160 GFLOP/s)")
    moved = machine_note({"waited_for_a_core": waited, "gemm_gflops_before_each_round": [100.0, 140.0, 120.0]})
    assert "moved from 100 to 140 GFLOP/s between the rounds (29% apart)" in moved
    assert "can be off by up to about as much" in moved
