"""Lifting on realistic rendered scenes (spatialvlm_ros.sim.realistic): masks that bleed past the
outline, an object standing on another one, thin parts; sizes against exact truth."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.grounding import ObjectQuery
from spatialvlm_ros.core.lifting import LiftConfig
from spatialvlm_ros.core.lifting.cloud import split_bleed
from spatialvlm_ros.core.pipeline import PipelineConfig, SpatialPipeline
from spatialvlm_ros.sim.realistic import make_scene


def _measure(scene, names):
    pipe = SpatialPipeline(PipelineConfig(queries=tuple(ObjectQuery(n, n) for n in names), grounder='mask',
                                          lift=LiftConfig(center_mode='support')))
    pipe.grounder.set_masks(masks={n: scene.masks[n] for n in names})
    return pipe.process(scene.frame())


def test_split_bleed_drops_a_fringe_behind_a_depth_edge_and_keeps_a_long_part():
    depth = np.full((60, 80), 2.0, np.float32)  # a wall
    depth[20:40, 20:40] = 1.0  # an object
    depth[28:31, 40:75] = 1.01  # its thin handle, reaching far out
    mask = np.zeros(depth.shape, bool)
    mask[16:44, 16:44] = True  # 4 px of bleed onto the wall
    mask[28:31, 40:75] = True
    kept = split_bleed(depth, mask, 0.02)
    assert kept[20:40, 20:40].mean() > 0.98 and kept[28:31, 44:75].all()  # (its 4 corner pixels are cut)
    assert not kept[16:19, 16:44].any() and not kept[16:44, 16:19].any()



def test_split_bleed_drops_a_one_pixel_fringe_of_background_depth_around_a_single_piece():
    """One object and no other piece of mask: the row of mask pixels past its lower outline that
    reads the background (a colour mask's anti-aliased edge) is cut off by the depth jump and
    dropped; the object's own pixels all stay."""
    depth = np.full((60, 80), 2.2, np.float32)  # the floor far behind
    depth[20:40, 20:40] = 0.75
    mask = np.zeros(depth.shape, bool)
    mask[20:41, 20:40] = True  # one row past the lower outline
    kept = split_bleed(depth, mask, 0.02)
    assert kept[20:40, 20:40].all()
    assert not kept[40].any()

def test_a_can_on_a_box_is_measured_from_the_box():
    scene = make_scene(9, 'tabletop')
    res = _measure(scene, ['can_on_box_1', 'box_1'])
    t = scene.truth['can_on_box_1']['size']
    h = res.sizes['can_on_box_1'][1]
    assert h == pytest.approx(t[1], rel=0.25)  # was 94 % too tall: measured from the table


def test_tabletop_sizes_are_not_shrunk():
    """Over a few tabletops the median signed size error is near zero (no systematic shrinkage)."""
    errs = []
    for seed in (0, 1, 2, 3):
        scene = make_scene(seed, 'tabletop')
        names = [n for n, t in scene.truth.items()
                 if t['pixels'] >= 300 and not t['touches_border'] and t['visible_share'] >= 0.6]
        res = _measure(scene, names)
        for n in names:
            t = scene.truth[n]['size']
            errs.extend((res.sizes[n] - t) / t)
    assert len(errs) >= 30
    assert abs(float(np.median(errs))) < 0.03
    assert float(np.median(np.abs(errs))) < 0.08


def _errors(seeds, kind):
    """(N, 3) relative (width, height, depth) errors of the measurable objects of ``kind``."""
    out = []
    for seed in seeds:
        scene = make_scene(seed, 'tabletop')
        names = [n for n, t in scene.truth.items()
                 if t['pixels'] >= 300 and not t['touches_border'] and t['visible_share'] >= 0.6]
        res = _measure(scene, names)
        out += [(res.sizes[n] - scene.truth[n]['size']) / scene.truth[n]['size']
                for n in names if scene.truth[n]['kind'] == kind]
    return np.array(out)


def test_objects_under_4_cm_tall_stand_on_the_table():
    """Sponges and lids 1.5-4 cm tall with bled masks: they touch the table, so their bottom is the
    table (they were judged hanging, the table beside them inside their bounding square, and came
    out ~20 % too tall)."""
    err = _errors((5001, 5003, 5005, 5007, 5008, 5010), 'small')
    assert len(err) >= 5
    assert float(np.median(np.abs(err[:, 1]))) < 0.05, err.round(3)


def test_a_bottles_back_hidden_behind_its_neck_is_completed():
    """The top of a bottle is its neck: its outline does not bound the body, whose far side lies
    hidden; the body is as deep as wide (it came out ~20 % too shallow)."""
    err = _errors((5004, 5009, 5016, 5019), 'bottle')
    assert len(err) >= 4
    assert float(np.median(np.abs(err[:, 2]))) < 0.06, err.round(3)


def test_a_cabinet_against_the_wall_with_its_top_out_of_view_is_as_deep_as_the_wall_allows():
    """Room 1036: the camera below the cabinet's top sees the wall above it past a band of flying
    pixels (which once hid the wall: the cabinet came out as deep as wide, +21 %); the footprint
    is square to that wall."""
    scene = make_scene(1036, 'room')
    res = _measure(scene, ['cabinet'])
    truth = scene.truth['cabinet']['size']
    err = (res.sizes['cabinet'] - truth) / truth
    assert abs(err[2]) < 0.05, err.round(3)


def test_the_footprint_against_a_wall_is_square_to_it():
    from spatialvlm_ros.core.lifting.support import _far_against_wall

    # A 0.4 x 0.8 footprint against the wall forward = 3 + 0.5 right, seen from the origin: its
    # corners on the wall at along-wall 0 and 0.8, 0.4 out towards the camera.
    along = np.array([1.0, 0.5]) / np.hypot(1.0, 0.5)
    out = np.array([0.5, -1.0]) / np.hypot(1.0, 0.5)
    base = np.array([0.0, 3.0])
    s, t = np.meshgrid(np.linspace(0.0, 0.8, 41), np.linspace(0.0, 0.4, 21))
    pts = base + s.reshape(-1, 1) * along + t.reshape(-1, 1) * out
    visible = pts[(t.ravel() > 0.35) | (s.ravel() < 0.02)]  # the front face and one side
    far = _far_against_wall(visible, (3.0, 0.5), (0.0, 100.0))
    assert abs(far - float((base + 0.8 * along)[1])) < 1e-6


def test_an_open_top_is_measured_at_its_rim():
    """A bowl's top is a rim round its hollow: the band about the top holds the surfaces falling
    away on both sides, and its median lay 2-5 mm below the crest (heights 4-7 % short)."""
    err = _errors((5018, 5020, 5022, 15), 'bowl')
    assert len(err) >= 5
    assert float(np.median(err[:, 1])) > -0.025, err.round(3)
    assert float(np.median(np.abs(err[:, 1]))) < 0.03, err.round(3)


def test_the_hollow_share_of_a_flat_top_is_nil_and_of_a_rim_large():
    from spatialvlm_ros.core.lifting.support import _hollow_share

    rows, cols = np.mgrid[0:40, 0:40]
    r = np.hypot(rows - 20, cols - 20)
    vs, us = np.nonzero(r <= 15)
    flat = np.full(len(vs), 0.10)  # a round flat top at 10 cm
    cap = np.ones(len(vs), bool)
    assert _hollow_share((40, 40), vs, us, cap, flat, 0.10, 0.006) == 0.0
    rim = np.where(r[vs, us] > 12, 0.10, 0.06)  # a 3 px rim round a hollow 4 cm deep
    cap = rim > 0.09
    assert _hollow_share((40, 40), vs, us, cap, rim, 0.10, 0.006) > 0.5
