"""The ``improve`` stage: a policy improved against a reward model, judged against its start by the oracle."""
from __future__ import annotations

from typing import Any

from tutelage.runs.schema import Field
from tutelage_plugins.stages.judge import oracle_of
from tutelage_plugins.stages.refs import load_policy


class ImproveStage:
    """Best-of-n, reward-weighted regression or DPO; win rate against the start on held-out scenarios, the
    divergence from the start, and the over-optimization curve (oracle vs reward model as n grows)."""

    name = "improve"
    produces = ("model",)
    settings = {
        "policy": Field(str, help="an earlier model stage (the start, kept frozen as the reference)"),
        "reward": Field(str, help="an earlier reward stage"),
        "method": Field(str, "best_of_n", choices=("best_of_n", "rwr", "dpo")),
        "n": Field(int, 8, minimum=1, help="samples per scenario"),
        "sigma": Field(float, 0.1, minimum=0.0),
        "rounds": Field(int, 3, minimum=1),
        "scenarios": Field(int, 48, minimum=1, help="training scenarios, shared among the rounds"),
        "epochs": Field(int, 10, minimum=1),
        "lr": Field(float, 5e-4, minimum=0.0),
        "beta": Field(float, 1.0, minimum=0.0, help="rwr temperature in units of the scores' spread; dpo's β"),
        "anchor": Field(float, 3.0, minimum=0.0, help="states labelled with the start's actions per kept step"),
        "max_steps": Field(int, None, minimum=1),
        "episodes": Field(int, 100, minimum=1, help="held-out scenarios for the win rate"),
        "curve": Field(list, [1, 2, 4, 8, 16, 32, 64], items=int, help="best-of-n sizes of the over-optimization curve"),
        "curve_scenarios": Field(int, 6, minimum=0, help="held-out scenarios of the curve (0: no curve)"),
    }

    def validate(self, settings: dict[str, Any], check: Any) -> dict[str, Any]:
        earlier = [s.name for s in check.earlier]
        for key in ("policy", "reward"):
            if settings[key] not in earlier:
                raise check.error(key, "name an earlier stage")
        return settings

    def run(self, context: Any, settings: dict[str, Any]) -> dict[str, Any]:
        from tutelage.methods.collapse_guard import guard_policy
        from tutelage.methods.improve import improve, overoptimization, win_rate
        from tutelage.methods.lineage import Derivation, save_derived
        from tutelage.methods.reward import load_reward_model
        from tutelage.rollouts.plan import EpisodePlanner

        seed = context.stage_seed()
        start = load_policy(context, settings["policy"])
        verdict, depth = guard_policy(context.spec.collapse_guard, start, f"samples of policy {settings['policy']}")
        reward = load_reward_model(context.resolve(context.output(settings["reward"])["model"]))
        train = EpisodePlanner(context.sampler).plans(seed, settings["scenarios"])
        held_out = EpisodePlanner(context.sampler, split="held-out").plans(seed, settings["episodes"])
        policy, rounds = improve(start, context.world, train, reward, method=settings["method"], n=settings["n"],
                                 sigma=settings["sigma"], rounds=settings["rounds"], epochs=settings["epochs"],
                                 lr=settings["lr"], beta=settings["beta"], max_steps=settings["max_steps"], seed=seed,
                                 anchor=settings["anchor"])
        for record in rounds:
            context.log(kind="curve", panel=f"{context.stage.name}: KL from the start", series="kl", x=record["round"],
                        y=record["kl"], x_label="round")
        oracle = oracle_of(context)
        wins = win_rate(context.world, policy, start, held_out, oracle, max_steps=settings["max_steps"])
        curve = []
        if settings["curve_scenarios"]:
            curve = overoptimization(context.world, start, held_out[:settings["curve_scenarios"]], reward, oracle,
                                     ns=settings["curve"], sigma=settings["sigma"], max_steps=settings["max_steps"])
        path = context.path("models", f"{context.stage.name}.safetensors")
        derivation = Derivation(settings["method"], parent=context.output(settings["policy"])["model_id"],
                                teacher=context.output(settings["reward"])["model_id"]).guarded(verdict, depth)
        model_id = save_derived(policy, path, derivation, metadata={"run": context.run_id, "stage": context.stage.name,
                                                                    "world": context.world})
        context.lineage.add_model(model_id, run_id=context.run_id, path=str(path.resolve()), model_type="mlp",
                                  method=settings["method"], parent=derivation.parent, teacher=derivation.teacher,
                                  n_params=int(policy.n_params), size_bytes=path.stat().st_size,
                                  data_depth=depth, collapse_guard=derivation.collapse_guard)
        return {"model": context.relative(path), "model_id": model_id, "method": settings["method"],
                "win_rate": wins["win_rate"], "win_interval": wins["interval"], "wins": wins["wins"],
                "losses": wins["losses"], "ties": wins["ties"], "oracle_gain": wins["mean_gain"],
                "kl": rounds[-1]["kl"], "action_rms": rounds[-1]["action_rms"], "rounds": rounds,
                "overoptimization": curve}

