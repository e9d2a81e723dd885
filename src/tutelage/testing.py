"""Contract checks for plugin authors: does a contribution work like the built-ins?

Each ``check_*`` function runs the rules of one kind on one object and raises
one :class:`ContractViolation` (an ``AssertionError``) naming the object and
the first rule it breaks::

    from tutelage.testing import check_judge
    check_judge(ShorterJudge)          # a judge factory, called with no options

:func:`parametrize_with_checks` turns a list of contributions into pytest
parameters, like scikit-learn's::

    @parametrize_with_checks([ShorterJudge, "my/Ball-v0", Subject(NoisyExpert, world="my/Ball-v0")])
    def test_contract(subject, check):
        check(subject)

The built-in plugins pass every check (``tutelage plugins --check`` runs them
on every installed plugin).
"""
from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from tutelage.protocols import CHOICES, Critique, Verdict, WorldSpec

#: the two inputs a model type is tried on: a flat vector, then an image (channels, height, width)
MODEL_INPUTS = ((4,), (3, 8, 8))
SAMPLE_CONTEXTS = ["Say hello.", "Add 2 and 3."]
SAMPLE_OUTPUTS = ["Hello!", "2 + 3 = 5"]
SAMPLE_PAIRS = [("Hello!", "Hi there, how nice to meet you."), ("5", "2 + 3 = 6")]
SAMPLE_PRINCIPLES = ["Answer in at most five words."]
#: how far a replayed scenario's first observation may lie from the original (sensor noise is redrawn)
REPLAY_TOLERANCE = 0.1


class ContractViolation(AssertionError):
    """``subject`` breaks ``rule``; ``detail`` says how."""

    def __init__(self, subject: str, rule: str, detail: str):
        self.subject, self.rule, self.detail = subject, rule, detail
        super().__init__(f"{subject} breaks rule '{rule}': {detail}")


class NeedsOptions(ContractViolation):
    """A factory refused to build without options (a ``UserError``): the checks need ``options=``."""


class _Broken(Exception):
    """Raised inside a rule: the message is the detail of the violation."""


class Subject:
    """One contribution to check: the object, its kind (inferred when empty), a name for messages and
    test ids, and keyword arguments for its check (``options=``, ``world=``, ``contexts=``...)."""

    def __init__(self, obj: Any, kind: str = "", name: str = "", **kwargs: Any):
        self.obj, self.kind, self.name, self.kwargs = obj, kind or kind_of(obj), name or _describe(obj), kwargs

    def __repr__(self) -> str:
        return f"Subject({self.kind}: {self.name})"


def _describe(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, WorldSpec):
        return obj.id
    named = getattr(obj, "name", None)
    if isinstance(named, str) and named:
        return named
    return getattr(obj, "__qualname__", None) or type(obj).__name__


