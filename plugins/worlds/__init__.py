"""Built-in worlds (PyBullet). Registering them never imports PyBullet."""
from __future__ import annotations

from tutelage import hookimpl
from tutelage.protocols import WorldSpec


@hookimpl
def tutelage_worlds() -> dict[str, WorldSpec]:
    return {
        "tutelage/Driving-v0": WorldSpec(
            "tutelage/Driving-v0",
            entry_point="tutelage_plugins.worlds.driving:DrivingEnv",
            max_episode_steps=2500,
            description="racecar on a procedural two-lane road with traffic, crossing pedestrians and obstacles",
            expert="driving-expert",
        ),
        "tutelage/DrivingCamera-v0": WorldSpec(
            "tutelage/DrivingCamera-v0",
            entry_point="tutelage_plugins.worlds.driving_camera:CameraDrivingEnv",
            max_episode_steps=2500,
            description="the driving world seen through the front camera: a small grey frame and the odometry's speed",
            expert="driving-expert",
        ),
        "tutelage/DrivingSensed-v0": WorldSpec(
            "tutelage/DrivingSensed-v0",
            entry_point="tutelage_plugins.worlds.driving_sensed:SensedDrivingEnv",
            max_episode_steps=2500,
            description="the driving world with a light sensor, a road-grip estimate and the observation's change over 0.1 s",
            expert="driving-expert",
        ),
        "tutelage/DrivingTracked-v0": WorldSpec(
            "tutelage/DrivingTracked-v0",
            entry_point="tutelage_plugins.worlds.driving_tracked:TrackedDrivingEnv",
            max_episode_steps=2500,
            description="the sensed driving world plus an object tracker's noisy list of the nearest road users",
            expert="driving-expert",
        ),
        "tutelage/Reach-v0": WorldSpec(
            "tutelage/Reach-v0",
            entry_point="tutelage_plugins.worlds.arm:ReachEnv",
            max_episode_steps=150,
            description="Franka Panda moves its hand to a goal above a table with obstacles",
            expert="reach-expert",
        ),
        "tutelage/Push-v0": WorldSpec(
            "tutelage/Push-v0",
            entry_point="tutelage_plugins.worlds.arm:PushEnv",
            max_episode_steps=300,
            description="Franka Panda pushes a cube to a goal on a table with obstacles",
            expert="push-expert",
        ),
        "tutelage/PushHand-v0": WorldSpec(
            "tutelage/PushHand-v0",
            entry_point="tutelage_plugins.worlds.arm:PushHandEnv",
            max_episode_steps=300,
            description="the push world with hand-velocity control: the world does the arm's inverse kinematics",
            expert="push-hand-expert",
        ),
    }
