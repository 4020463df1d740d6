"""The real nodes, in their own processes, over loopback DDS on a private domain.

Synthetic RGB-D with analytic ground truth: three flat coloured squares facing the camera at
known depths in front of a grey wall. Their centres are known exactly, so the published
objects, facts and rewards can be checked to the millimetre.
"""

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')


from support.ros_msgs import F, PATCHES, WARM_UP_STAMP, image, info, scene, truth  # noqa: E402


def send_scene(h, stamp, rgb=None, depth=None):
    """The analytic scene (or ``rgb``/``depth``) as one frame stamped ``stamp``."""
    if rgb is None or depth is None:
        rgb, depth = scene()
    h.send_frame(image(rgb, 'rgb8', stamp), image(depth, '32FC1', stamp), info(stamp))


@pytest.fixture(scope='module')
def graph(node_processes, ros_harness):
    procs = node_processes
    procs.start_pair(extra_params={'center_mode': 'centroid', 'object_center_modes': ['gripper=centroid'], 'min_pixels': 20,
                                   'min_points': 10})
    h = ros_harness('test_harness')
    h.camera()
    h.objects = h.subscribe('/spatial_facts/objects')
    h.facts = h.subscribe('/spatial_facts/facts')
    h.rewards = h.subscribe('/reward/detail')
    h.collect_diagnostics()
    h.start()
    h.wait_connected(procs, publishers=['color', 'depth', 'info'], topics=['/reward/detail'])
    h.warm_up(lambda s: send_scene(h, s), h.rewards, WARM_UP_STAMP)
    return h, procs


def test_good_frame_gives_metric_objects_facts_and_reward_with_its_stamp(graph):
    h, _ = graph
    stamp = 1_700_000_001_123_456_789
    send_scene(h, stamp)
    objects = h.wait_for(h.objects, stamp)
    assert objects['stamp'] == {'sec': 1_700_000_001, 'nanosec': 123_456_789}
    assert objects['frame_id'] == 'cam_optical' and objects['missing'] == []
    centres = {o['name']: np.array(o['center_m']) for o in objects['objects']}
    for name in PATCHES:
        np.testing.assert_allclose(centres[name], truth(name), atol=2e-3)
    for o in objects['objects']:
        # no horizontal plane in view, so up is the camera's -y: [width, height, depth] of these frontal
        # squares is (side, side, 0): the eroded mask's extent with the erosion (2 px a side) and the
        # pixel-centre sampling (1 px) put back, as in the camera-axis box (the marker box)
        _, _, r, z = PATCHES[o['name']]
        assert o['extent_m'] == pytest.approx([(2 * r + 1) * z / F] * 2 + [0.0], abs=0.003), o
        assert o['extent_camera_m'] == pytest.approx([(2 * r + 1) * z / F] * 2 + [0.0], abs=0.007), o

    facts = h.wait_for(h.facts, stamp)['facts']
    dist = {(f['subject'], f['object']): f['value'] for f in facts if f['type'] == 'distance'}
    expected = np.linalg.norm(truth('block') - truth('target'))
    assert dist[('block', 'target')] == pytest.approx(expected, abs=3e-3)
    left = [f for f in facts if f['subject'] == 'gripper' and f['object'] == 'target' and f['type'] == 'left_of']
    assert left and left[0]['holds'] is True  # gripper is at u=40, target at u=125
    # that up is assumed, and the facts and diagnostics say so: only the distances keep a confidence
    doc = h.wait_for(h.facts, stamp)
    assert doc['up'] == {'source': 'prior', 'confidence': 0.0, 'averaged_frames': 1}
    assert left[0]['confidence'] == 0.0 and all(f['confidence'] > 0.5 for f in facts if f['type'] == 'distance')
    d = h.wait_diagnostics('spatial_facts', lambda d: 'up_source' in d)
    assert d['up_source'] == 'prior' and d['up_confidence'] == '0.0' and int(d['up_uncertain_frames']) >= 1

    reward = h.wait_for(h.rewards, stamp)
    d_gb = np.linalg.norm(truth('gripper') - truth('block'))
    assert reward['valid'] and reward['stage_name'] == 'reach'
    assert reward['reward'] == pytest.approx(0.1 / (0.1 + d_gb - 0.05), abs=3e-3)  # stacked_progress, reach


