"""The run's overall bar weighs each stage by its work (episodes and epochs), not one tick a stage."""
from __future__ import annotations

from tutelage.plugins import get_host
from tutelage.runs.runner import stage_work
from tutelage.runs.spec import load_spec


def test_stages_weigh_what_they_play_and_train():
    spec = load_spec("driving", get_host())
    work = {stage.name: stage_work(get_host(), stage) for stage in spec.stages}
    evaluate = next(s for s in spec.stages if s.type == "evaluate").settings
    assert work[next(s.name for s in spec.stages if s.type == "evaluate")] == \
        (evaluate["episodes"] + evaluate["held_out_episodes"]) * len(evaluate["policies"])
    dagger = next(s for s in spec.stages if s.settings.get("method") == "dagger").settings
    assert work[next(s.name for s in spec.stages if s.settings.get("method") == "dagger")] == \
        dagger["rounds"] * dagger["episodes_per_round"] + dagger["epochs"] * dagger["rounds"]
    assert all(w >= 1 for w in work.values())
    assert max(work.values()) > 10 * min(work.values())  # a quantize stage is not worth an evaluation
