"""Rig sources: YAML rig files, ROS /tf_static + CameraInfo, Kalibr camchains, nuScenes tables."""
