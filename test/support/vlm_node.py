"""The camera, perception and question caller of the vlm_reward scenario tests (over DDS)."""
import json
import time

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import String

from spatialvlm_ros.messages.image_codec import encode_image

from support.harness import Harness

CENTRES = {'gripper': [0.0, 0.0, 0.7], 'block': [0.2, 0.0, 0.7], 'target': [0.2, 0.0, 1.0]}  # depth: 0.2 m, 0.3 m


def vlm_answer(question, n_images):
    if 'yellow gripper' in question and 'red block' in question:
        return 'The yellow gripper is about 25 cm from the red block.'
    if 'red block' in question and 'blue target' in question:
        return 'About 0.4 meters.'
    return 'I cannot tell.'


def image(stamp):
    m = Image()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    m.header.frame_id = 'cam_optical'
    m.height, m.width, m.step, data, m.is_bigendian = encode_image(np.full((24, 32, 3), 90, np.uint8), 'rgb8')
    m.encoding = 'rgb8'
    m.data = data.tobytes()
    return m


def objects_doc(stamp):
    sec, nanosec = divmod(stamp, 1_000_000_000)
    return {'stamp': {'sec': sec, 'nanosec': nanosec}, 'stamp_ns': stamp, 'frame_id': 'cam_optical',
            'objects': [{'name': n, 'center_m': c, 'extent_m': [0.05] * 3, 'points': 100, 'pixels': 100}
                        for n, c in CENTRES.items()], 'missing': []}


class Client(Harness):
    """Plays perception (objects documents) and the camera for vlm_reward; asks it questions."""

    def __init__(self, name='vlm_test_client'):
        super().__init__(name)
        self.publisher('image', '/camera/color/image_raw', Image)
        self.publisher('objects', '/spatial_facts/objects', String)
        self.publisher('question', '/vlm_reward/question', String)
        self.details = self.subscribe('/vlm_reward/detail')
        self.answers = self.subscribe('/vlm_reward/answer', key='request_id')
        self.collect_diagnostics()

    def frame(self, stamp):
        self.publish('objects', String(data=json.dumps(objects_doc(stamp))))
        time.sleep(0.1)  # perception is faster than the VLM: its objects arrive first
        self.publish('image', image(stamp))

    def ask(self, data: str) -> None:
        self.publish('question', String(data=data))


