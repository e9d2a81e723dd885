"""Making and closing worlds many times leaks no PyBullet clients and no memory."""
from __future__ import annotations

import mmap
from pathlib import Path

import gymnasium
import pybullet
import pytest

import tutelage.worlds  # noqa: F401  (registers the worlds with Gymnasium)

WORLDS = ["tutelage/Driving-v0", "tutelage/Reach-v0", "tutelage/Push-v0"]
STATM = Path("/proc/self/statm")

pytestmark = pytest.mark.skipif(not STATM.exists(), reason="reads resident memory from /proc/self/statm (Linux only)")


def rss_mib() -> float:
    with open(STATM) as handle:
        return int(handle.read().split()[1]) * mmap.PAGESIZE / 2**20


def cycles(world: str, n: int) -> tuple[set[int], float, float]:
    clients = set()
    for i in range(n):
        env = gymnasium.make(world)
        env.reset(seed=i)
        env.step(env.action_space.sample())
        clients.add(env.unwrapped.client)
        env.close()
        if i == n // 4:
            warm = rss_mib()
    return clients, warm, rss_mib()


def check(world: str, n: int, slack_mib: float) -> None:
    clients, warm, end = cycles(world, n)
    assert len(clients) <= 2  # a freed client id is reused, so nothing stays connected
    assert not any(pybullet.isConnected(physicsClientId=c) for c in clients)
    assert end - warm < slack_mib, f"{world}: resident memory grew {end - warm:.1f} MiB over {n} make/close cycles"


@pytest.mark.parametrize("world", WORLDS)
def test_make_close_cycles_leak_nothing(world):
    check(world, 30, slack_mib=15.0)


@pytest.mark.slow
@pytest.mark.parametrize("world", WORLDS)
def test_200_make_close_cycles_leak_nothing(world):
    check(world, 200, slack_mib=20.0)
