"""What the replay spends its time on: work whose answer cannot change is not redone at every window."""

from warnlink.assessment import replay as replay_mod
from warnlink.scenario.catalog import find_event, load_catalog
from warnlink.scenario.history import scenario_from_event
from warnlink.scenario.simulate import simulate


def test_a_ballistic_arc_that_misses_the_ground_is_flown_back_once_per_track(monkeypatch):
    """2022-11-18 (ICBM, 69 min): its terminal-phase tracks' ballistic arcs, flown back ``max_s`` (800 s), do
    not reach the ground, and from a later state they never will. Before, every window flew them again: 17 of
    the replay's 32 s. Each track now tries once; a successful fallback is computed once anyway."""
    real = replay_mod._ballistic_launch

    def counted(x, t_s, *a, **k):
        out = real(x, t_s, *a, **k)
        counted.n += 1
        counted.failed += out is None
        return out

    counted.n = counted.failed = 0
    monkeypatch.setattr(replay_mod, "_ballistic_launch", counted)
    ev = find_event(load_catalog(), "2022-11-18_1")
    sc = scenario_from_event(ev, seed=0)
    sim = simulate(sc)
    launch_s = min((la.time - sim.epoch).total_seconds() for la in sc.launches)
    rp = replay_mod.Replay(sim, event_id=ev.event_id, launch_s=launch_s)
    res = rp.run()
    assert counted.failed >= 1  # the case is exercised
    assert counted.n <= len(rp.objs), (counted.n, len(rp.objs))  # at most one try per track
    assert replay_mod.main_object(res)["estimate"]["launch_time"] is not None
