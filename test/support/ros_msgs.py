"""Synthetic RGB-D as ROS messages for the DDS scenarios: three flat coloured squares facing the camera at known
depths in front of a grey wall, their centres known exactly (``truth``)."""
import numpy as np
import pytest
rclpy = pytest.importorskip('rclpy')
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from spatialvlm_ros.messages.image_codec import encode_image  # noqa: E402


W, H, F = 160, 120, 150.0


CX, CY = (W - 1) / 2, (H - 1) / 2


# name -> (colour, centre pixel (u, v), half size px, depth m)
PATCHES = {
    'gripper': ((255, 230, 0), (40, 40), 8, 0.70),
    'block': ((220, 20, 20), (80, 70), 9, 0.80),
    'target': ((20, 40, 230), (125, 60), 10, 0.90),
}


def truth(name):
    _, (u, v), _, z = PATCHES[name]
    return np.array([(u - CX) * z / F, (v - CY) * z / F, z])


def scene():
    rgb = np.full((H, W, 3), 128, np.uint8)
    depth = np.full((H, W), 1.2, np.float32)
    for colour, (u, v), r, z in PATCHES.values():
        rgb[v - r : v + r + 1, u - r : u + r + 1] = colour
        depth[v - r : v + r + 1, u - r : u + r + 1] = z
    return rgb, depth


def image(array, encoding, stamp, frame_id='cam_optical'):
    m = Image()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    m.header.frame_id = frame_id
    m.height, m.width, m.step, data, m.is_bigendian = encode_image(array, encoding)
    m.encoding = encoding
    m.data = data.tobytes()
    return m


def info(stamp, k=(F, 0.0, CX, 0.0, F, CY, 0.0, 0.0, 1.0), w=W, h=H):
    m = CameraInfo()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    m.header.frame_id = 'cam_optical'
    m.width, m.height, m.k = w, h, list(k)
    return m


WARM_UP_STAMP = 1_600_000_000_000_000_000  # before every test stamp
