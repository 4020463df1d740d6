"""RViz markers (messages/markers.py): the message-free layout (a box and a name per object, a line
and a label per distance fact, ids stable per object and pair), and the one MarkerArray builder,
the same for rosbags messages (the labeller's bags) and rclpy messages (the live node)."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.facts import compute_facts
from spatialvlm_ros.core.types import ObjectObservation, SpatialFact
from spatialvlm_ros.messages.markers import PALETTE, MarkerSpec, marker_array, marker_specs


def obs(name, c, e):
    return ObjectObservation(name=name, center=np.array(c, float), extent=np.array(e, float),
                             points=np.zeros((60, 3), np.float32), pixel_count=60)


def dist(a, b, value):
    return SpatialFact('distance', a, b, value, 'm', 'cam')


G = obs('gripper', [0.1, -0.05, 0.9], [0.03, 0.05, 0.04])
B = obs('block', [0.0, 0.02, 1.0], [0.05, 0.05, 0.05])
T = obs('target', [-0.12, 0.08, 1.1], [0.1, 0.002, 0.1])
ALL = {'gripper': G, 'block': B, 'target': T}
FACTS = [dist('gripper', 'block', 0.1234), dist('gripper', 'target', 0.3), dist('block', 'target', 0.15678),
         SpatialFact('left_of', 'gripper', 'target', 0.2, 'm', 'cam', True)]


def by_key(specs):
    return {(s.ns, s.id): s for s in specs}


def test_a_box_and_a_name_per_found_object():
    specs = marker_specs(ALL, [])
    assert [(s.ns, s.id, s.kind) for s in specs] == [
        ('objects', 0, 'cube'), ('labels', 0, 'text'), ('objects', 1, 'cube'), ('labels', 1, 'text'),
        ('objects', 2, 'cube'), ('labels', 2, 'text')]
    m = by_key(specs)
    box, label = m[('objects', 2)], m[('labels', 2)]
    assert box.position == (-0.12, 0.08, 1.1)
    assert box.scale == (0.1, 0.005, 0.1)  # a flat object still gets a visible box (5 mm)
    assert box.color == (*PALETTE[2], 0.5)
    assert label.text == 'target' and label.scale == (0.0, 0.0, 0.03)
    assert label.position == pytest.approx((-0.12, 0.08 - (0.002 / 2 + 0.03), 1.1))  # above the box (optical y down)
    assert all(type(v) is float for s in specs for v in s.position + s.scale + s.color)


def test_a_line_and_a_label_per_distance_fact_between_found_objects():
    specs = marker_specs(ALL, FACTS)
    lines = [s for s in specs if s.ns == 'distances']
    labels = [s for s in specs if s.ns == 'distance_labels']
    assert len(lines) == len(labels) == 3  # the left_of fact draws nothing
    m = by_key(specs)
    # pair id: index(subject) * len(objects) + index(object)
    line, label = m[('distances', 0 * 3 + 1)], m[('distance_labels', 0 * 3 + 1)]
    assert line.kind == 'line_list' and line.points == ((0.1, -0.05, 0.9), (0.0, 0.02, 1.0))
    assert line.scale == (0.004, 0.0, 0.0)
    assert label.kind == 'text' and label.text == '12.3 cm'
    assert label.position == pytest.approx((0.05, -0.015, 0.95))  # the middle of the line
    assert label.color == (0.6, 1.0, 0.6, 1.0)
    assert m[('distance_labels', 1 * 3 + 2)].text == '15.7 cm'
    assert m[('distance_labels', 0 * 3 + 2)].text == '30.0 cm'


def test_ids_are_stable_per_object_and_pair_when_objects_come_and_go():
    full = by_key(marker_specs(ALL, FACTS))
    no_block = by_key(marker_specs({'gripper': G, 'block': None, 'target': T}, FACTS))
    # the target keeps id 2 and the gripper-target line keeps its id while the block is missing
    assert set(no_block) == {('objects', 0), ('labels', 0), ('objects', 2), ('labels', 2),
                             ('distances', 2), ('distance_labels', 2)}
    for key, spec in no_block.items():
        assert full[key] == spec, key
    # the same objects moved: same ids, new positions
    moved = {n: obs(n, np.asarray(o.center) + 0.01, o.extent) for n, o in ALL.items()}
    moved_specs = by_key(marker_specs(moved, FACTS))
    assert set(moved_specs) == set(full)
    assert moved_specs[('objects', 1)].position == pytest.approx((0.01, 0.03, 1.01))
    # a fact on an object that is not found (or not in the objects at all) draws nothing
    assert not [s for s in marker_specs({'gripper': G, 'block': None}, FACTS) if s.ns.startswith('distance')]
    assert not [s for s in marker_specs({'gripper': G}, [dist('gripper', 'elsewhere', 1.0)])
                if s.ns.startswith('distance')]
    assert marker_specs({}, []) == [] and marker_specs({'block': None}, FACTS) == []


def test_palette_wraps_around_for_many_objects():
    many = {f'o{i}': obs(f'o{i}', [i, 0, 1], [0.1] * 3) for i in range(len(PALETTE) + 2)}
    boxes = [s for s in marker_specs(many, []) if s.kind == 'cube']
    assert boxes[len(PALETTE)].color == boxes[0].color and boxes[len(PALETTE) + 1].color == boxes[1].color
    assert [s.id for s in boxes] == list(range(len(PALETTE) + 2))


def test_marker_specs_are_message_free_values():
    s = MarkerSpec('objects', 0, 'cube')
    assert s.points == () and s.text == '' and s.color == (1.0, 1.0, 1.0, 1.0)
    with pytest.raises(Exception):
        s.id = 1  # frozen


def _rosbags():
    pytest.importorskip('rosbags')
    from spatialvlm_ros.messages.bag import message_factory, typestore_for

    ts = typestore_for()
    t = ts.types
    header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=12, nanosec=345), frame_id='cam')
    return ts, message_factory(ts), header


def test_marker_array_for_a_bag_serializes_with_rosbags_and_carries_the_specs():
    ts, new, header = _rosbags()
    objects = {'gripper': G, 'block': None, 'target': T}
    facts = compute_facts(objects)
    arr = marker_array(new, objects, facts, header, lifetime_s=0.25)
    raw = ts.serialize_cdr(arr, 'visualization_msgs/msg/MarkerArray')
    back = ts.deserialize_cdr(raw, 'visualization_msgs/msg/MarkerArray')
    specs = marker_specs(objects, facts)
    assert len(back.markers) == len(specs) == 6
    types = {'cube': 1, 'line_list': 5, 'text': 9}
    for m, s in zip(back.markers, specs):
        assert (m.ns, m.id, m.type, m.action, m.text) == (s.ns, s.id, types[s.kind], 0, s.text)
        assert (m.header.frame_id, m.header.stamp.sec, m.header.stamp.nanosec) == ('cam', 12, 345)
        assert (m.pose.position.x, m.pose.position.y, m.pose.position.z) == pytest.approx(s.position)
        assert (m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z, m.pose.orientation.w) == (0, 0, 0, 1)
        assert (m.scale.x, m.scale.y, m.scale.z) == pytest.approx(s.scale)
        assert (m.color.r, m.color.g, m.color.b, m.color.a) == pytest.approx(s.color)
        assert [c for p in m.points for c in (p.x, p.y, p.z)] == pytest.approx([c for p in s.points for c in p])
        assert len(m.points) == (2 if s.kind == 'line_list' else 0)
        assert (m.lifetime.sec, m.lifetime.nanosec) == (0, 250_000_000)
    # an empty scene is an empty, valid array
    empty = marker_array(new, {}, [], header)
    assert ts.deserialize_cdr(ts.serialize_cdr(empty, 'visualization_msgs/msg/MarkerArray'),
                              'visualization_msgs/msg/MarkerArray').markers == []


def _fields(msg):
    """Comparable content of a Marker (rclpy or rosbags)."""
    return (msg.ns, msg.id, msg.type, msg.action, round(msg.pose.position.x, 9), round(msg.pose.position.y, 9),
            round(msg.pose.position.z, 9), msg.pose.orientation.w, round(msg.scale.x, 9), round(msg.scale.y, 9),
            round(msg.scale.z, 9), round(msg.color.r, 6), round(msg.color.g, 6), round(msg.color.b, 6),
            round(msg.color.a, 6), msg.lifetime.sec, msg.lifetime.nanosec, msg.text,
            [(round(p.x, 9), round(p.y, 9), round(p.z, 9)) for p in msg.points], msg.header.frame_id,
            msg.header.stamp.sec, msg.header.stamp.nanosec)


def test_markers_mirror_the_live_nodes():
    """The live node's rclpy MarkerArray and the labeller's rosbags one have the same content."""
    pytest.importorskip('visualization_msgs')
    from std_msgs.msg import Header

    from spatialvlm_ros.messages.bag import message_factory, rclpy_message, typestore_for

    objects = {'gripper': obs('gripper', [0.1, -0.05, 0.9], [0.03, 0.05, 0.04]), 'block': None,
               'target': obs('target', [-0.12, 0.08, 1.1], [0.1, 0.002, 0.1])}
    facts = compute_facts(objects)
    live = marker_array(rclpy_message, objects, facts, Header(frame_id='cam'))
    ts = typestore_for()
    t = ts.types
    hdr = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=0, nanosec=0), frame_id='cam')
    offline = marker_array(message_factory(ts), objects, facts, hdr)
    assert [_fields(m) for m in live.markers] == [_fields(m) for m in offline.markers]
    ts.serialize_cdr(offline, 'visualization_msgs/msg/MarkerArray')  # a valid message


@pytest.mark.parametrize('frame_id', ['', 'c', 'cam', 'camera_color_optical_frame', 'câmera'])
def test_marker_array_cdr_is_the_serialized_marker_array(frame_id):
    """marker_array_cdr (the labelled bag's markers, written directly) is byte for byte rosbags' serialization of
    marker_array: frame ids and names of every length modulo the alignment, missing objects, non-ASCII text,
    lines and labels, any stamp and lifetime."""
    ts, new, _ = _rosbags()
    from spatialvlm_ros.messages.markers import marker_array_cdr

    t = ts.types
    rng = np.random.default_rng(len(frame_id))
    names = ['g', 'block', 'tärget', 'a_much_longer_object_name', 'x5']
    for trial in range(12):
        objects = {n: None if rng.random() < 0.25 else obs(n, rng.normal(0, 1, 3), rng.uniform(0, 0.2, 3))
                   for n in names[: 1 + trial % len(names)]}
        facts = compute_facts({n: o for n, o in objects.items()}) + [dist('g', 'tärget', float(rng.uniform(0, 2)))]
        stamp = int(rng.integers(0, 2**40)) * 1000 + int(rng.integers(0, 999))
        lifetime = [0.5, 0.25, 1.0, 2.75][trial % 4]
        sec, nanosec = stamp // 10**9, stamp % 10**9
        header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec),
                                          frame_id=frame_id)
        expected = bytes(ts.serialize_cdr(marker_array(new, objects, facts, header, lifetime_s=lifetime),
                                          'visualization_msgs/msg/MarkerArray', little_endian=True))
        assert marker_array_cdr(objects, facts, stamp, frame_id, lifetime_s=lifetime) == expected
    assert marker_array_cdr({}, [], 0, frame_id) == bytes(ts.serialize_cdr(
        marker_array(new, {}, [], t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=0, nanosec=0),
                                                           frame_id=frame_id)),
        'visualization_msgs/msg/MarkerArray', little_endian=True))
