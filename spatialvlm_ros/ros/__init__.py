"""ROS 2 nodes and message conversion. Thin: every computation is a call into ``core``."""

__all__: list[str] = []