def test_16uc1_millimetres_give_the_same_geometry(graph):
    h, _ = graph
    rgb, depth = scene()
    stamp = 1_700_000_002_000_000_000
    h.send_frame(image(rgb, 'rgb8', stamp),
           image(np.round(depth * 1000).astype(np.uint16), '16UC1', stamp), info(stamp))
    centres = {o['name']: np.array(o['center_m']) for o in h.wait_for(h.objects, stamp)['objects']}
    np.testing.assert_allclose(centres['block'], truth('block'), atol=2e-3)


def test_bad_messages_are_counted_by_kind_and_the_node_keeps_working(graph):
    h, procs = graph
    rgb, depth = scene()
    base = 1_700_000_010_000_000_000
    step = 50_000_000
    bad = {
        # a colour image on the depth topic (a common remap mistake)
        'encoding': lambda s: (image(rgb, 'rgb8', s), image(rgb, 'rgb8', s), info(s)),
        'size_mismatch': lambda s: (image(rgb, 'rgb8', s), image(depth[:, :100].copy(), '32FC1', s), info(s)),
        'no_valid_depth': lambda s: (image(rgb, 'rgb8', s), image(np.zeros_like(depth), '32FC1', s), info(s)),
        'intrinsics': lambda s: (image(rgb, 'rgb8', s), image(depth, '32FC1', s), info(s, k=[0.0] * 9)),
        'truncated': lambda s: (_truncate(image(rgb, 'rgb8', s)), image(depth, '32FC1', s), info(s)),
        # a driver set to 0.1 mm depth units (RealSense depth_units 0.0001) publishing 16UC1: 7-12 m instead
        # of 0.7-1.2 m, every pixel a reading, most beyond 10 m
        'implausible_depth': lambda s: (image(rgb, 'rgb8', s), image(np.round(depth * 10000).astype(np.uint16),
                                                                     '16UC1', s), info(s)),
    }
    i = 0
    for _ in range(3):
        for kind, make in bad.items():
            h.send_frame(*make(base + i * step))
            i += 1
            time.sleep(0.01)
    good = base + (i + 1) * step
    send_scene(h, good)
    h.wait_for(h.rewards, good)
    procs.assert_alive('a node died on bad input')

    d = h.wait_diagnostics('spatial_facts', lambda d: all(d.get(f'rejected_{k}') == '3' for k in bad), timeout=10)
    for kind in bad:
        assert d.get(f'rejected_{kind}') == '3', (kind, d)
        assert d[f'last_error_{kind}']
    assert 'REP 118' in d['last_error_encoding'] and 'positive' in d['last_error_intrinsics']
    assert 'implausible' in d['last_error_implausible_depth'] and 'median 12 m' in d['last_error_implausible_depth']
    # logged once per kind (throttled), not once per message
    text = procs.log('spatial_facts')
    for kind in bad:
        assert text.count(f'skipped input ({kind},') == 1, (kind, text[-3000:])


def _truncate(msg):
    msg.data = bytes(msg.data)[: len(msg.data) // 2]
    return msg


def test_missing_object_gives_an_invalid_reward_and_no_made_up_number(graph):
    h, _ = graph
    rgb, depth = scene()
    _, (u, v), r, _ = PATCHES['block']
    rgb[v - r : v + r + 1, u - r : u + r + 1] = 128  # block gone
    stamp = 1_700_000_020_000_000_000
    send_scene(h, stamp, rgb, depth)
    objects = h.wait_for(h.objects, stamp)
    assert objects['missing'] == ['block']
    reward = h.wait_for(h.rewards, stamp)
    assert reward['valid'] is False and reward['reward'] is None and reward['missing'] == ['block']