class _Rules:
    """Runs the rules of one check in order; the first broken one raises a ContractViolation."""

    def __init__(self, kind: str, obj: Any):
        self.subject = f"{kind} {_describe(obj)!r}"

    def __call__(self, rule: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ContractViolation:
            raise
        except Exception as exc:
            detail = str(exc) if isinstance(exc, _Broken) else f"raised {type(exc).__name__}: {exc}"
            raise ContractViolation(self.subject, rule, detail) from exc

    def build(self, factory: Any, options: Mapping[str, Any] | None) -> Any:
        """``factory(**options)``; a UserError without options means the checks need options."""
        from tutelage.errors import UserError

        rule = "factory(**options) builds an object"
        self(rule, lambda: _require(callable(factory), f"a factory must be callable, got {type(factory).__name__}"))
        try:
            return factory(**dict(options or {}))
        except UserError as exc:
            if not options:
                raise NeedsOptions(self.subject, rule, f"needs options to build ({exc})") from exc
            raise ContractViolation(self.subject, rule, f"raised {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise ContractViolation(self.subject, rule, f"raised {type(exc).__name__}: {exc}") from exc


def _require(condition: Any, detail: str) -> None:
    if not condition:
        raise _Broken(detail)


def _has(obj: Any, attribute: str, kind: type | tuple[type, ...]) -> None:
    value = getattr(obj, attribute, None)
    expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
    _require(isinstance(value, kind) and value != "", f"needs a non-empty attribute {attribute!r} ({expected}), got {value!r}")


def _method(obj: Any, name: str, *args: Any) -> None:
    method = getattr(obj, name, None)
    _require(callable(method), f"has no method {name}()")
    try:
        inspect.signature(method).bind(*args)
    except TypeError as exc:
        raise _Broken(f"{name}() cannot be called with {len(args)} arguments: {exc}") from None
    except ValueError:  # no signature (a builtin): calling will tell
        pass


# -- model types -------------------------------------------------------------------------------


def _check_sequence(rules: Any, model_type: Any, options: dict[str, Any]) -> None:
    """A sequence model type (``kind = "sequence"``) builds from its own defaults; its model scores
    texts, fits a little text, and samples the same text for the same seed."""
    model = rules("builds with its defaults", lambda: model_type.build(seed=0, **options))
    text = "the cat sat on the mat. " * 8
    scores = rules("log_prob(texts) gives one finite score per text",
                   lambda: np.asarray(model.log_prob([text[:40], text[:30]])))
    rules("log_prob(texts) gives one finite score per text",
          lambda: _require(scores.shape == (2,) and np.isfinite(scores).all(), f"got {scores!r}"))
    rules("fit(text, steps=) trains", lambda: model.fit(text, steps=2, batch_size=2))
    samples = [rules("generate(prompt, max_tokens, seed=) samples text",
                     lambda: model.generate("the ", max_tokens=8, seed=3)) for _ in range(2)]
    rules("the same seed samples the same text",
          lambda: _require(samples[0] == samples[1] and isinstance(samples[0], str), f"got {samples!r}"))


def check_model_type(model_type: Any, *, options: Mapping[str, Any] | None = None) -> None:
    """A model type has ``name`` and ``description``, and ``build(input_shape, output_size, seed=,
    **options)`` works for a vector (4,) or an image (3, 8, 8) input. A predictive type returns a
    :class:`tutelage.nn.Model` with outputs of ``output_size`` for one input and for a batch, the same
    for the same seed; a generative one (:class:`tutelage.generative.GenerativeModel`; unconditional
    ones take ``output_size`` = the row size) fits, samples the same rows for the same seed, scores
    each row and, with a ``restore``, is rebuilt from its ``config()`` and ``tensors()``."""
    from tutelage import nn
    from tutelage.errors import UserError
    from tutelage.generative import GenerativeModel

    rules = _Rules("model type", model_type)
    rules("name and description", lambda: (_has(model_type, "name", str), _has(model_type, "description", str)))
    rules("build(input_shape, output_size, seed=)", lambda: _method(model_type, "build", (4,), 2))
    options = dict(options or {})
    if getattr(model_type, "kind", "") == "sequence":  # a language model: text in, tokens out
        _check_sequence(rules, model_type, options)
        return

    def build(seed: int) -> tuple[Any, tuple[int, ...], int]:
        refused = []
        for shape in MODEL_INPUTS:
            for size in (3, int(np.prod(shape))):
                try:
                    return model_type.build(shape, size, seed=seed, **options), shape, size
                except UserError as exc:
                    refused.append(f"{shape} -> {size}: {exc}")
        raise _Broken("build refused every example input: " + "; ".join(refused))

    model, shape, size = rules("builds for a vector or image input", lambda: build(0))
    if isinstance(model, GenerativeModel):
        _check_generative(rules, model_type, model, shape, size)
        return
    rules("build returns a tutelage.nn.Model or a GenerativeModel",
          lambda: _require(isinstance(model, nn.Model), f"got {type(model).__name__}"))
    x = np.random.default_rng(0).normal(size=(5, *shape)).astype(np.float32)

    def outputs() -> np.ndarray:
        one, batch = np.asarray(model(x[0])), np.asarray(model(x))
        _require(one.shape == (size,), f"one input gave shape {one.shape}, expected ({size},)")
        _require(batch.shape == (5, size), f"a batch of 5 gave shape {batch.shape}, expected (5, {size})")
        _require(np.isfinite(batch).all(), "outputs are not finite")
        return batch

    first = rules("outputs of output_size, one input or a batch", outputs)
    again = rules("builds for a vector or image input", lambda: build(0))[0]
    rules("same seed, same model", lambda: _require(np.allclose(np.asarray(again(x)), first), "two builds with seed=0 differ"))


def _check_generative(rules: _Rules, model_type: Any, model: Any, shape: tuple[int, ...], size: int) -> None:
    rng = np.random.default_rng(0)
    given = rng.normal(size=(64, *shape)) if model.conditional else None
    data = rng.uniform(0.0, 1.0, size=(64, size))  # in [0, 1]: Bernoulli models accept it too
    fitted = rules("fit(data) returns the model", lambda: model.fit(data, given=given, seed=0))
    rules("fit(data) returns the model", lambda: _require(fitted is not None and hasattr(fitted, "sample"),
                                                          f"got {type(fitted).__name__}"))
    few = None if given is None else given[:5]

    def samples() -> np.ndarray:
        rows = np.asarray(fitted.sample(5, 1, given=few))
        _require(rows.shape == (5, size), f"sample(5) gave shape {rows.shape}, expected (5, {size})")
        _require(np.array_equal(rows, np.asarray(fitted.sample(5, 1, given=few))), "sample(5, seed=1) twice differs")
        return rows

    rows = rules("sample(n, seed) gives n rows, the same for the same seed", samples)

    def scores() -> None:
        values = np.asarray(fitted.log_prob(data[:5], given=few))
        _require(values.shape == (5,) and np.isfinite(values).all(), f"log_prob gave {values!r} for 5 rows")

    rules("log_prob gives one finite value per row", scores)
    if callable(getattr(model_type, "restore", None)):
        rebuilt = rules("restore(config, tensors) rebuilds the model",
                        lambda: model_type.restore(fitted.config(), fitted.tensors()))
        rules("restore(config, tensors) rebuilds the model", lambda: _require(
            np.allclose(np.asarray(rebuilt.sample(5, 1, given=few)), rows), "the rebuilt model samples other rows"))


# -- teachers ----------------------------------------------------------------------------------


def _make_env(world: Any) -> Any:
    """An environment from a Gymnasium id, a WorldSpec, an env class or an env instance."""
    import gymnasium

    if isinstance(world, gymnasium.Env):
        return world
    if isinstance(world, type):
        return world()
    world_id = world.id if isinstance(world, WorldSpec) else world
    if world_id not in gymnasium.registry:
        if isinstance(world, WorldSpec):
            gymnasium.register(id=world.id, entry_point=world.entry_point, max_episode_steps=world.max_episode_steps,
                               kwargs=dict(world.kwargs))
        else:
            from tutelage.plugins import get_host

            get_host().register_worlds()
    return gymnasium.make(world_id)


def _teacher_actions(teacher: Any, env: Any, teacher_seed: int, steps: int) -> list[np.ndarray]:
    teacher.reset(seed=teacher_seed)
    observation, info = env.reset(seed=0)
    actions = []
    for _ in range(steps):
        action = np.asarray(teacher.act(observation, info))
        space = env.action_space
        _require(action.shape == space.shape, f"act() returned shape {action.shape}, the action space is {space.shape}")
        _require(np.isfinite(action).all(), f"act() returned non-finite values {action}")
        _require(space.contains(action.astype(space.dtype)), f"act() returned {action}, outside {space}")
        actions.append(action)
        observation, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return actions


def check_teacher(factory: Any, *, options: Mapping[str, Any] | None = None, world: Any = None, steps: int = 20) -> None:
    """``factory(**options)`` gives a teacher with ``name``, ``privileged``, ``reset(seed=)`` and ``act``;
    with a ``world`` (an id, WorldSpec or env) its actions fit the action space and the same
    ``reset(seed)`` repeats the same actions."""
    rules = _Rules("teacher", factory)
    teacher = rules.build(factory, options)
    rules("name and privileged", lambda: (_has(teacher, "name", str), _has(teacher, "privileged", bool)))
    rules("act(observation, info)", lambda: _method(teacher, "act", None, {}))
    rules("reset(seed=None)", lambda: _method(teacher, "reset"))
    rules("reset(seed=...) takes the episode seed", lambda: teacher.reset(seed=0))
    if world is None:
        return
    env = rules("the world makes an environment", lambda: _make_env(world))
    try:
        first = rules("act() returns an action in the action space", lambda: _teacher_actions(teacher, env, 7, steps))
        again = rules("act() returns an action in the action space", lambda: _teacher_actions(teacher, env, 7, steps))
        rules("same reset(seed), same actions", lambda: _require(
            len(first) == len(again) and all(np.array_equal(a, b) for a, b in zip(first, again)),
            "two episodes after reset(seed=7) in the same scenario gave different actions"))
    finally:
        env.close()


# -- critics and judges ------------------------------------------------------------------------


def check_critic(factory: Any, *, options: Mapping[str, Any] | None = None, contexts: list[Any] | None = None,
                 outputs: list[Any] | None = None, principles: list[str] | None = None) -> None:
    """``factory(**options)`` gives a critic with ``name`` whose ``critique(contexts, outputs, principles)``
    returns one :class:`Critique` per output (a violation with a reason, a principle from the list),
    the same for the same inputs, and ``[]`` for no outputs."""
    contexts = SAMPLE_CONTEXTS if contexts is None else contexts
    outputs = SAMPLE_OUTPUTS if outputs is None else outputs
    principles = SAMPLE_PRINCIPLES if principles is None else principles
    rules = _Rules("critic", factory)
    critic = rules.build(factory, options)
    rules("name", lambda: _has(critic, "name", str))
    rules("critique(contexts, outputs, principles)", lambda: _method(critic, "critique", [], [], []))

    def critiques() -> list[Critique]:
        result = critic.critique(contexts, outputs, principles)
        _require(isinstance(result, list), f"critique() must return a list, got {type(result).__name__}")
        _require(len(result) == len(outputs), f"{len(result)} critiques for {len(outputs)} outputs")
        for item in result:
            _require(isinstance(item, Critique), f"critique() must return Critique objects, got {type(item).__name__}")
            _require(item.principle in principles or item.ok, f"principle {item.principle!r} is not one of {principles}")
            _require(item.ok or item.reason, "a violation (ok=False) needs a reason")
            _require(item.fixed in (True, False, None), f"fixed must be True, False or None, got {item.fixed!r}")
        return result

    first = rules("one Critique per output", critiques)
    again = rules("one Critique per output", critiques)
    key = [(c.ok, c.principle, c.reason) for c in first]
    rules("same inputs, same critiques", lambda: _require(key == [(c.ok, c.principle, c.reason) for c in again],
                                                          "two calls with the same inputs disagree"))
    rules("no outputs, no critiques", lambda: _require(critic.critique([], [], principles) == [], "expected []"))


MIRROR = {"first": "second", "second": "first", "tie": "tie", "abstain": "abstain"}


def check_judge(factory: Any, *, options: Mapping[str, Any] | None = None, contexts: list[Any] | None = None,
                pairs: list[tuple[Any, Any]] | None = None) -> None:
    """``factory(**options)`` gives a judge with ``name`` whose ``judge(contexts, pairs)`` returns one
    :class:`Verdict` per pair; swapping a pair mirrors the verdict (``p_first`` → ``1 - p_first``);
    two identical outputs are a tie or an abstention; no pairs, no verdicts."""
    contexts = SAMPLE_CONTEXTS if contexts is None else contexts
    pairs = SAMPLE_PAIRS if pairs is None else pairs
    rules = _Rules("judge", factory)
    judge = rules.build(factory, options)
    rules("name", lambda: _has(judge, "name", str))
    rules("judge(contexts, pairs)", lambda: _method(judge, "judge", [], []))

    def verdicts(these: list[tuple[Any, Any]]) -> list[Verdict]:
        result = judge.judge(contexts, these)
        _require(isinstance(result, list), f"judge() must return a list, got {type(result).__name__}")
        _require(len(result) == len(these), f"{len(result)} verdicts for {len(these)} pairs")
        for item in result:
            _require(isinstance(item, Verdict), f"judge() must return Verdict objects, got {type(item).__name__}")
            _require(item.choice in CHOICES, f"choice {item.choice!r} is not one of {CHOICES}")
        return result

    forward = rules("one Verdict per pair", lambda: verdicts(pairs))
    backward = rules("one Verdict per pair", lambda: verdicts([(b, a) for a, b in pairs]))

    def mirrored() -> None:
        for index, (a, b) in enumerate(zip(forward, backward)):
            same_p = (a.p_first is None) == (b.p_first is None) and (a.p_first is None or abs(a.p_first + b.p_first - 1) < 1e-6)
            _require(MIRROR[a.choice] == b.choice and same_p,
                     f"pair {index}: {a.choice} (p_first={a.p_first}) but swapped {b.choice} (p_first={b.p_first})")

    rules("swapping a pair mirrors the verdict", mirrored)
    same = rules("one Verdict per pair", lambda: verdicts([(a, a) for a, _ in pairs]))
    rules("identical outputs are a tie or an abstention", lambda: _require(
        all(v.choice in ("tie", "abstain") for v in same), f"got {[v.choice for v in same]}"))
    rules("no pairs, no verdicts", lambda: _require(judge.judge([], []) == [], "expected []"))


# -- worlds ------------------------------------------------------------------------------------


def check_world_api(world: Any) -> None:
    """Gymnasium's own ``check_env`` on the world's environment (spaces, seeding, step and reset API);
    a warning it gives (an observation outside its space...) is a failure too."""
    from gymnasium.utils.env_checker import check_env

    rules = _Rules("world", world)
    env = rules("the world makes an environment", lambda: _make_env(world))

    def checked() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped, skip_render_check=True)
        _require(not caught, "; ".join(_plain(str(w.message)) for w in caught))

    try:
        rules("gymnasium check_env", checked)
    finally:
        env.close()


def _plain(text: str) -> str:
    """A Gymnasium warning without its terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _world_steps(env: Any, steps: int) -> list[dict[str, Any]]:
    env.action_space.seed(0)
    infos = []
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        infos.append(info)
        if terminated or truncated:
            env.reset(seed=len(infos))
    return infos


def check_world_contract(world: Any, *, steps: int = 30) -> None:
    """The world contract beyond Gymnasium: the same seed gives the same first observation; every info
    holds ``is_success``; declared ``metrics`` are valid and their info keys are reported; a
    ``default_scenarios()`` is a ScenarioSampler, the reset info holds the ``scenario``, replaying it
    with ``options={"scenario": ...}`` reproduces the episode start and ``options={"edge_case": ...}``
    plays that edge case."""
    from tutelage.sim.metrics import check_metrics
    from tutelage.sim.scenarios import ScenarioSampler

    rules = _Rules("world", world)
    env = rules("the world makes an environment", lambda: _make_env(world))
    cls = type(env.unwrapped)
    try:
        first, info = env.reset(seed=123)
        again, _ = env.reset(seed=123)
        rules("same seed, same observation", lambda: _require(
            _same(first, again), "reset(seed=123) twice gave different observations"))
        rules("info holds is_success", lambda: _is_success(info, "the reset info"))
        infos = _world_steps(env, steps)
        rules("info holds is_success", lambda: [_is_success(i, f"the info of step {n}") for n, i in enumerate(infos)])
        metrics = rules("metrics is a tuple of valid Metric", lambda: check_metrics(getattr(cls, "metrics", ()), cls.__name__))

        def reported() -> None:
            for metric in (m for m in metrics if m.ratio is None):
                for n, step_info in enumerate(infos):
                    _require(metric.info_key in step_info,
                             f"metric {metric.name!r} reads info[{metric.info_key!r}], missing at step {n}")
                    float(step_info[metric.info_key])

        rules("declared metrics are reported in info", reported)
        if not callable(getattr(cls, "default_scenarios", None)):
            return
        sampler = rules("default_scenarios() returns a ScenarioSampler", lambda: cls.default_scenarios())
        rules("default_scenarios() returns a ScenarioSampler", lambda: _require(
            isinstance(sampler, ScenarioSampler), f"got {type(sampler).__name__}"))
        rules("reset info holds the scenario", lambda: _require(
            isinstance(info.get("scenario"), dict), f"info['scenario'] is {type(info.get('scenario')).__name__}"))
        rules("replaying info['scenario'] reproduces the start", lambda: _replays(env, first, info["scenario"]))
        if sampler.edge_case_names:
            case = sampler.edge_case_names[-1]
            rules("options={'edge_case': ...} plays that edge case", lambda: _plays_edge_case(env, sampler, case))
    finally:
        env.close()


def check_world_vector(world: Any, *, steps: int = 100) -> None:
    """Two copies run ``steps`` random steps in Gymnasium's ``SyncVectorEnv`` (as RL libraries run
    worlds): observations and infos stack across copies and episodes (an info array whose length
    changes between episodes must be a :class:`tutelage.sim.world.Ragged`)."""
    import gymnasium
    from gymnasium.vector import SyncVectorEnv

    rules = _Rules("world", world)

    def make() -> Any:  # a fresh copy each call, also when given an environment
        return type(world.unwrapped)() if isinstance(world, gymnasium.Env) else _make_env(world)

    def run() -> None:
        vector = SyncVectorEnv([make, make])
        try:
            vector.reset(seed=0)
            vector.action_space.seed(0)
            for _ in range(steps):
                vector.step(vector.action_space.sample())
        finally:
            vector.close()

    rules("runs in gymnasium's SyncVectorEnv", run)


def check_world(world: Any, *, steps: int = 30) -> None:
    """:func:`check_world_api`, :func:`check_world_contract` and :func:`check_world_vector`: ``world``
    is a Gymnasium id, a :class:`~tutelage.protocols.WorldSpec`, an environment class or an environment."""
    check_world_api(world)
    check_world_contract(world, steps=steps)
    check_world_vector(world)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return np.array_equal(np.asarray(a), np.asarray(b))


def _is_success(info: Any, where: str) -> None:
    _require(isinstance(info, dict) and "is_success" in info, f"{where} has no 'is_success'")
    _require(isinstance(info["is_success"], (bool, np.bool_)), f"{where}: is_success must be a bool, got {info['is_success']!r}")


def _replays(env: Any, first: Any, scenario: dict[str, Any]) -> None:
    replayed, info = env.reset(seed=999, options={"scenario": scenario})
    _require(info.get("scenario") == scenario, f"replayed scenario {info.get('scenario')} differs from {scenario}")
    twice, _ = env.reset(seed=999, options={"scenario": scenario})
    _require(_same(replayed, twice), "replaying the same scenario with the same seed gave different observations")
    if not isinstance(first, dict):
        gap = float(np.max(np.abs(np.asarray(replayed, float) - np.asarray(first, float)), initial=0.0))
        _require(gap <= REPLAY_TOLERANCE, f"the replayed first observation differs from the original by {gap:.3g}")


def _plays_edge_case(env: Any, sampler: Any, case: str) -> None:
    _, info = env.reset(seed=5, options={"edge_case": case})
    names = sampler.split_edge_case(case)
    _require(list(info.get("scenario", {}).get("edge_cases", [])) == names,
             f"reset(options={{'edge_case': {case!r}}}) played edge cases {info.get('scenario', {}).get('edge_cases')}")


# -- stage types -------------------------------------------------------------------------------


def check_stage_type(stage: Any) -> None:
    """A stage type is an instance with ``name`` and ``run(context, settings)``; its optional
    ``settings`` maps names to :class:`tutelage.runs.schema.Field`, ``validate(settings, check)`` is
    callable and ``produces`` names ``"model"`` and/or ``"dataset"``."""
    from tutelage.runs.schema import Field

    rules = _Rules("stage type", stage)
    rules("an instance, not a class", lambda: _require(not isinstance(stage, type), "register StageClass(), not StageClass"))
    rules("name", lambda: _has(stage, "name", str))
    rules("run(context, settings)", lambda: _method(stage, "run", None, {}))
    settings = getattr(stage, "settings", {})
    rules("settings maps names to Field", lambda: _require(
        isinstance(settings, Mapping) and all(isinstance(k, str) and isinstance(v, Field) for k, v in settings.items()),
        f"got {settings!r}"))
    if hasattr(stage, "validate"):
        rules("validate(settings, check)", lambda: _method(stage, "validate", {}, None))
    produces = getattr(stage, "produces", ())
    rules("produces names 'model' and/or 'dataset'", lambda: _require(
        isinstance(produces, (tuple, list)) and set(produces) <= {"model", "dataset"}, f"got {produces!r}"))


# -- collections of checks ---------------------------------------------------------------------

#: registry kind -> the checks of that kind, in order
CHECKS: dict[str, tuple[Callable[..., None], ...]] = {
    "model_types": (check_model_type,),
    "teachers": (check_teacher,),
    "critics": (check_critic,),
    "judges": (check_judge,),
    "worlds": (check_world_api, check_world_contract, check_world_vector),
    "stage_types": (check_stage_type,),
}


def kind_of(obj: Any) -> str:
    """The registry kind an object belongs to: a world id, WorldSpec or env (class); a model type
    (``build``); a stage type (``run``); a teacher, critic or judge class (``act``, ``critique``, ``judge``)."""
    import gymnasium

    if isinstance(obj, (str, WorldSpec, gymnasium.Env)) or (isinstance(obj, type) and issubclass(obj, gymnasium.Env)):
        return "worlds"
    for attribute, kind in (("act", "teachers"), ("critique", "critics"), ("judge", "judges")):
        if isinstance(obj, type) and hasattr(obj, attribute):
            return kind
    if hasattr(obj, "build"):
        return "model_types"
    if hasattr(obj, "run"):
        return "stage_types"
    raise TypeError(f"cannot tell what kind of contribution {obj!r} is; pass Subject(obj, kind=...)"
                    f" with kind one of {sorted(CHECKS)}")


def checks_for(subject: Subject) -> Iterator[Callable[[Subject], None]]:
    """The checks of a subject, each a function of the subject."""
    for check in CHECKS[subject.kind]:
        def run(s: Subject, check: Callable[..., None] = check) -> None:
            check(s.obj, **s.kwargs)

        run.__name__ = check.__name__
        yield run


def host_subjects(host: Any) -> Iterator[tuple[str, Subject]]:
    """Every contribution of a plugin host as (plugin name, Subject); a teacher that is a world's
    expert is checked in that world."""
    experts = {spec.expert: world_id for world_id, spec in host.registry("worlds").items() if spec.expert}
    for kind in CHECKS:
        registry = host.registry(kind)
        for name, obj in registry.items():
            kwargs = {"world": experts[name]} if kind == "teachers" and name in experts else {}
            yield registry.owner[name], Subject(obj, kind, name, **kwargs)


def parametrize_with_checks(objects: Iterable[Any], *, expected_failed_checks: Callable[[Any], Mapping[str, str]] | None = None) -> Any:
    """A ``pytest.mark.parametrize("subject, check", ...)`` over every check of every object.

    ``objects`` are contributions (a judge class, a world id...) or :class:`Subject` for a kind that
    cannot be inferred or checks that need keyword arguments. ``expected_failed_checks(obj)`` may
    return ``{check name: reason}``; those checks are marked ``xfail``.
    """
    import pytest

    params = []
    for item in objects:
        subject = item if isinstance(item, Subject) else Subject(item)
        expected = dict(expected_failed_checks(subject.obj) if expected_failed_checks else {})
        for check in checks_for(subject):
            marks = [pytest.mark.xfail(reason=expected[check.__name__], strict=True)] if check.__name__ in expected else []
            params.append(pytest.param(subject, check, id=f"{subject.name}-{check.__name__}", marks=marks))
    return pytest.mark.parametrize("subject, check", params)
