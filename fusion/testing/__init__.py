"""Testing utilities shipped with fusion.

``fusion.testing.synth``: deterministic synthetic drive logs (ROS 1/ROS 2 bags) with exact
ground truth; see docs/SYNTH.md. Nothing is imported here, so ``import fusion.testing`` is free.
"""
