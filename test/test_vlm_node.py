"""The vlm_reward node in its own process over loopback DDS, with a local chat-completions
server as its VLM: rewards from the VLM's distances stamped with their frame, the depth
cross-check, fallback to depth when the server fails, and questions over ROS."""

import json
import os
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from spatialvlm_ros.messages.image_codec import encode_image  # noqa: E402
from spatialvlm_ros.demo import ros_environment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_vlm_openai import ChatServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
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


class Client(Node):
    def __init__(self):
        super().__init__('vlm_test_client')
        self.image = self.create_publisher(Image, '/camera/color/image_raw', 50)
        self.objects = self.create_publisher(String, '/spatial_facts/objects', 50)
        self.question = self.create_publisher(String, '/vlm_reward/question', 50)
        self.lock = threading.Lock()
        self.details, self.answers, self.diag = {}, {}, {}
        self.create_subscription(String, '/vlm_reward/detail', self._on_detail, 50)
        self.create_subscription(String, '/vlm_reward/answer', self._on_answer, 50)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50)

    def _on_detail(self, msg):
        doc = json.loads(msg.data)
        with self.lock:
            self.details[doc['stamp_ns']] = doc

    def _on_answer(self, msg):
        doc = json.loads(msg.data)
        with self.lock:
            self.answers[doc['request_id']] = doc

    def _on_diag(self, msg):
        with self.lock:
            for st in msg.status:
                self.diag[st.hardware_id] = {kv.key: kv.value for kv in st.values}

    def frame(self, stamp):
        self.objects.publish(String(data=json.dumps(objects_doc(stamp))))
        time.sleep(0.1)  # perception is faster than the VLM: its objects arrive first
        self.image.publish(image(stamp))

    def wait(self, store, key, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if key in store:
                    return store[key]
            time.sleep(0.02)
        raise AssertionError(f'nothing for {key} within {timeout} s')


@pytest.fixture(scope='module')
def graph(tmp_path_factory):
    import subprocess

    logs = tmp_path_factory.mktemp('vlm_node')
    server = ChatServer()
    server.answer_fn = vlm_answer
    env = ros_environment(int(os.environ['ROS_DOMAIN_ID']))
    cmd = [sys.executable, '-m', 'spatialvlm_ros.ros.vlm_reward_node', '--ros-args',
           '-r', 'color/image_raw:=/camera/color/image_raw', '-r', 'objects:=/spatial_facts/objects',
           '-p', 'backend:=openai', '-p', f'base_url:={server.url}', '-p', 'model:=spaceqwen', '-p', 'retries:=0',
           '-p', 'timeout_s:=2.0', '-p', 'period_s:=0.0', '-p', 'fallback:=depth', '-p', 'qos_reliability:=reliable',
           '-p', 'qos_depth:=50', '-p', 'diagnostics_period_s:=0.2']
    logf = open(logs / 'vlm_reward.log', 'w')  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT)
    rclpy.init()
    c = Client()
    ex = SingleThreadedExecutor()
    ex.add_node(c)
    threading.Thread(target=ex.spin, daemon=True).start()
    deadline = time.monotonic() + 60
    while not (c.image.get_subscription_count() and c.count_publishers('/vlm_reward/detail')
               and c.question.get_subscription_count() and c.objects.get_subscription_count()):
        assert proc.poll() is None, (logs / 'vlm_reward.log').read_text()
        assert time.monotonic() < deadline, 'vlm_reward did not come up'
        time.sleep(0.1)
    time.sleep(0.5)
    yield c, proc, server, logs
    proc.terminate()
    proc.wait(timeout=10)
    ex.shutdown()
    c.destroy_node()
    rclpy.try_shutdown()
    server.close()
    logf.close()


def test_reward_from_the_vlm_stamped_with_its_frame_and_checked_against_depth(graph):
    c, proc, server, _ = graph
    stamp = 1_700_000_100_250_000_000
    c.frame(stamp)
    d = c.wait(c.details, stamp)
    assert d['stamp'] == {'sec': 1_700_000_100, 'nanosec': 250_000_000} and d['frame_id'] == 'cam_optical'
    assert d['source'] == 'vlm' and d['valid'] and d['error'] is None
    assert d['stage_name'] == 'reach' and d['reward'] == pytest.approx(-0.25)
    assert d['distances'] == {'gripper-block': pytest.approx(0.25), 'block-target': pytest.approx(0.4)}
    assert d['answers']['gripper-block']['answer'] == 'The yellow gripper is about 25 cm from the red block.'
    assert d['depth_distances']['gripper-block'] == pytest.approx(0.2)
    assert d['disagreement']['gripper-block'] == {'abs_m': pytest.approx(0.05), 'rel': pytest.approx(0.25)}
    assert d['disagreement']['block-target'] == {'abs_m': pytest.approx(0.1), 'rel': pytest.approx(1 / 3, abs=1e-5)}
    body = server.requests[-1][2]
    assert body['messages'][0]['content'][0]['image_url']['url'].startswith('data:image/png;base64,')


