"""The episode metrics the built-in worlds declare (see :mod:`tutelage.sim.metrics`)."""
from __future__ import annotations

from tutelage.sim.metrics import Metric

DRIVING_METRICS = (
    Metric("collision", reduce="any", description="the car touched another body"),
    Metric("collisions", unit="count", reduce="onsets", key="collision", description="collisions begun"),
    Metric("off_road", reduce="any", headline=True, description="the car's centre left the road"),
    Metric("min_ttc", unit="s", higher_is_better=True, reduce="min", margin=True,
           description="least time to collision with anything ahead"),
    Metric("distance_m", unit="m", higher_is_better=True, reduce="last", description="distance driven"),
    Metric("collisions_per_km", unit="1/km", ratio=("collisions", "distance_m"), scale=1000.0, headline=True,
           description="collisions begun per kilometre driven"),
)

ARM_METRICS = (
    Metric("collision", reduce="any", description="the arm touched an obstacle or the table"),
    Metric("final_distance", unit="m", reduce="last", key="goal_distance", headline=True,
           description="distance to the goal at the episode's end (hand for Reach, cube for Push)"),
    Metric("min_distance", unit="m", reduce="min", key="goal_distance",
           description="closest the hand (Reach) or cube (Push) came to the goal"),
)
