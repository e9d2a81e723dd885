"""Resolved-rate control of the Panda's hand (numpy only): shared by the hand-control world and the experts."""
from __future__ import annotations

import numpy as np

HOME = np.array([0.0, -0.4, 0.0, -2.4, 0.0, 2.0, 0.785])
MAX_HAND_SPEED = 0.5  # m/s at a hand-control action of ±1


def resolved_rate(jacobian: np.ndarray, q: np.ndarray, velocity: np.ndarray, damping: float = 0.05, home: np.ndarray = HOME) -> np.ndarray:
    """Joint velocities (rad/s) that move the hand at ``velocity`` (m/s): ``Jᵀ(JJᵀ + λ²I)⁻¹ v``.

    ``jacobian`` is the hand's linear Jacobian (3, n) at joint positions ``q``;
    ``damping`` (λ) keeps the inverse bounded near singular poses. A null-space
    term pulls the joints towards ``home`` without moving the hand.
    """
    inverse = jacobian.T @ np.linalg.inv(jacobian @ jacobian.T + damping**2 * np.eye(3))
    null = (np.eye(len(q)) - inverse @ jacobian) @ (0.5 * (home - q))
    return inverse @ velocity + null
