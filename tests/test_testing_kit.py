"""tutelage.testing: the built-in plugins pass every check; a broken object fails with the rule it breaks."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage.methods.reward import RewardModel
from tutelage.plugins import get_host
from tutelage.protocols import Critique, Verdict, WorldSpec
from tutelage.runs.schema import Field
from tutelage.testing import (
    ContractViolation, NeedsOptions, Subject, check_critic, check_judge, check_model_type, check_stage_type,
    check_teacher, check_world, check_world_contract, check_world_vector, host_subjects, parametrize_with_checks,
)
from tutelage_plugins.models.mlp import MLPType
from tutelage_plugins.teachers.models import model_teacher


def builtin_subjects() -> list[Subject]:
    # critics need a constitution and simulator steps (tests/test_critics.py runs check_critic on them)
    subjects = [subject for _, subject in host_subjects(get_host()) if subject.name != "model" and subject.kind != "critics"]
    policy = MLPType().build((32,), 7, seed=0, output_activation="tanh")
    subjects.append(Subject(model_teacher, "teachers", "model", options={"model": policy}, world="tutelage/Reach-v0"))
    judges = get_host().registry("judges")  # judges need a world, a score or a reward model to build
    reward = RewardModel(MLPType().build((39,), 1, seed=0))
    subjects = [s for s in subjects if s.kind != "judges"] + [
        Subject(judges.get("oracle"), "judges", "oracle", options={"score": lambda context, output: len(output)}),
        Subject(judges.get("expert"), "judges", "expert", options={"world": "tutelage/Reach-v0"}),
        Subject(judges.get("model"), "judges", "model", options={"reward": reward})]
    return subjects


@parametrize_with_checks(builtin_subjects())
def test_builtins_keep_the_contract(subject, check):
    check(subject)


def test_every_builtin_kind_is_checked():
    kinds = {subject.kind for subject in builtin_subjects()}
    assert {"model_types", "teachers", "worlds", "stage_types"} <= kinds


def broken(check, obj, rule, **kwargs):
    with pytest.raises(ContractViolation) as info:
        check(obj, **kwargs)
    assert info.value.rule == rule, str(info.value)
    assert f"breaks rule '{rule}'" in str(info.value)
    return info.value


# -- model types --------------------------------------------------------------------------------


class NoBuild:
    name, description = "nobuild", "forgot build"


class WrongShape:
    name, description = "wrongshape", "ignores output_size"

    def build(self, input_shape, output_size, *, seed=0):
        return MLPType().build(input_shape, output_size + 1, seed=seed)


class Unseeded:
    name, description = "unseeded", "ignores the seed"

    def __init__(self):
        self.calls = 0

    def build(self, input_shape, output_size, *, seed=0):
        self.calls += 1
        return MLPType().build(input_shape, output_size, seed=self.calls)


class NotAModel:
    name, description = "notamodel", "returns a function"

    def build(self, input_shape, output_size, *, seed=0):
        return lambda x: np.zeros(output_size)


@pytest.mark.parametrize("obj, rule", [
    (NoBuild(), "build(input_shape, output_size, seed=)"),
    (WrongShape(), "outputs of output_size, one input or a batch"),
    (Unseeded(), "same seed, same model"),
    (NotAModel(), "build returns a tutelage.nn.Model or a GenerativeModel"),
    (type("Nameless", (MLPType,), {"name": ""})(), "name and description"),
])
def test_broken_model_types(obj, rule):
    error = broken(check_model_type, obj, rule)
    assert "model type" in str(error)


def test_broken_generative_model_types():
    from tutelage.generative import row_size
    from tutelage_plugins.models.gmm import GMM, GMMType

    class Restless(GMM):
        calls = 0  # each call draws with a new seed, so no two calls can agree by chance

        def sample(self, n, seed, *, given=None):
            Restless.calls += 1
            return super().sample(n, seed + Restless.calls, given=given)

    class RestlessType(GMMType):
        def build(self, input_shape, output_size, *, seed=0):
            return Restless(row_size(input_shape, output_size, "restless"), seed=seed)

    broken(check_model_type, RestlessType(), "sample(n, seed) gives n rows, the same for the same seed")

    class Amnesic(GMMType):
        def restore(self, config, tensors):
            return GMM(**config)  # forgets the fitted tensors

    broken(check_model_type, Amnesic(), "restore(config, tensors) rebuilds the model")


# -- teachers -----------------------------------------------------------------------------------


class NoSeed:
    name, privileged = "noseed", False

    def reset(self):
        pass

    def act(self, observation, info):
        return np.zeros(7, np.float32)


class Restless:
    """Its noise ignores reset(seed): the same seed repeats nothing."""

    name, privileged = "restless", False

    def __init__(self):
        self.rng = np.random.default_rng()

    def reset(self, seed=None):
        pass

    def act(self, observation, info):
        return self.rng.uniform(-1, 1, 7).astype(np.float32)


class TooWide(Restless):
    name = "toowide"

    def act(self, observation, info):
        return np.full(7, 3.0, np.float32)


def test_teacher_factory_must_be_callable():
    broken(check_teacher, 42, "factory(**options) builds an object")


def test_teacher_without_seed():
    broken(check_teacher, NoSeed, "reset(seed=...) takes the episode seed")


def test_teacher_must_repeat_under_the_same_seed():
    broken(check_teacher, Restless, "same reset(seed), same actions", world="tutelage/Reach-v0", steps=3)


def test_teacher_actions_must_fit_the_space():
    broken(check_teacher, TooWide, "act() returns an action in the action space", world="tutelage/Reach-v0", steps=3)


def test_teacher_needing_options_says_so():
    error = broken(check_teacher, model_teacher, "factory(**options) builds an object")
    assert isinstance(error, NeedsOptions)


# -- critics and judges -------------------------------------------------------------------------


class LengthCritic:
    name = "length"

    def critique(self, contexts, outputs, principles):
        return [Critique(ok=len(o.split()) <= 5, principle=principles[0], reason="" if len(o.split()) <= 5 else "too long")
                for o in outputs]


class SilentCritic(LengthCritic):
    def critique(self, contexts, outputs, principles):
        return [Critique(ok=False, principle=principles[0]) for _ in outputs]


class ShortCritic(LengthCritic):
    def critique(self, contexts, outputs, principles):
        return []


def test_critic_passes():
    check_critic(LengthCritic)


@pytest.mark.parametrize("factory, rule", [
    (SilentCritic, "one Critique per output"),
    (ShortCritic, "one Critique per output"),
    (lambda: object(), "name"),
])
def test_broken_critics(factory, rule):
    broken(check_critic, factory, rule)


class ShorterJudge:
    name = "shorter"

    def judge(self, contexts, pairs):
        out = []
        for a, b in pairs:
            if len(a) == len(b):
                out.append(Verdict("tie", 0.5))
            else:
                out.append(Verdict("first" if len(a) < len(b) else "second", 0.9 if len(a) < len(b) else 0.1))
        return out


class FirstJudge(ShorterJudge):
    """Always prefers what it reads first: position bias."""

    name = "first"

    def judge(self, contexts, pairs):
        return [Verdict("first", 1.0) for _ in pairs]


class StringJudge(ShorterJudge):
    def judge(self, contexts, pairs):
        return ["first" for _ in pairs]


class PickyJudge(ShorterJudge):
    """Prefers the first of two identical outputs but mirrors correctly otherwise."""

    def judge(self, contexts, pairs):
        return [Verdict("first", 0.9) if a == b else v for (a, b), v in zip(pairs, super().judge(contexts, pairs))]


def test_judge_passes():
    check_judge(ShorterJudge)


@pytest.mark.parametrize("factory, rule", [
    (FirstJudge, "swapping a pair mirrors the verdict"),
    (StringJudge, "one Verdict per pair"),
    (PickyJudge, "identical outputs are a tie or an abstention"),
])
def test_broken_judges(factory, rule):
    broken(check_judge, factory, rule)


# -- worlds -------------------------------------------------------------------------------------


def reach():
    from tutelage_plugins.worlds.arm import ReachEnv

    return ReachEnv


def test_world_without_is_success():
    class NoSuccess(reach()):
        def observe(self):
            observation, info = super().observe()
            del info["is_success"]
            return observation, info

    broken(check_world_contract, NoSuccess, "info holds is_success", steps=2)


def test_world_with_undeclared_metric_keys():
    from tutelage.sim.metrics import Metric

    class Bragging(reach()):
        metrics = (Metric("smoothness", reduce="mean"),)

    error = broken(check_world_contract, Bragging, "declared metrics are reported in info", steps=2)
    assert "smoothness" in str(error)


def test_world_with_invalid_metrics():
    class Listed(reach()):
        metrics = ("final_distance",)

    broken(check_world_contract, Listed, "metrics is a tuple of valid Metric", steps=2)


def test_world_ignoring_the_seed():
    class Unseeded(reach()):
        def reset(self, *, seed=None, options=None):
            return super().reset(seed=None, options=options)

    broken(check_world_contract, Unseeded, "same seed, same observation", steps=2)


def test_world_ignoring_scenario_options():
    class Forgetful(reach()):
        def reset(self, *, seed=None, options=None):
            return super().reset(seed=seed)

    broken(check_world_contract, Forgetful, "replaying info['scenario'] reproduces the start", steps=2)


def test_world_with_bad_default_scenarios():
    class Unsampled(reach()):
        @classmethod
        def default_scenarios(cls):
            return {"goal_x": (0.3, 0.6)}

        def __init__(self):
            super().__init__(scenarios=reach().default_scenarios())

    broken(check_world_contract, Unsampled, "default_scenarios() returns a ScenarioSampler", steps=2)


def test_world_failing_gymnasium_check():
    class Lying(reach()):
        def step(self, action):
            observation, reward, terminated, truncated, info = super().step(action)
            return observation.astype(np.float64) * 100.0, reward, terminated, truncated, info

    broken(check_world, Lying, "gymnasium check_env")


def test_world_with_ragged_info_breaks_vector_envs():
    class Growing(reach()):
        def observe(self):
            observation, info = super().observe()
            info["trail"] = np.zeros((int(self.np_random.integers(5)), 2))  # its length varies: cannot stack
            return observation, info

    error = broken(check_world_vector, Growing, "runs in gymnasium's SyncVectorEnv", steps=5)
    assert "broadcast" in str(error)


def test_world_spec_with_a_bad_entry_point():
    spec = WorldSpec("kit/Missing-v0", entry_point="no_such_module_here:Env")
    broken(check_world, spec, "the world makes an environment")


# -- stage types --------------------------------------------------------------------------------


class CountStage:
    name = "count"
    settings = {"n": Field(int, 3, minimum=1)}
    produces = ("dataset",)

    def run(self, context, settings):
        return {"n": settings["n"]}


def test_stage_passes():
    check_stage_type(CountStage())


@pytest.mark.parametrize("obj, rule", [
    (CountStage, "an instance, not a class"),
    (type("NoRun", (), {"name": "norun"})(), "run(context, settings)"),
    (type("Untyped", (CountStage,), {"settings": {"n": int}})(), "settings maps names to Field"),
    (type("Model", (CountStage,), {"produces": ("model", "plot")})(), "produces names 'model' and/or 'dataset'"),
    (type("OneArg", (CountStage,), {"run": lambda self, context: {}})(), "run(context, settings)"),
])
def test_broken_stages(obj, rule):
    broken(check_stage_type, obj, rule)


# -- parametrize_with_checks --------------------------------------------------------------------


def test_parametrize_ids_and_expected_failures():
    mark = parametrize_with_checks(
        [ShorterJudge, FirstJudge, CountStage(), "tutelage/Reach-v0"],
        expected_failed_checks=lambda obj: {"check_judge": "position bias"} if obj is FirstJudge else {},
    )
    params = mark.args[1]
    ids = [p.id for p in params]
    assert ids == ["shorter-check_judge", "first-check_judge", "count-check_stage_type",
                   "tutelage/Reach-v0-check_world_api", "tutelage/Reach-v0-check_world_contract",
                   "tutelage/Reach-v0-check_world_vector"]
    assert [bool(p.marks) for p in params] == [False, True, False, False, False, False]


def test_kind_must_be_inferable():
    with pytest.raises(TypeError, match="Subject"):
        Subject(lambda: None)
