"""Flight physics: atmosphere, equations of motion, notional missile classes, flights, the shaper."""

from warnlink.physics.flight import Flight, PhysicsOptions, Trajectory, fly
from warnlink.physics.missiles import CLASSES, MissileClass, Stage, get_class
from warnlink.physics.shaper import Figure, Profile, class_for, shape

__all__ = [
    "CLASSES",
    "Figure",
    "Flight",
    "MissileClass",
    "PhysicsOptions",
    "Profile",
    "Stage",
    "Trajectory",
    "class_for",
    "fly",
    "get_class",
    "shape",
]
