"""Assessment: impact prediction with calibrated uncertainty, launch point and time.

``predict_impact`` turns track estimates into predicted impact points, times and 95% ellipses;
``estimate_launch`` propagates an early track back through a boost model to the launch point and time.
"""

from warnlink.assessment.impact import ImpactPrediction, fly_to_ground, predict_impact
from warnlink.assessment.launch import LaunchEstimate, estimate_launch

__all__ = ["ImpactPrediction", "LaunchEstimate", "estimate_launch", "fly_to_ground", "predict_impact"]
