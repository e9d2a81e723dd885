"""``tutelage/Driving-v0``: the PyBullet racecar on a procedural road with traffic, crossing pedestrians and weather."""
from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
from tutelage.sim.world import pybullet  # first, so that pybullet loads without its banner
from gymnasium import spaces

from tutelage.sim.scenarios import Bounds, ScenarioSampler
from tutelage.sim.sensors import Camera, Lidar, Perception
from tutelage.sim.world import PyBulletEnv, Ragged, jittered_colours, mesh_visual_shape, ragged
from tutelage_plugins.worlds.metrics import DRIVING_METRICS
from tutelage_plugins.worlds.road import STEP, Road

WHEELS = [2, 3, 5, 7]
STEERING = [4, 6]
WHEEL_RADIUS = 0.05
MAX_STEER = 0.45  # rad
MAX_SPEED = 4.0  # m/s
DRIVE_FORCE, BRAKE_FORCE, ROLL_FORCE = 0.5, 0.6, 0.01  # wheel motor torque limits, N·m
CENTRE_AHEAD = 0.16  # the car's centre lies this far ahead of its base (rear axle)
EGO_RADIUS = 0.27
CURVATURE_LOOKAHEAD = np.array([0.5, 2.0, 4.0])  # m
START_S = 6.0  # the ego starts at the end of the road's straight lead-in

#: kind -> (collision shape, size, centre height, radius for distances, colour)
ACTOR_SHAPES = {
    "car": ("box", (0.25, 0.13, 0.1), 0.1, 0.25, (0.2, 0.3, 0.8)),
    "pedestrian": ("cylinder", (0.08, 0.35), 0.175, 0.08, (0.9, 0.6, 0.2)),
    "cyclist": ("box", (0.18, 0.05, 0.17), 0.17, 0.18, (0.2, 0.7, 0.3)),
    "obstacle": ("box", (0.18, 0.18, 0.15), 0.15, 0.25, (0.8, 0.2, 0.2)),
    "unicyclist": ("cylinder", (0.06, 0.4), 0.2, 0.08, (0.9, 0.2, 0.7)),
}
#: segmentation classes in the camera observation
SEGMENTATION_CLASSES = ("background", "ground", "road", "marking", "ego", "car", "pedestrian", "cyclist", "obstacle", "unicyclist")
ROAD_TYPES = {"two-lane": 1, "highway": 3}  # road type -> lanes each way
FLASH = 0.12  # s a lightning flash blinds the camera and the lane detector

