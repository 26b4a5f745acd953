"""Assessment: impact prediction with calibrated uncertainty, launch point and time, event figures, and the
end-to-end replay of real launches.

``predict_impact`` turns track estimates into predicted impact points, times and 95% ellipses;
``estimate_launch`` propagates an early track back through a boost model to the launch point and time;
``figures`` gives the class (by burnout energy) and trajectory shape; ``paths.ground_paths`` the predicted
ground tracks (overflights); ``replay`` runs a scenario or catalogue event end to end (simulate, track,
assess, alert) - imported on demand (``warnlink.assessment.replay``) as it pulls in the tracker.
"""

from warnlink.assessment.impact import ImpactPrediction, fly_to_ground, predict_impact
from warnlink.assessment.launch import LaunchEstimate, estimate_launch

__all__ = ["ImpactPrediction", "LaunchEstimate", "estimate_launch", "fly_to_ground", "predict_impact"]
