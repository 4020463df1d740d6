"""messages.bag: the one bag reader (rosbag2 directories and ROS 1 .bag files, messages as CDR either way),
deserialized reading, and message building for rosbags and rclpy alike."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip('rosbags')

from spatialvlm_ros.messages.bag import message_factory, open_reader, read_messages, topics, typestore_for  # noqa: E402
from spatialvlm_ros.messages.errors import MessageError  # noqa: E402

STRING = 'std_msgs/msg/String'


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    """(rosbag2 directory, ROS 1 .bag) holding the same three String messages."""
    from rosbags.rosbag1 import Writer as Writer1
    from rosbags.rosbag2 import Writer as Writer2

    root = tmp_path_factory.mktemp('bags')
    ts = typestore_for()
    msgs = [(10 + i, ts.serialize_cdr(ts.types[STRING](data=f'm{i}'), STRING)) for i in range(3)]
    with Writer2(root / 'two', version=9) as w:
        c = w.add_connection('/t', STRING, typestore=ts)
        for t, raw in msgs:
            w.write(c, t, raw)
    with Writer1(root / 'one.bag') as w:
        c = w.add_connection('/t', STRING, typestore=ts)
        for t, raw in msgs:
            w.write(c, t, ts.cdr_to_ros1(raw, STRING))
    return root / 'two', root / 'one.bag', msgs


def test_both_formats_read_as_the_same_cdr_messages(bags):
    two, one, msgs = bags
    for path in (two, one):
        with open_reader(path) as reader:
            assert [(c.topic, c.msgtype) for c in reader.connections] == [('/t', STRING)]
            got = [(t, bytes(raw)) for _, t, raw in reader.messages()]
        assert got == [(t, bytes(raw)) for t, raw in msgs], path
        assert topics(path) == {'/t': STRING}
        assert [m.msg.data for m in read_messages(path, ['/t'])] == ['m0', 'm1', 'm2']


def test_missing_topics_and_things_that_are_no_bag_say_so(bags, tmp_path):
    two, _, _ = bags
    with pytest.raises(MessageError, match=r"has no topic\(s\) \['/nope'\]; it has \['/t'\]") as err:
        list(read_messages(two, ['/nope']))
    assert err.value.kind == 'missing_topics'
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(MessageError, match='neither a rosbag2 directory .* nor a ROS 1 .bag file'):
        with open_reader(tmp_path / 'notes.txt'):
            pass
    shutil.copy(tmp_path / 'notes.txt', tmp_path / 'broken.bag')
    with pytest.raises(MessageError, match='cannot open bag') as err:
        with open_reader(tmp_path / 'broken.bag'):
            pass
    assert err.value.kind == 'unreadable'
    with pytest.raises(MessageError, match='no bag at') as err:
        with open_reader(tmp_path / 'nothing'):
            pass
    assert err.value.kind == 'no_bag'


def test_message_factory_fills_every_field_not_given():
    ts = typestore_for()
    new = message_factory(ts)
    marker = new('visualization_msgs/msg/Marker', ns='objects', id=3)
    assert (marker.ns, marker.id, marker.text, marker.points) == ('objects', 3, '', [])
    assert marker.texture.data.dtype == np.uint8 and marker.texture.data.size == 0
    assert len(ts.serialize_cdr(marker, 'visualization_msgs/msg/Marker')) > 0


def test_message_factory_makes_every_type_with_defaults_of_its_own():
    """Every type of the typestore serialises from its defaults alone; a mutable default (nested message,
    sequence, array) is a new object in every message, never shared between two of them."""
    ts = typestore_for()
    new = message_factory(ts)
    for msgtype in ts.fielddefs:
        assert len(ts.serialize_cdr(new(msgtype), msgtype)) >= 4
    a, b = (new('visualization_msgs/msg/Marker') for _ in range(2))
    assert a.pose is not b.pose and a.points is not b.points and a.texture.data is not b.texture.data
    info = [new('sensor_msgs/msg/CameraInfo') for _ in range(2)]
    assert info[0].k is not info[1].k and info[0].k.shape == (9,) and not info[0].k.any()