BOUNDS = {
    "road_length": Bounds(5.0, 1000.0),
    "road_curvature": Bounds(0.0, 0.5),
    "lane_width": Bounds(0.6, 3.0),
    "friction": Bounds(0.02, 2.0),
    "traffic_count": Bounds(0, 16, kind=int),
    "traffic_speed": Bounds(0.1, 4.0),
    "pedestrian_count": Bounds(0, 12, kind=int),
    "pedestrian_crossing_prob": Bounds(0.0, 1.0),
    "pedestrian_speed": Bounds(0.1, 3.0),
    "cyclist_fraction": Bounds(0.0, 1.0),
    "obstacle_count": Bounds(0, 16, kind=int),
    "sensor_noise": Bounds(0.0, 2.0),
    "sensor_dropout": Bounds(0.0, 1.0),
    "light": Bounds(0.0, 1.5),
    "color_jitter": Bounds(0.0, 0.5),
    "actuation_latency": Bounds(0, 20, kind=int),
    "ego_mass_scale": Bounds(0.25, 4.0),
    "layout_seed": Bounds(0, 2**31 - 1, kind=int),
    "road_type": Bounds(options=tuple(ROAD_TYPES)),
    "speed_limit": Bounds(0.5, 4.0),
    "unicyclist_count": Bounds(0, 6, kind=int),
    "odometry_drift": Bounds(0.0, 1.0),
    "rain": Bounds(0.0, 1.0),
    "lightning": Bounds(0.0, 5.0),
}
DEFAULTS = {
    "road_length": {"low": 30.0, "high": 45.0},
    "road_curvature": {"low": 0.0, "high": 0.2},
    "lane_width": {"low": 0.9, "high": 1.1},
    "friction": {"low": 0.7, "high": 1.0},
    "traffic_count": {"low": 1, "high": 4},
    "traffic_speed": {"low": 1.3, "high": 1.8},
    "pedestrian_count": {"low": 1, "high": 3},
    "pedestrian_crossing_prob": {"low": 0.2, "high": 0.6},
    "pedestrian_speed": {"low": 0.6, "high": 1.2},
    "cyclist_fraction": 0.3,
    "obstacle_count": {"low": 2, "high": 4},
    "sensor_noise": {"low": 0.0, "high": 0.02},
    "sensor_dropout": {"low": 0.0, "high": 0.02},
    "light": {"low": 0.7, "high": 1.0},
    "color_jitter": {"low": 0.0, "high": 0.15},
    "actuation_latency": {"low": 0, "high": 1},
    "ego_mass_scale": {"low": 0.9, "high": 1.1},
    "layout_seed": {"low": 0, "high": 2**31 - 1},
    "road_type": "two-lane",
    "speed_limit": 2.0,
    "unicyclist_count": 0,
    "odometry_drift": {"low": 0.0, "high": 0.05},
    "rain": 0.0,
    "lightning": 0.0,
}
EDGE_CASES = {
    "pedestrian-crossing": {"pedestrian_count": {"low": 2, "high": 4}, "pedestrian_crossing_prob": 1.0, "cyclist_fraction": 0.0},
    "cyclist-crossing": {"pedestrian_count": {"low": 1, "high": 3}, "pedestrian_crossing_prob": 1.0, "cyclist_fraction": 1.0},
    "wet": {"friction": {"low": 0.35, "high": 0.55}, "rain": {"low": 0.3, "high": 0.6}},
    "ice": {"friction": {"low": 0.1, "high": 0.2}},
    "heavy-sensor-noise": {"sensor_noise": {"low": 0.1, "high": 0.3}, "sensor_dropout": {"low": 0.1, "high": 0.25}},
    "night": {"light": {"low": 0.1, "high": 0.25}},
    "dense-traffic": {"traffic_count": {"low": 6, "high": 8}, "traffic_speed": {"low": 1.0, "high": 1.4}},
    "sharp-curves": {"road_curvature": {"low": 0.3, "high": 0.4}},
    "actuation-lag": {"actuation_latency": {"low": 3, "high": 5}},
    "heavy-load": {"ego_mass_scale": {"low": 2.0, "high": 3.0}},
    "odometry-drift": {"odometry_drift": {"low": 0.2, "high": 0.4}},
    "unicyclist-crossing": {"unicyclist_count": {"low": 1, "high": 2}},
    "highway": {
        "road_type": "highway",
        "speed_limit": {"low": 2.6, "high": 3.0},
        "road_length": {"low": 50.0, "high": 70.0},
        "road_curvature": {"low": 0.0, "high": 0.08},
        "traffic_count": {"low": 4, "high": 8},
        "traffic_speed": {"low": 2.2, "high": 2.8},
        "pedestrian_count": 0,
    },
    "thunderstorm": {
        "rain": {"low": 0.8, "high": 1.0},
        "friction": {"low": 0.35, "high": 0.5},
        "light": {"low": 0.05, "high": 0.15},
        "lightning": {"low": 0.5, "high": 1.5},
        "sensor_noise": {"low": 0.15, "high": 0.3},
        "sensor_dropout": {"low": 0.05, "high": 0.15},
    },
}
SEED_EDGE_CASE = "unicyclist-crossing + highway + thunderstorm"
COMBOS = ["pedestrian-crossing + ice + heavy-sensor-noise + night", "dense-traffic + wet + night", SEED_EDGE_CASE]
#: never in training: the unicyclist, the highway and the thunderstorm (and every combination with one)
HELD_OUT = ["unicyclist-crossing", "highway", "thunderstorm"]


