"""A user's own segmentation drives the live node: spatial_facts with the 'mask' grounder takes a stamped
instance-label image (mono8 / mono16 / 32SC1 ids) on masks/image_raw, pairs it with colour and depth like the
other inputs, and publishes the objects and facts of those masks; an object's prompt is its label id."""

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from sensor_msgs.msg import Image  # noqa: E402

from support.ros_msgs import PATCHES, WARM_UP_STAMP, image, info, scene, truth  # noqa: E402

REMAPS = {'color/image_raw': '/m/color', 'depth/image_raw': '/m/depth', 'color/camera_info': '/m/info',
          'masks/image_raw': '/segmenter/labels'}
IDS = {'gripper': 3, 'block': 7, 'target': 300}  # 300 needs mono16 or 32SC1


def labels(dtype):
    rgb, _ = scene()
    out = np.zeros(rgb.shape[:2], dtype)
    for name, (_, (u, v), r, _) in PATCHES.items():
        if IDS[name] <= np.iinfo(dtype).max:
            out[v - r: v + r + 1, u - r: u + r + 1] = IDS[name]
    return out


@pytest.fixture(scope='module')
def masked(node_processes, ros_harness):
    procs = node_processes
    procs.start('spatial_facts_node', 'masked', REMAPS, {
        'qos_reliability': 'reliable', 'grounder': 'mask', 'center_mode': 'centroid', 'min_points': 10,
        'min_pixels': 20, 'object_names': list(IDS), 'object_prompts': [str(i) for i in IDS.values()]})
    probe = ros_harness('mask_probe')
    probe.camera('/m/color', '/m/depth', '/m/info')
    probe.publisher('masks', '/segmenter/labels', Image)
    probe.objects = probe.subscribe('/masked/objects')
    probe.facts = probe.subscribe('/masked/facts')
    probe.collect_diagnostics()
    probe.start()
    probe.wait_connected(procs, publishers=['color', 'depth', 'info', 'masks'], topics=['/masked/objects'])
    probe.warm_up(lambda s: send(probe, s, 'mono16'), probe.objects, WARM_UP_STAMP)
    return probe


def send(probe, stamp, encoding, masks=None):
    rgb, depth = scene()
    dtype = {'mono8': np.uint8, 'mono16': np.uint16, '32SC1': np.int32}[encoding]
    probe.pubs['masks'].publish(image(labels(dtype) if masks is None else masks, encoding, stamp))
    probe.send_frame(image(rgb, 'rgb8', stamp), image(depth, '32FC1', stamp), info(stamp))


@pytest.mark.parametrize('encoding', ['mono16', '32SC1', 'mono8'])
def test_label_image_drives_the_objects_and_facts(masked, encoding):
    stamp = 1_700_000_000_000_000_000 + {'mono16': 1, '32SC1': 2, 'mono8': 3}[encoding] * 10**8
    send(masked, stamp, encoding)
    doc = masked.wait_for(masked.objects, stamp)
    found = {o['name']: np.array(o['center_m']) for o in doc['objects']}
    expected = [n for n in IDS if encoding != 'mono8' or IDS[n] <= 255]  # id 300 cannot be in a mono8 image
    assert sorted(found) == sorted(expected) and sorted(doc['missing']) == sorted(set(IDS) - set(expected))
    for name in expected:
        np.testing.assert_allclose(found[name], truth(name), atol=0.01)
    facts = masked.wait_for(masked.facts, stamp)['facts']
    left = [f for f in facts if f['type'] in ('left_of', 'right_of') and {f['subject'], f['object']} == {'gripper', 'block'}]
    assert left and (left[0]['type'] == 'left_of') == (left[0]['subject'] == 'gripper')  # gripper is left of block


def test_a_label_image_of_another_size_or_kind_is_a_counted_reject(masked):
    stamp = 1_700_000_001_000_000_000
    send(masked, stamp, 'mono16', masks=np.zeros((10, 10), np.uint16))
    send(masked, stamp + 10**8, 'mono16')  # the node keeps working
    masked.wait_for(masked.objects, stamp + 10**8)
    assert stamp not in masked.objects

    def rejected():
        d = masked.diag.get('spatial_facts', {})
        return int(d.get('rejected_size_mismatch', 0)) > 0

    masked.wait_until(rejected, timeout=10)
