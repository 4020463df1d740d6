from spatialvlm_ros.messages.sync import ApproximateTimeSync

MS = 1_000_000


def test_pairs_within_slop_and_in_order():
    s = ApproximateTimeSync(('color', 'depth', 'info'), slop_ns=10 * MS)
    assert s.add('color', 100 * MS, 'c1') is None
    assert s.add('info', 100 * MS, 'i1') is None
    assert s.add('depth', 105 * MS, 'd1') == ('c1', 'd1', 'i1')
    # a depth 30 ms away from the next colour does not pair; the right one does
    assert s.add('color', 133 * MS, 'c2') is None
    assert s.add('info', 133 * MS, 'i2') is None
    assert s.add('depth', 170 * MS, 'd3') is None
    assert s.add('depth', 131 * MS, 'd2') == ('c2', 'd2', 'i2')
    assert s.stats.matched == 2


def test_older_than_last_match_is_counted_not_emitted():
    s = ApproximateTimeSync(('a', 'b'), slop_ns=5 * MS)
    s.add('a', 100 * MS, 1)
    assert s.add('b', 100 * MS, 2) == (1, 2)
    assert s.add('a', 90 * MS, 3) is None
    assert s.stats.out_of_order == 1


def test_time_jump_back_resets_instead_of_stalling_forever():
    s = ApproximateTimeSync(('a', 'b'), slop_ns=5 * MS)
    s.add('a', 10_000 * MS, 1)
    assert s.add('b', 10_000 * MS, 2) == (1, 2)
    s.add('a', 100 * MS, 3)  # bag looped
    assert s.add('b', 100 * MS, 4) == (3, 4)
    assert s.stats.time_jumps == 1


def test_queues_are_bounded_when_a_stream_is_dead():
    s = ApproximateTimeSync(('a', 'b'), slop_ns=1 * MS, queue_size=3)
    for i in range(100):
        s.add('a', i * 33 * MS, i)
    assert len(s._queues['a']) == 3 and s.stats.dropped == 97