class DrivingEnv(PyBulletEnv):
    """Drive the racecar along a procedural road to its end.

    The ego keeps to its lane (next to the centre line) of a road of straights
    and curves: a two-lane road or a six-lane highway (``road_type``). Other
    cars drive in every lane (kinematic boxes), pedestrians and cyclists wait
    at the kerb and some cross in front of the ego, unicyclists always cross
    (wobbling: their speed swings by up to ±80 %), and static obstacles stand
    beside the road. Rain and darkness blur the lane markings; lightning
    flashes blind the camera and the lane detector for 0.12 s. Everything is drawn from a scenario (see
    :meth:`default_scenarios`); ``reset(options={"scenario": s})`` replays one,
    ``reset(options={"edge_case": "ice + night"})`` samples a named edge case.

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: ``[steering, throttle_brake]``. Steering
    ±1 turns the front wheels ±0.45 rad (positive is left); a positive
    ``throttle_brake`` sets the wheel speed to that fraction of 4 m/s (the
    torque-limited wheel motors accelerate or hold back the car towards it;
    wheels spin or slide on ice when it differs much from the car's speed),
    a negative one brakes with that fraction of the brake torque.
    With ``actuation_latency = k`` an action takes effect ``k`` steps later.

    ## Observation Space
    ``Box(float32, (6 + rays,))``: as the car's own estimators report them,
    speed (m/s, odometry), offset from the ego lane's centre (m, left
    positive), heading error (rad) and road curvature 0.5, 2 and 4 m ahead
    (1/m) (lane detection), then the lidar: ``rays`` (default 32) distances
    in metres (max ``lidar_range``), starting straight ahead and turning
    left, with the scenario's sensor noise and dropout. The estimates are
    never the truth: each carries white noise, a bias drawn per episode, a
    slow drift (``odometry_drift`` for the speed) and dropouts (the last
    reading held); the lane's grow with darkness, rain and ``sensor_noise``
    (see :meth:`_perception_model`). The truth is in ``info``. With ``camera=True`` the observation
    is a ``Dict`` with ``state`` (that vector), ``rgb`` (H, W, 3) uint8 and
    ``segmentation`` (H, W) int32 class ids (:data:`SEGMENTATION_CLASSES`)
    from the front camera.

    ## Rewards
    Metres of progress along the road each step; −10 on a collision and −10
    for leaving the road.

    ## Starting State
    At rest at the end of the straight lead-in, centred in the right lane.

    ## Episode End
    Terminated on a collision, when the car's centre leaves the road, or when
    it reaches the end of the road (``road_length`` metres, ``is_success``).
    Truncated by the time limit (2,500 steps, 50 s at 50 steps/s).

    ## Info (privileged ground truth)
    ``ego_position``/``ego_velocity`` (3,), ``ego_yaw``, ``speed``,
    ``ego_s``/``ego_d`` (road coordinates), ``lane_offset``,
    ``heading_error``, ``curvature`` (exact, at the look-aheads),
    ``max_curvature_ahead``, ``progress`` (m), ``road_length``,
    ``lane_width``, ``friction``, ``distance_m`` (travelled), the ``actors``
    (``kind``, ``position``, ``velocity``, ``s``, ``d``, ``vs``, ``vd``,
    ``radius``, ``active``), ``distances`` (gap to each actor, m), ``ttc``
    (time to collision per actor, s, inf when not closing), ``min_ttc``,
    ``collision``, ``collided_with``, ``off_road``, ``is_success``,
    ``speed_limit``, ``lanes`` (each way), ``lane_visibility`` (0–1),
    ``lightning`` (a flash now), ``frame`` and ``time``; at reset also
    ``scenario``.
    """

    metrics = DRIVING_METRICS
    world_id = "tutelage/Driving-v0"  # the id its scenarios are declared for

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    time_step = 0.01
    substeps = 2

    def __init__(
        self,
        render_mode: str | None = None,
        scenarios: ScenarioSampler | None = None,
        lidar_rays: int = 32,
        lidar_range: float = 8.0,
        camera: bool = False,
        camera_size: tuple[int, int] = (96, 72),
        render_size: tuple[int, int] = (240, 180),
    ):
        super().__init__(render_mode, scenarios)
        self.lidar = Lidar(lidar_rays, lidar_range)
        self.camera = Camera(*camera_size) if camera else None
        self.render_camera = Camera(*render_size, fov=60.0, far=60.0)
        self.dt = self.time_step * self.substeps
        self.perception = Perception(6, tau=2.0 / self.dt)  # drifts wander over about 2 s
        state = spaces.Box(
            low=np.array([-MAX_SPEED * 3, -10.0, -math.pi, -5.0, -5.0, -5.0] + [0.0] * lidar_rays, dtype=np.float32),
            high=np.array([MAX_SPEED * 3, 10.0, math.pi, 5.0, 5.0, 5.0] + [lidar_range] * lidar_rays, dtype=np.float32),
            dtype=np.float32,
        )
        if self.camera is None:
            self.observation_space = state
        else:
            h, w = self.camera.height, self.camera.width
            self.observation_space = spaces.Dict(
                {
                    "state": state,
                    "rgb": spaces.Box(0, 255, (h, w, 3), np.uint8),
                    "segmentation": spaces.Box(0, len(SEGMENTATION_CLASSES) - 1, (h, w), np.int32),
                }
            )
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.lookahead_points = np.round(CURVATURE_LOOKAHEAD / STEP).astype(int)
        self.observation_limits = (state.low[:6].astype(float), state.high[:6].astype(float))

    @classmethod
    def default_scenarios(cls) -> ScenarioSampler:
        return ScenarioSampler.declare(cls.world_id, BOUNDS, DEFAULTS, EDGE_CASES, COMBOS, HELD_OUT)

    # -- building ----------------------------------------------------------------

    def build(self, scenario: dict[str, Any]) -> None:
        c = self.client
        layout = np.random.default_rng(scenario["layout_seed"])
        self.road = road = Road(
            layout, scenario["road_length"] + START_S, scenario["road_curvature"], scenario["lane_width"],
            lead_in=START_S, lanes=ROAD_TYPES[scenario["road_type"]],
        )
        self.goal_s = road.length
        colour = jittered_colours(layout, scenario["color_jitter"])

        ground = pybullet.createMultiBody(
            0,
            pybullet.createCollisionShape(pybullet.GEOM_PLANE, physicsClientId=c),
            pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=[150, 150, 0.01], rgbaColor=colour((0.35, 0.55, 0.3)), physicsClientId=c),
            basePosition=[road.x.mean(), road.y.mean(), -0.011],
            physicsClientId=c,
        )
        pybullet.changeDynamics(ground, -1, lateralFriction=scenario["friction"], physicsClientId=c)
        self.ground = ground
        self.segmentation_of: dict[int, int] = {ground: 1}
        w = road.half_width
        marking = 0.04
        separators = [k * road.lane_width * side for k in range(1, road.lanes) for side in (-1.0, 1.0)]
        for d_right, d_left, z, dash, rgb, klass in (
            (-w, w, 0.003, 0.0, (0.3, 0.3, 0.32), 2),
            (-w, -w + marking, 0.005, 0.0, (0.95, 0.95, 0.95), 3),
            (w - marking, w, 0.005, 0.0, (0.95, 0.95, 0.95), 3),
            (-marking / 2, marking / 2, 0.005, 1.0, (0.95, 0.8, 0.1), 3),
            *((d - marking / 2, d + marking / 2, 0.005, 0.5, (0.95, 0.95, 0.95), 3) for d in separators),
        ):
            shape = mesh_visual_shape(c, *road.strip(d_right, d_left, z, dash=dash), colour(rgb))
            self.segmentation_of[pybullet.createMultiBody(0, -1, shape, physicsClientId=c)] = klass

        x, y, heading = road.pose(np.array([START_S]), np.array([-road.lane_width / 2]))
        yaw = float(heading[0])
        base = [float(x[0]) - CENTRE_AHEAD * math.cos(yaw), float(y[0]) - CENTRE_AHEAD * math.sin(yaw), 0.03]
        self.ego = pybullet.loadURDF("racecar/racecar.urdf", base, pybullet.getQuaternionFromEuler([0, 0, yaw]), physicsClientId=c)
        for joint in range(pybullet.getNumJoints(self.ego, physicsClientId=c)):
            pybullet.setJointMotorControl2(self.ego, joint, pybullet.VELOCITY_CONTROL, targetVelocity=0, force=0, physicsClientId=c)
        chassis_mass = pybullet.getDynamicsInfo(self.ego, 1, physicsClientId=c)[0]
        pybullet.changeDynamics(self.ego, 1, mass=chassis_mass * scenario["ego_mass_scale"], physicsClientId=c)
        pybullet.changeDynamics(self.ego, -1, activationState=pybullet.ACTIVATION_STATE_DISABLE_SLEEPING, physicsClientId=c)
        self.segmentation_of[self.ego] = 4

        self._place_actors(scenario, layout, colour)
        self.lidar.reset(self.np_random, scenario["sensor_noise"], scenario["sensor_dropout"])
        self.visibility = min(scenario["light"], 1.0) * (1.0 - 0.6 * scenario["rain"])
        self.perception.reset(self.np_random, **self._perception_model(scenario))
        latency = scenario["actuation_latency"]
        self.pending = deque([np.zeros(2, np.float32)] * latency) if latency else None
        self.steering = 0.0
        self.hint = int(START_S / 0.25)
        self.distance = 0.0
        self.collided_with = ""
        self._read_ego()
        self.previous_s = self.ego_s
        lookup = np.zeros(max(self.segmentation_of) + 2, dtype=np.int32)
        for body, klass in self.segmentation_of.items():
            lookup[body + 1] = klass
        self.segmentation_lookup = lookup

    def _place_actors(self, scenario: dict[str, Any], layout: np.random.Generator, colour) -> None:
        """Traffic, crossing pedestrians/cyclists and roadside obstacles, in road coordinates."""
        road, w, lane_width = self.road, self.road.half_width, self.road.lane_width
        rows = []  # (kind, s, d, vs, trigger_s, target_d, walk_speed, wobble, phase)
        speed, free = scenario["traffic_speed"], START_S + 8.0
        for _ in range(scenario["traffic_count"]):
            lane = int(layout.integers(road.lanes)) if road.lanes > 1 else 0
            centre = (lane + 0.5) * lane_width
            if layout.random() < 0.4:  # same direction, ahead; in the ego's lane at least 3 m apart
                position = (free if lane == 0 else START_S + 4.0) + layout.uniform(0.0, 0.25 * road.length)
                rows.append(("car", position, -centre, speed, math.inf, 0.0, 0.0, 0.0, 0.0))
                free = position + 3.0 if lane == 0 else free
            else:  # oncoming
                position = layout.uniform(START_S + 4.0, road.end)
                rows.append(("car", position, centre, -speed * layout.uniform(0.9, 1.1), math.inf, 0.0, 0.0, 0.0, 0.0))
        lead = scenario["speed_limit"] * 0.5  # crossings start 1.5-3.5 s ahead of the ego at the speed limit
        for _ in range(scenario["pedestrian_count"]):
            kind = "cyclist" if layout.random() < scenario["cyclist_fraction"] else "pedestrian"
            side = float(layout.choice([-1.0, 1.0]))
            kerb = side * (w + layout.uniform(0.35, 0.8))
            crossing = layout.random() < scenario["pedestrian_crossing_prob"]
            position = layout.uniform(START_S + 8.0, road.length - 3.0)
            trigger = position - lead * layout.uniform(3.0, 7.0) if crossing else math.inf  # starts when the ego gets there
            walk = scenario["pedestrian_speed"] * (2.5 if kind == "cyclist" else 1.0)
            rows.append((kind, position, kerb, 0.0, trigger, -side * (w + 0.6) if crossing else kerb, walk, 0.0, 0.0))
        for _ in range(scenario["unicyclist_count"]):  # always crossing, unsteadily
            side = float(layout.choice([-1.0, 1.0]))
            position = layout.uniform(START_S + 8.0, road.length - 3.0)
            trigger = position - lead * layout.uniform(3.0, 7.0)
            walk = scenario["pedestrian_speed"] * 1.5
            rows.append(("unicyclist", position, side * (w + layout.uniform(0.3, 0.6)), 0.0, trigger, -side * (w + 0.6), walk,
                         layout.uniform(0.4, 0.8), layout.uniform(0.0, 2.0 * math.pi)))
        for _ in range(scenario["obstacle_count"]):
            position = layout.uniform(START_S + 3.0, road.end)
            rows.append(("obstacle", position, float(layout.choice([-1.0, 1.0])) * (w + layout.uniform(0.45, 1.5)), 0.0, math.inf, 0.0, 0.0, 0.0, 0.0))

        c = self.client
        kinds = [row[0] for row in rows]
        self.kinds = tuple(kinds)
        s, d, vs, trigger, target, walk, wobble, phase = (np.array([row[i] for row in rows], dtype=float) for i in range(1, 9))
        self.actor_s, self.actor_d, self.actor_vs, self.actor_vd = s, d, vs, np.zeros(len(rows))
        self.trigger_s, self.target_d, self.walk_speed, self.wobble, self.phase = trigger, target, walk, wobble, phase
        self.radius = np.array([ACTOR_SHAPES[k][3] for k in kinds])
        self.reach = self.radius + EGO_RADIUS
        self.height = np.array([ACTOR_SHAPES[k][2] for k in kinds])
        self.active = np.ones(len(kinds), dtype=bool)
        self.absent = np.zeros(len(kinds))  # inf once an actor has left the road
        self.actor_position, self.actor_velocity = np.zeros((len(kinds), 3)), np.zeros((len(kinds), 3))
        self.actor_position[:, 2] = self.height
        self.driving = np.nonzero(self.actor_vs)[0]
        self.walking = np.zeros(0, dtype=int)
        self.next_trigger = float(self.trigger_s.min()) if len(kinds) else math.inf
        self.bodies = []
        shapes: dict[str, tuple[int, int]] = {}
        for kind in kinds:
            if kind not in shapes:
                geometry, size, _, _, rgb = ACTOR_SHAPES[kind]
                if geometry == "box":
                    args = {"shapeType": pybullet.GEOM_BOX, "halfExtents": list(size)}
                    visual = {"shapeType": pybullet.GEOM_BOX, "halfExtents": list(size)}
                else:
                    args = {"shapeType": pybullet.GEOM_CYLINDER, "radius": size[0], "height": size[1]}
                    visual = {"shapeType": pybullet.GEOM_CYLINDER, "radius": size[0], "length": size[1]}
                shapes[kind] = (
                    pybullet.createCollisionShape(**args, physicsClientId=c),
                    pybullet.createVisualShape(**visual, rgbaColor=colour(rgb), physicsClientId=c),
                )
            body = pybullet.createMultiBody(0, *shapes[kind], physicsClientId=c)
            self.bodies.append(body)
            self.segmentation_of[body] = SEGMENTATION_CLASSES.index(kind)
        self.body_index = {body: i for i, body in enumerate(self.bodies)}
        self._move_actors(np.arange(len(kinds)))

    # -- stepping ----------------------------------------------------------------

    def _move_actors(self, which: np.ndarray) -> None:
        """Put the actors with indices ``which`` at their road coordinates (bodies, positions, velocities)."""
        x, y, heading, cos_h, sin_h = self.road.frame(self.actor_s[which], self.actor_d[which])
        vs, vd = self.actor_vs[which], self.actor_vd[which]
        self.actor_position[which, 0] = x
        self.actor_position[which, 1] = y
        self.actor_velocity[which, 0] = vs * cos_h - vd * sin_h
        self.actor_velocity[which, 1] = vs * sin_h + vd * cos_h
        c, bodies = self.client, self.bodies
        for i, position, h in zip(which.tolist(), self.actor_position[which].tolist(), heading.tolist()):
            pybullet.resetBasePositionAndOrientation(bodies[i], position, (0.0, 0.0, math.sin(0.5 * h), math.cos(0.5 * h)), physicsClientId=c)

    def _advance_actors(self) -> None:
        """Move traffic along the road; start, walk and stop the crossing pedestrians, cyclists and
        unicyclists (whose speed swings by ``wobble`` at 1.3 Hz)."""
        moving = self.driving
        if self.ego_s >= self.next_trigger:  # someone steps onto the road
            starting = self.ego_s >= self.trigger_s
            self.actor_vd = np.where(starting, np.sign(self.target_d - self.actor_d) * self.walk_speed, self.actor_vd)
            self.trigger_s = np.where(starting, math.inf, self.trigger_s)
            self.next_trigger = float(self.trigger_s.min())
            self.walking = np.nonzero(self.actor_vd)[0]
        if len(self.walking):
            walking = self.walking
            swing = 1.0 + self.wobble[walking] * np.sin(2.6 * math.pi * self.frame * self.dt + self.phase[walking])
            self.actor_vd[walking] = np.sign(self.actor_vd[walking]) * self.walk_speed[walking] * swing
            d = self.actor_d[walking] + self.actor_vd[walking] * self.dt
            target = self.target_d[walking]
            arrived = (d - target) * np.sign(self.actor_vd[walking]) >= 0.0
            self.actor_d[walking] = np.where(arrived, target, d)
            if arrived.any():
                self.actor_vd[walking[arrived]] = 0.0
                self.walking = walking[~arrived]
            moving = np.concatenate([moving, walking])
        if len(self.driving):
            self.actor_s += self.actor_vs * self.dt  # only the driving cars have a speed along the road
            s = self.actor_s[self.driving]
            leaving = (s < 0.0) | (s > self.road.end)
            if leaving.any():  # off the ends of the road: parked out of the way
                gone = self.driving[leaving]
                self.active[gone] = False
                self.absent[gone] = math.inf
                self.actor_position[gone, 2] = -5.0
                self.actor_vs[gone] = 0.0
                self.driving = self.driving[~leaving]
        if len(moving):
            self._move_actors(moving)

    def _read_ego(self) -> None:
        c = self.client
        position, orientation = pybullet.getBasePositionAndOrientation(self.ego, physicsClientId=c)
        velocity, _ = pybullet.getBaseVelocity(self.ego, physicsClientId=c)
        qx, qy, qz, qw = orientation
        yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
        cx, cy = position[0] + CENTRE_AHEAD * cos_yaw, position[1] + CENTRE_AHEAD * sin_yaw
        self.hint, s, d, road_heading = self.road.project(cx, cy, self.hint)
        self.ego_position, self.ego_velocity, self.ego_yaw = position, velocity, yaw
        self.ego_centre = (cx, cy)
        self.ego_s, self.ego_d = s, d
        self.speed = velocity[0] * cos_yaw + velocity[1] * sin_yaw
        self.heading_error = (yaw - road_heading + math.pi) % (2.0 * math.pi) - math.pi

    def _drive(self, action: np.ndarray) -> None:
        if self.pending is not None:  # actuation latency: act on the action of k steps ago
            self.pending.append(np.array(action, dtype=np.float32))
            action = self.pending.popleft()
        steer, pedal = (min(max(value, -1.0), 1.0) for value in np.asarray(action, dtype=np.float64).tolist())
        self.steering = steer * MAX_STEER
        if pedal > 0.0:
            target, force = pedal * MAX_SPEED / WHEEL_RADIUS, DRIVE_FORCE
        else:
            target, force = 0.0, -pedal * BRAKE_FORCE + ROLL_FORCE
        c = self.client
        pybullet.setJointMotorControlArray(
            self.ego, WHEELS, pybullet.VELOCITY_CONTROL, targetVelocities=[target] * 4, forces=[force] * 4, physicsClientId=c
        )
        pybullet.setJointMotorControlArray(
            self.ego, STEERING, pybullet.POSITION_CONTROL, targetPositions=[self.steering] * 2, physicsClientId=c
        )

    def step(self, action):
        self._advance_actors()
        self._drive(action)
        self.physics_step()
        self.frame += 1
        x0, y0 = self.ego_centre
        self._read_ego()
        self.distance += math.hypot(self.ego_centre[0] - x0, self.ego_centre[1] - y0)
        if not self.collided_with:
            touching = {contact[2] for contact in pybullet.getContactPoints(bodyA=self.ego, physicsClientId=self.client)}
            touching.discard(self.ground)
            if touching:
                self.collided_with = self.kinds[self.body_index[min(touching)]]
        observation, info = self.observe()
        progress = self.ego_s - self.previous_s
        self.previous_s = self.ego_s
        reward = progress - 10.0 * info["collision"] - 10.0 * info["off_road"]
        terminated = info["collision"] or info["off_road"] or info["is_success"]
        return observation, float(reward), bool(terminated), False, info

    # -- sensing -----------------------------------------------------------------

    def observe(self) -> tuple[Any, dict[str, Any]]:
        road = self.road
        lane_offset = self.ego_d + 0.5 * road.lane_width
        curvature = road.curvature_ahead(self.hint, self.lookahead_points)
        state = np.empty(6 + self.lidar.rays, dtype=np.float32)
        self.lidar.scan(self.client, *self.ego_centre, self.ego_yaw, out=state[6:])
        estimate = self.perception.read(np.array([self.speed, lane_offset, self.heading_error, *curvature]))
        np.clip(estimate, self.observation_limits[0], self.observation_limits[1], out=state[:6], casting="same_kind")
        info = self._privileged(lane_offset, curvature)
        if self.camera is None:
            return state, info
        rgb, segmentation = self._front_camera()
        return {"state": state, "rgb": rgb, "segmentation": segmentation}, info

    def _perception_model(self, scenario: dict[str, Any]) -> dict[str, Any]:
        """The estimators' errors (:class:`~tutelage.sim.sensors.Perception`) in this scenario.

        Channels: speed (odometry), lane offset, heading error, curvature 0.5,
        2 and 4 m ahead (lane detection). The lane detector's errors grow by
        3× as the markings fade (``lane_visibility``: the light, dimmed by
        rain) and by 10× ``sensor_noise``; it drops a reading with
        ``sensor_dropout`` plus 0.3 × the lost visibility, and a lightning
        flash blinds it for 0.12 s.
        """
        lane = 1.0 + 3.0 * (1.0 - self.visibility) + 10.0 * scenario["sensor_noise"]
        odometry = 1.0 + 10.0 * scenario["sensor_noise"]
        dropout = scenario["sensor_dropout"]
        return {
            "noise": [0.03 * odometry, *(lane * np.array([0.02, 0.01, 0.004, 0.008, 0.015]))],
            "bias": [0.02, 0.01 * lane, 0.005 * lane, 0.0, 0.0, 0.0],
            "drift": [scenario["odometry_drift"], *(lane * np.array([0.01, 0.005, 0.002, 0.004, 0.008]))],
            "dropout": [dropout] + [min(dropout + 0.3 * (1.0 - self.visibility), 1.0)] * 5,
            "blind": [False] + [True] * 5,
            "blind_rate": scenario["lightning"] * self.dt,
            "blind_steps": round(FLASH / self.dt),
        }

    def _privileged(self, lane_offset: float, curvature: np.ndarray) -> dict[str, Any]:
        road = self.road
        ex, ey = self.ego_centre
        position, velocity = self.actor_position, self.actor_velocity
        rx, ry = position[:, 0] - ex, position[:, 1] - ey
        centre = np.hypot(rx, ry)
        gap = centre - self.reach + self.absent  # surface to surface, inf for actors gone
        approach = rx * (velocity[:, 0] - self.ego_velocity[0]) + ry * (velocity[:, 1] - self.ego_velocity[1])  # < 0: closing
        ttc = np.divide(-gap * centre, approach, out=np.full(len(gap), math.inf), where=approach < -1e-9)
        np.maximum(ttc, 0.0, out=ttc)
        min_ttc = float(ttc.min()) if len(ttc) else math.inf
        off_road = abs(self.ego_d) > road.half_width
        collision = bool(self.collided_with)
        return {
            "frame": self.frame,
            "time": self.frame * self.dt,
            "ego_position": np.array(self.ego_position),
            "ego_velocity": np.array(self.ego_velocity),
            "ego_yaw": self.ego_yaw,
            "speed": self.speed,
            "ego_s": self.ego_s,
            "ego_d": self.ego_d,
            "lane_offset": lane_offset,
            "heading_error": self.heading_error,
            "curvature": curvature,
            "max_curvature_ahead": float(road.max_curvature_ahead[self.hint]),
            "progress": self.ego_s - START_S,
            "road_length": self.goal_s - START_S,
            "lane_width": road.lane_width,
            "friction": self.scenario["friction"],
            "distance_m": self.distance,
            "actors": ragged({
                "kind": self.kinds,
                "position": position.copy(),
                "velocity": velocity.copy(),
                "s": self.actor_s - START_S,
                "d": self.actor_d.copy(),
                "vs": self.actor_vs.copy(),
                "vd": self.actor_vd.copy(),
                "radius": self.radius.copy(),
                "active": self.active.copy(),
            }),
            "distances": Ragged(gap),
            "ttc": Ragged(ttc),
            "min_ttc": min_ttc,
            "collision": collision,
            "collided_with": self.collided_with,
            "off_road": off_road,
            "is_success": (not collision) and (not off_road) and self.ego_s >= self.goal_s,
            "speed_limit": self.scenario["speed_limit"],
            "lanes": road.lanes,
            "lane_visibility": self.visibility,
            "lightning": self.perception.blinded > 0,
        }

    def _front_camera(self) -> tuple[np.ndarray, np.ndarray]:
        cx, cy = self.ego_centre
        c, s = math.cos(self.ego_yaw), math.sin(self.ego_yaw)
        rgb, bodies = self.camera.capture(
            self.client, [cx + 0.32 * c, cy + 0.32 * s, 0.2], [cx + 2.0 * c, cy + 2.0 * s, 0.08], self.scenario["light"]
        )
        if self.perception.blinded:  # a lightning flash: the image washes out to white
            rgb = 255 - (255 - rgb) // 8
        return rgb, self.segmentation_lookup[np.clip(bodies, -1, len(self.segmentation_lookup) - 2) + 1]

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self.client is None:
            return None
        cx, cy = self.ego_centre
        c, s = math.cos(self.ego_yaw), math.sin(self.ego_yaw)
        rgb, _ = self.render_camera.capture(self.client, [cx - 1.8 * c, cy - 1.8 * s, 1.1], [cx + 1.2 * c, cy + 1.2 * s, 0.0], self.scenario["light"])
        return rgb
