"""reward node: measured objects in, a dense staged reward out.

Subscribes:
    objects    std_msgs/String (JSON objects document from spatial_facts; remap in launch)
Publishes:
    ~/reward   std_msgs/Float32   the scalar, only for frames where it is defined
    ~/detail   std_msgs/String    JSON: stamp, reward, stage, terms, distances, success, valid, missing
    /diagnostics

Why a separate node: perception (heavy, per camera) and reward (a task's business, cheap) scale
and restart independently; several reward nodes with different tasks can share one perception
node, and the reward node can be swapped for a VLM-backed one without touching perception.
"""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import Float32, String

from ..messages import serialize
from ..core.errors import SpatialError
from ..core.task import load_task, task_path
from ..core.reward import reward_from_observations
from .health import NodeHealth, steady_timer
from .run import run_node
from .params import declare_parameters, load_defaults, read_parameters
from .qos import results_qos

__all__ = ['RewardNode', 'PARAMETERS', 'INPUT_TOPICS', 'main']

NODE_NAME = 'reward'
PARAMS_FILE = 'reward.yaml'

INPUT_TOPICS = {'objects': 'objects'}

PARAMETERS = {
    'task': 'Task spec: a YAML path, or the name of one in the package config/tasks/ (e.g. pick_and_place).',
    'diagnostics_period_s': 'Period of /diagnostics messages (seconds).',
}


class RewardNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        declare_parameters(self, PARAMETERS, load_defaults(PARAMS_FILE, NODE_NAME))
        p = read_parameters(self, PARAMETERS)
        self.task = load_task(task_path(p['task']))
        self.health = NodeHealth(self, 'reward')
        self.reward_pub = self.create_publisher(Float32, '~/reward', results_qos())
        self.detail_pub = self.create_publisher(String, '~/detail', results_qos())
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(String, INPUT_TOPICS['objects'], self._on_objects, results_qos())
        steady_timer(self, p['diagnostics_period_s'], self._publish_diagnostics)
        stages = ' -> '.join(s.name for s in self.task.stages)
        self.get_logger().info(f'task {self.task.name!r}: {stages}')

    def _on_objects(self, msg: String) -> None:
        t0 = time.perf_counter()
        try:
            stamp_ns, frame_id, objects = serialize.objects_from_doc(serialize.loads(msg.data))
            sample = reward_from_observations(self.task, objects, stamp_ns)
        except SpatialError as err:
            self.health.reject('bad_objects', str(err))
            return
        except Exception as err:  # noqa: BLE001 - report, never die on one message
            self.health.reject('internal', f'{type(err).__name__}: {err}')
            return
        if sample.valid:
            self.reward_pub.publish(Float32(data=float(sample.reward)))
        else:
            self.health.note('frames_without_reward', f'no reward for frame {stamp_ns}: missing {list(sample.missing)}')
        self.detail_pub.publish(String(data=serialize.dumps(serialize.reward_to_doc(sample, frame_id))))
        self.health.ok((time.perf_counter() - t0) * 1e3)

    def _publish_diagnostics(self) -> None:
        self.health.publish(self.diag_pub, {'task': self.task.name})


def main(args=None) -> None:
    run_node(RewardNode, args)


if __name__ == '__main__':
    main()
