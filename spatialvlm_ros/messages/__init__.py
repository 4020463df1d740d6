"""The ROS-free message layer: what crosses the package's edges, for nodes and offline tools alike.

- :mod:`.image_codec`: ``sensor_msgs/Image`` buffers <-> numpy (no cv_bridge);
- :mod:`.convert`: colour + depth + camera_info messages -> a core :class:`~spatialvlm_ros.core.types.Frame`;
- :mod:`.sync`: pairing the three streams by stamp;
- :mod:`.cdr`: header stamps read straight from serialized images;
- :mod:`.serialize`: the JSON documents of objects, facts and rewards;
- :mod:`.markers`: the RViz markers, built for rclpy or rosbags alike; :mod:`.debug_image`: the debug image;
- :mod:`.bag`: the one rosbag2 reader (rosbags) and rosbags message building; :mod:`.mcap_raw`: an
  indexed MCAP bag's raw messages as rosbags reads them, without its copies; :mod:`.mcap_writer`:
  rosbags' bag writer with the same bytes and fewer copies;
- :mod:`.rgbd_files`: RGB-D files of public datasets -> Frame.

Nothing here imports rclpy: message classes come in as arguments (rclpy's or rosbags', same fields).
"""