def test_a_failing_server_falls_back_to_depth_and_the_node_stays_up(graph):
    c, proc, server, logs = graph
    server.script = ['500'] * 2  # both questions of the frame fail
    stamp = 1_700_000_101_000_000_000
    c.frame(stamp)
    d = c.wait(c.details, stamp)
    assert d['source'] == 'depth_fallback' and d['valid'] and 'HTTP 500' in d['error']
    assert d['reward'] == pytest.approx(-0.2)
    assert proc.poll() is None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with c.lock:
            diag = dict(c.diag.get('vlm_reward', {}))
        if diag.get('rejected_backend_server'):
            break
        time.sleep(0.1)
    assert diag['rejected_backend_server'] == '1' and 'HTTP 500' in diag['last_error_backend_server']
    assert int(diag['requests_failed']) >= 1 and diag['backend'] == 'openai'
    # and it recovers with the server
    stamp2 = stamp + 500_000_000
    c.frame(stamp2)
    assert c.wait(c.details, stamp2)['source'] == 'vlm'
    assert 'skipped input (backend_server, 1 so far)' in (logs / 'vlm_reward.log').read_text()


def test_questions_over_ros_are_answered_with_value_and_frame_stamp(graph):
    c, _, _, _ = graph
    stamp = 1_700_000_102_000_000_000
    c.frame(stamp)
    c.wait(c.details, stamp)
    c.question.publish(String(data=json.dumps({'request_id': 'q-1', 'question': 'How far is the red block from '
                                               'the blue target?'})))
    c.question.publish(String(data=json.dumps({'request_id': 'q-2', 'question': 'Is the sky blue?'})))
    a1, a2 = c.wait(c.answers, 'q-1'), c.wait(c.answers, 'q-2')
    assert a1['answer'] == 'About 0.4 meters.' and a1['value_m'] == pytest.approx(0.4) and a1['error'] is None
    assert a1['stamp_ns'] == stamp and a1['stamp'] == {'sec': 1_700_000_102, 'nanosec': 0}
    assert a2['answer'] == 'I cannot tell.' and a2['value_m'] is None and a2['yes_no'] is None
    c.question.publish(String(data='{"request_id": "q-3"}'))
    a3 = c.wait(c.answers, 'q-3')
    assert a3['answer'] is None and 'malformed question' in a3['error']


def test_launch_starts_vlm_reward_only_when_asked():
    root = ET.parse(ROOT / 'launch' / 'spatialvlm.launch.xml').getroot()
    node = [n for n in root.findall('node') if n.get('exec') == 'vlm_reward_node'][0]
    assert node.get('if') == '$(var vlm_reward)'
    args = {a.get('name'): a.get('default') for a in root.findall('arg')}
    assert args['vlm_reward'] == 'false'


def test_backend_parameters_come_from_the_registry_with_their_yaml_defaults():
    """Every backend option the node exposes is described by the registry, and its YAML default is
    the default of each backend declaring it, or DEFAULT_OVERRIDES says why not."""
    from spatialvlm_ros.core.params import load_defaults
    from spatialvlm_ros.ros import vlm_reward_node as node
    from spatialvlm_ros.ros.errors import NodeError
    from spatialvlm_ros.vlm import backend_options, image_backends, merged_backend_options

    exposed = merged_backend_options(image_backends())
    assert set(node.BACKEND_PARAMETERS) == set(exposed)
    assert all(node.PARAMETERS[n] == o.doc for n, o in exposed.items())
    defaults = load_defaults('vlm_reward.yaml', 'vlm_reward')
    differing = set()
    for kind in image_backends():
        for o in backend_options(kind):
            value = defaults[o.name]
            assert isinstance(value, list if o.type is tuple else o.type) or (o.type is float and type(value) is int)
            if value != o.default:
                differing.add(o.name)
    assert differing == set(node.DEFAULT_OVERRIDES), 'a YAML default differs from its backend default: say why'
    assert all(len(why) > 15 for why in node.DEFAULT_OVERRIDES.values())
    kind, options = node.backend_config({**defaults, 'backend': 'openai'})
    assert kind == 'openai' and options['max_new_tokens'] == 64 and 'device' not in options
    with pytest.raises(NodeError, match=r"backend must be one of \['llava', 'openai', 'qwen2_5_vl'\], got 'geometry'"):
        node.backend_config({**defaults, 'backend': 'geometry'})
