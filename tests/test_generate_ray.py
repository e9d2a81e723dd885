"""Generation as Ray tasks on a real local Ray instance (started once for the module)."""
from __future__ import annotations

import numpy as np
import pytest

from tutelage.data import Dataset
from tutelage.rollouts.generate import generate

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

WORLD = "Pendulum-v1"
SMALL = dict(episodes=6, episodes_per_shard=2, max_steps=30, seed=11)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield
    ray.shutdown()


def test_ray_writes_the_same_data_as_one_process(tmp_path):
    from test_generate import assert_same_dataset

    generate(WORLD, "random", out=tmp_path / "serial", **SMALL)
    result = generate(WORLD, "random", out=tmp_path / "ray", backend="ray", workers=2, **SMALL)
    assert result.shards == 3
    assert ray.is_initialized(), "generate must not shut down a Ray instance it did not start"
    assert_same_dataset(tmp_path / "serial", tmp_path / "ray")


def test_ray_data_reads_the_shards(tmp_path):
    generate(WORLD, "random", out=tmp_path / "ds", **SMALL)
    ours = Dataset(tmp_path / "ds").to_arrays(["index", "observation.state"])
    batch = ray.data.read_parquet(str(tmp_path / "ds" / "data")).take_batch(1000, batch_format="numpy")
    order = np.argsort(batch["index"])
    assert np.array_equal(batch["index"][order], ours["index"])
    assert np.array_equal(np.stack(batch["observation.state"][order]), ours["observation.state"])


@pytest.mark.slow
def test_cli_runs_on_a_ray_cluster_given_its_address(tmp_path):
    """A separate Ray cluster (head node processes of its own); the CLI connects with --ray-address."""
    import subprocess
    import sys

    from ray.cluster_utils import Cluster

    from test_generate import assert_same_dataset

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    try:
        args = ["--episodes", "4", "--episodes-per-shard", "1", "--max-steps", "20", "--seed", "2", "--quiet"]
        command = [sys.executable, "-m", "tutelage.cli", "generate", WORLD, "--policy", "random", *args]
        done = subprocess.run([*command, "--out", str(tmp_path / "cluster"), "--backend", "ray", "--workers", "2",
                               "--ray-address", cluster.address], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    finally:
        cluster.shutdown()
    generate(WORLD, "random", 4, tmp_path / "serial", episodes_per_shard=1, max_steps=20, seed=2)
    assert_same_dataset(tmp_path / "serial", tmp_path / "cluster")
