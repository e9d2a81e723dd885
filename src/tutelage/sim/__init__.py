"""Simulated worlds: PyBullet base, scenarios, Gymnasium registration, rollouts."""
