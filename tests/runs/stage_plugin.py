"""A local plugin for the runner's tests: a world id and four small stage types.

It exercises the ``tutelage_stage_types`` hook the way a third-party plugin
would: ``count`` writes shards one by one (resumable, optionally slow, so a
test can kill it mid-stage), ``fit`` trains a least-squares model on them with
its stage seed, ``shrink`` derives an int8 child, ``score`` measures them.
"""
from __future__ import annotations

import hashlib
import json
import time

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file

from tutelage import fileio, hookimpl
from tutelage.protocols import WorldSpec
from tutelage.runs.schema import Field

WORLD = "test/Line-v0"


def content_id(path) -> str:
    """Like tutelage.nn's model ids: a hash of the content, the same for the same model."""
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]


class Count:
    name = "count"
    produces = ("dataset",)
    settings = {"shards": Field(int, 3, minimum=1), "rows": Field(int, 64, minimum=1), "delay": Field(float, 0.0)}

    def run(self, context, settings):
        folder = context.path("datasets", context.stage.name, "x")
        advance = context.progress(settings["shards"], "shards")
        for shard in range(settings["shards"]):
            path = folder.parent / f"shard-{shard:03d}.npy"
            if not path.exists():  # finished shards are kept on resume
                rng = np.random.default_rng([context.spec.seed, shard])
                x = rng.normal(size=(settings["rows"], 3)).astype(np.float32)
                with fileio.atomic_path(path) as tmp:
                    np.save(open(tmp, "wb"), x)
                time.sleep(settings["delay"])
            advance(1)
        dataset_id = f"{context.run_id}-{context.stage.name}"
        context.lineage.add_dataset(dataset_id, run_id=context.run_id, path=str(folder.parent), world=context.world,
                                    policy="oracle", episodes=settings["shards"])
        return {"dataset": context.relative(folder.parent), "dataset_id": dataset_id, "shards": settings["shards"]}


class Fit:
    name = "fit"
    produces = ("model",)
    settings = {"data": Field(str), "epochs": Field(int, 20, minimum=1), "delay": Field(float, 0.0)}

    def validate(self, settings, check):
        check.earlier_output(settings["data"], "data", "dataset")
        return settings

    def run(self, context, settings):
        data = context.output(settings["data"])
        shards = sorted(context.resolve(data["dataset"]).glob("shard-*.npy"))
        x = np.concatenate([np.load(p) for p in shards])
        y = x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.25
        rng = np.random.default_rng(context.stage_seed())
        w = rng.normal(size=3).astype(np.float32)
        b = np.float32(0.0)
        advance = context.progress(settings["epochs"], "epochs")
        for epoch in range(settings["epochs"]):
            err = x @ w + b - y
            w -= np.float32(0.1) * (x.T @ err) / len(x)
            b -= np.float32(0.1) * err.mean()
            context.log(kind="curve", series="loss", x=epoch, y=float((err**2).mean()))
            time.sleep(settings["delay"])
            advance(1)
        path = context.path("models", f"{context.stage.name}.safetensors")
        save_file({"w": w, "b": np.array([b], np.float32)}, str(path))
        model_id = content_id(path)
        context.lineage.add_model(model_id, run_id=context.run_id, path=str(path), model_type="linear", method="fit",
                                  dataset=data["dataset_id"], teacher="oracle", n_params=4, size_bytes=path.stat().st_size)
        return {"model": context.relative(path), "model_id": model_id, "final_loss": float((err**2).mean())}


class Shrink:
    name = "shrink"
    produces = ("model",)
    settings = {"model": Field(str)}

    def validate(self, settings, check):
        check.earlier_output(settings["model"], "model", "model")
        return settings

    def run(self, context, settings):
        parent = context.output(settings["model"])
        tensors = load_file(str(context.resolve(parent["model"])))
        scale = np.float32(np.abs(tensors["w"]).max() / 127)
        path = context.path("models", f"{context.stage.name}.safetensors")
        save_file({"w": np.round(tensors["w"] / scale).astype(np.int8), "scale": np.array([scale]), "b": tensors["b"]}, str(path))
        model_id = content_id(path)
        context.lineage.add_model(model_id, run_id=context.run_id, path=str(path), model_type="linear-int8",
                                  method="int8", parent=parent["model_id"], teacher="oracle", n_params=4,
                                  size_bytes=path.stat().st_size)
        return {"model": context.relative(path), "model_id": model_id}


class Score:
    name = "score"
    settings = {"models": Field(list, items=str), "data": Field(str), "tolerance": Field(float, 0.05)}

    def run(self, context, settings):
        x = np.concatenate([np.load(p) for p in sorted(context.resolve(context.output(settings["data"])["dataset"]).glob("*.npy"))])
        y = x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.25
        policies = {"oracle": {"role": "teacher", "success_rate": 1.0, "episodes": len(x)}}
        for stage in settings["models"]:
            out = context.output(stage)
            t = load_file(str(context.resolve(out["model"])))
            w = t["w"].astype(np.float32) * (t["scale"][0] if "scale" in t else 1)
            ok = np.abs(x @ w + t["b"][0] - y) < settings["tolerance"]
            started = time.perf_counter()
            x[0] @ w
            metrics = {"role": "student", "success_rate": float(ok.mean()), "n_params": 4, "episodes": len(x),
                       "inference_us": 1e6 * (time.perf_counter() - started), "model_id": out["model_id"],
                       "by_edge_case": {"negative": float(ok[x[:, 0] < 0].mean()), "positive": float(ok[x[:, 0] >= 0].mean())}}
            context.lineage.set_model_metrics(out["model_id"], metrics)
            policies[stage] = metrics
        frames = [np.full((24, 48, 3), 20 * i, np.uint8) for i in range(6)]
        gif = context.path("gifs", "strip.gif")
        images = [Image.fromarray(f) for f in frames]
        with fileio.atomic_path(gif) as tmp:
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
        return {"policies": policies, "gif": context.relative(gif), "gif_caption": "teacher (left) and student (right)",
                "summary_json": json.dumps(sorted(policies))}


@hookimpl
def tutelage_stage_types():
    return {t.name: t for t in (Count(), Fit(), Shrink(), Score())}


@hookimpl
def tutelage_worlds():
    return {WORLD: WorldSpec(id=WORLD, entry_point="tests_runs_never_made:Line")}
