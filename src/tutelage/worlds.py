"""Importing this module registers every installed world with Gymnasium.

Gymnasium (1.x) finds environments by importing a module named before the id,
so a process that never imported tutelage (a subprocess environment of an RL
library) can still make one::

    gymnasium.make("tutelage.worlds:tutelage/Driving-v0")

Registration never imports the simulator; a broken plugin is reported by
``tutelage plugins`` and cannot break this import.
"""
from __future__ import annotations

from tutelage.plugins import get_host

WORLDS = get_host().register_worlds()
