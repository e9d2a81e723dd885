"""DAgger: aggregation across rounds, the β schedule, teacher labels on student-visited states."""
import numpy as np
import pytest

from tutelage.methods.dagger import DAggerBuffer, collect_demonstrations, dagger
from tutelage.rollouts.plan import episode_seeds
from tutelage.methods.schedules import LinearBetaSchedule


def test_buffer_aggregates_rounds_in_order_and_never_replaces():
    buffer = DAggerBuffer()
    buffer.add(np.ones((3, 2)), np.array([1, 1, 1]), 0)
    buffer.add(np.zeros((2, 2)), np.array([0, 0]), 1)
    X, Y = buffer.arrays()
    assert len(buffer) == 5 and X.dtype == np.float32
    np.testing.assert_array_equal(X[:, 0], [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(Y, [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(buffer.rounds, [0, 0, 0, 1, 1])


def test_buffer_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="3 observations but 2 labels"):
        DAggerBuffer().add(np.ones((3, 2)), np.ones(2), 0)


def test_dagger_follows_the_schedule_and_the_teacher_labels_every_visited_state(expert, make_student):
    buffer = DAggerBuffer()
    student, derivation = dagger(
        "CartPole-v1", expert, make_student(), rounds=3, episodes_per_round=2, max_steps=60,
        beta_schedule=LinearBetaSchedule(2), epochs=3, quiet=True, buffer=buffer,
    )
    rounds = derivation.history
    assert [r["beta"] for r in rounds] == [1.0, 0.5, 0.0]
    assert rounds[0]["teacher_share"] == 1.0 and rounds[2]["teacher_share"] == 0.0
    assert 0.0 < rounds[1]["teacher_share"] < 1.0
    # the data aggregates: each round adds exactly the steps it played
    assert [r["samples"] for r in rounds] == list(np.cumsum([r["steps"] for r in rounds]))
    np.testing.assert_array_equal(np.bincount(buffer.rounds), [r["steps"] for r in rounds])
    # every label is the teacher's action in that state, also where the student drove
    X, Y = buffer.arrays()
    np.testing.assert_array_equal(Y, [expert(x, {}) for x in X])
    assert derivation.lineage == {
        "parent": None, "method": "dagger", "teacher": "cartpole_expert", "dataset": "dagger:CartPole-v1:seed=0:3x2",
    }


def test_dagger_is_deterministic_given_the_seed(expert, make_student):
    runs = [dagger("CartPole-v1", expert, make_student(), rounds=2, episodes_per_round=2, max_steps=40,
                   epochs=2, seed=5, quiet=True)[0] for _ in range(2)]
    np.testing.assert_array_equal(runs[0].theta, runs[1].theta)


def test_demonstrations_are_the_teacher_driving_alone(expert):
    X, Y, records = collect_demonstrations("CartPole-v1", expert, 2, max_steps=50)
    assert len(X) == len(Y) == sum(r["length"] for r in records) == 100
    assert all(r["teacher_steps"] == r["length"] for r in records)


def test_training_and_held_out_seeds_never_meet():
    train = {episode_seeds(s, i, "train").env for s in range(3) for i in range(300)}
    held_out = {episode_seeds(s, i, "held-out").env for s in range(3) for i in range(300)}
    assert not train & held_out
    assert max(train) < 2**32 <= min(held_out)


def test_dagger_in_driving_with_the_privileged_expert(make_student):
    pytest.importorskip("pybullet")
    import tutelage  # noqa: F401  (registers the worlds)
    from tutelage.plugins import registry

    expert = registry("teachers").get(registry("worlds").get("tutelage/Driving-v0").expert)()
    student = make_student(inputs=38, outputs=2)
    _, derivation = dagger("tutelage/Driving-v0", expert, student, rounds=2, episodes_per_round=1, max_steps=25,
                           edge_case_fraction=1.0, epochs=2, quiet=True)
    assert [r["steps"] for r in derivation.history] == [25, 25]
    assert derivation.teacher == "driving-expert"


def test_dagger_on_worker_processes_gives_the_one_process_result():
    pytest.importorskip("pybullet")
    import tutelage.worlds  # noqa: F401  (registers the worlds)
    from tutelage.plugins import registry
    from tutelage.sim.spaces import io_sizes
    from tutelage_plugins.teachers.experts import ReachExpert

    def run(workers: int):
        inputs, outputs = io_sizes("tutelage/Reach-v0")
        student = registry("model_types").get("mlp").build((inputs,), outputs, hidden=(16,), seed=0)
        return dagger("tutelage/Reach-v0", ReachExpert(), student, rounds=3, episodes_per_round=3, max_steps=15,
                      beta_schedule=LinearBetaSchedule(2), epochs=2, seed=3, quiet=True, workers=workers,
                      labels_per_episode=10)

    (one, history_one), (two, history_two) = run(1), run(2)
    np.testing.assert_array_equal(one.theta, two.theta)
    assert history_one.history == history_two.history
    assert 0.0 < history_one.history[1]["teacher_share"] < 1.0, "round 1 mixes teacher and student per step"
    assert history_one.history[-1]["samples"] == 3 * 3 * 10  # 15 steps an episode, 10 labels kept


def test_dagger_on_workers_refuses_a_teacher_that_cannot_travel(make_student):
    from tutelage.errors import SpecError

    with pytest.raises(SpecError, match="must be picklable .* use workers = 1"):
        dagger("CartPole-v1", lambda observation, info: 0, make_student(), rounds=1, episodes_per_round=2,
               max_steps=5, epochs=1, quiet=True, workers=2)



def test_labels_per_episode_keeps_evenly_spaced_states_of_each_long_episode(expert, make_student):
    full, capped = DAggerBuffer(), DAggerBuffer()
    for buffer, cap in ((full, None), (capped, 10)):
        dagger("CartPole-v1", expert, make_student(), rounds=1, episodes_per_round=3, max_steps=40, epochs=1,
               quiet=True, buffer=buffer, labels_per_episode=cap)
    X_full, _ = full.arrays()
    X_capped, Y_capped = capped.arrays()
    assert len(X_full) == 120 and len(X_capped) == 30  # 3 episodes of 40 steps (the expert balances), 10 kept of each
    for episode in range(3):
        kept = np.linspace(0, 39, 10).round().astype(int) + 40 * episode
        np.testing.assert_array_equal(X_capped[10 * episode: 10 * (episode + 1)], X_full[kept])
    np.testing.assert_array_equal(Y_capped, [expert(x, {}) for x in X_capped])


def test_labels_per_episode_must_be_positive(expert, make_student):
    from tutelage.errors import SpecError

    with pytest.raises(SpecError, match="labels_per_episode"):
        dagger("CartPole-v1", expert, make_student(), rounds=1, episodes_per_round=1, labels_per_episode=0, quiet=True)


def test_keep_best_returns_the_student_that_drove_alone_best(expert, make_student):
    snapshots = {}
    student, derivation = dagger(
        "CartPole-v1", expert, make_student(), rounds=4, episodes_per_round=3, max_steps=80, epochs=1, seed=4,
        beta_schedule=LinearBetaSchedule(1), quiet=True, keep="best",
        on_round=lambda r, model, record: snapshots.__setitem__(r, model.theta.copy()),
    )
    kept = derivation.metrics["kept_round"]
    np.testing.assert_array_equal(student.theta, snapshots[kept])
    # rounds 1-3 are the students of rounds 0-2 driving alone (CartPole has no success: the return decides)
    alone = [(r["success_rate"], r["mean_return"]) for r in derivation.history[1:]]
    assert kept < 3 and alone[kept] == max(alone), "this seed's best student is not the last one"
    last = dagger("CartPole-v1", expert, make_student(), rounds=4, episodes_per_round=3, max_steps=80, epochs=1,
                  seed=4, beta_schedule=LinearBetaSchedule(1), quiet=True)[1]
    assert last.history == derivation.history and "kept_round" not in last.metrics  # the same training either way


def test_keep_must_be_last_or_best(expert, make_student):
    from tutelage.errors import SpecError

    with pytest.raises(SpecError, match="keep must be 'last' or 'best'"):
        dagger("CartPole-v1", expert, make_student(), rounds=1, episodes_per_round=1, keep="first", quiet=True)
