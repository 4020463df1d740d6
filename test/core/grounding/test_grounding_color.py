"""Grounding on a synthetic tabletop image with analytic masks, and the mask grounder."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import GROUNDERS, ColorGrounder, ColorGrounderConfig, Grounder, MaskGrounder, ObjectQuery, make_grounder, parse_color
from spatialvlm_ros.core.types import Frame, Intrinsics
import cv2
from support.tabletop import H, K, W, iou, tabletop


QUERIES = [
    ObjectQuery('block', 'red block'),
    ObjectQuery('target', 'the blue target'),
    ObjectQuery('gripper', 'yellow gripper'),
]


def test_color_grounder_finds_each_object():
    frame, truth = tabletop()
    out = ColorGrounder().ground(frame, QUERIES)
    assert set(out) == {'block', 'target', 'gripper'}
    for name, mask in out.items():
        assert mask.dtype == np.bool_ and mask.shape == (H, W)
        assert iou(mask, truth[name]) > 0.9, (name, iou(mask, truth[name]))


def test_largest_component_drops_specks():
    frame, truth = tabletop()
    rgb = frame.rgb.copy()
    rgb[20:26, 600:606] = (230, 30, 25)  # a red speck far from the block
    rgb[440:444, 20:24] = (230, 30, 25)
    speckled = Frame(rgb=rgb, depth=frame.depth, intrinsics=K)
    kept = ColorGrounder().ground(speckled, QUERIES[:1])['block']
    assert not kept[20:26, 600:606].any() and iou(kept, truth['block']) > 0.9
    everything = ColorGrounder(ColorGrounderConfig(keep_largest_component=False)).ground(speckled, QUERIES[:1])['block']
    assert everything[20:26, 600:606].all()
    # both gripper fingers are kept by default; with ratio 1 only the largest component is
    fingers = ColorGrounder().ground(frame, QUERIES[2:])['gripper']
    assert iou(fingers, truth['gripper']) > 0.9
    one = ColorGrounder(ColorGrounderConfig(component_keep_ratio=1.0)).ground(frame, QUERIES[2:])['gripper']
    assert iou(one, truth['gripper']) < 0.6


def test_red_wraps_around_hue_zero():
    rgb = np.full((H, W, 3), 128, np.uint8)
    rgb[100:200, 100:200] = (220, 40, 20)  # hue ~3 (OpenCV units)
    rgb[100:200, 200:300] = (220, 20, 50)  # hue ~175
    frame = Frame(rgb=rgb, depth=np.ones((H, W), np.float32), intrinsics=K)
    mask = ColorGrounder().ground(frame, [ObjectQuery('r', 'red')])['r']
    assert mask[100:200, 100:300].all() and mask.sum() == 100 * 200


def test_achromatic_colours():
    rgb = np.full((H, W, 3), 128, np.uint8)  # gray background
    rgb[:, :200] = 240  # white
    rgb[400:, 300:] = 15  # black
    frame = Frame(rgb=rgb, depth=np.ones((H, W), np.float32), intrinsics=K)
    g = ColorGrounder(ColorGrounderConfig(keep_largest_component=False))
    queries = [ObjectQuery('w', 'white table'), ObjectQuery('k', 'black mount'), ObjectQuery('g', 'grey wall')]
    out = g.ground(frame, queries)
    assert out['w'].sum() == H * 200 and out['w'][:, :200].all()
    assert out['k'].sum() == 80 * 340
    assert out['g'].sum() == H * W - H * 200 - 80 * 340


def test_absent_colour_is_none_not_an_error():
    frame, _ = tabletop()
    assert ColorGrounder().ground(frame, [ObjectQuery('cube', 'green cube')]) == {'cube': None}


@pytest.mark.parametrize(
    'prompt, color',
    [('red block', 'red'), ('the Blue target', 'blue'), ('yellow gripper', 'yellow'), ('violet cup', 'purple'),
     ('pink-ish ball', 'magenta'), ('grey table', 'gray'), ('an orange', 'orange'), ('cyan marker', 'cyan')],
)
def test_parse_color(prompt, color):
    assert parse_color(prompt) == color


def test_unknown_or_ambiguous_colour_raises():
    frame, _ = tabletop()
    with pytest.raises(GroundingError, match=r"names no colour .*supported colours: .*red.*instance-mask grounder"):
        ColorGrounder().ground(frame, [ObjectQuery('mug', 'coffee mug')])
    with pytest.raises(GroundingError, match=r'names several colours \(red, blue\)'):
        parse_color('red block on the blue target')


def test_config_validation_and_registry():
    with pytest.raises(GroundingError, match=r'min_saturation: expected an integer in \[0, 255\], got 300'):
        ColorGrounderConfig(min_saturation=300)
    with pytest.raises(GroundingError, match='min_pixels: expected an integer >= 1'):
        ColorGrounderConfig(min_pixels=0)
    with pytest.raises(GroundingError, match=r"unknown grounder kind 'sam'; known kinds: \['color', 'grounding_dino', 'mask', 'owlv2'\]"):
        make_grounder('sam')
    with pytest.raises(GroundingError, match=r"unknown option\(s\) \['min_pix'\] for grounder 'color'"):
        make_grounder('color', min_pix=3)
    g = make_grounder('color', min_pixels=5)
    assert isinstance(g, ColorGrounder) and g.config.min_pixels == 5 and isinstance(g, Grounder)
    assert GROUNDERS['mask'] is MaskGrounder
    with pytest.raises(GroundingError, match='query names must be unique'):
        ColorGrounder().ground(tabletop()[0], [ObjectQuery('a', 'red'), ObjectQuery('a', 'blue')])
    with pytest.raises(GroundingError, match='empty prompt'):
        ObjectQuery('a', ' ')


# --- mask grounder ---------------------------------------------------------------------------


def test_colour_grounder_equals_full_image_thresholds_also_for_one_pixel_wide_parts():
    """The coarse-then-box search finds exactly what thresholding the whole image finds,
    including a one-pixel-wide arm that runs between the sampled pixels out of the coarse box."""
    rng = np.random.default_rng(0)
    rgb = np.full((120, 160, 3), 128, np.uint8)
    rgb += rng.integers(0, 20, size=rgb.shape, dtype=np.uint8)  # grey, unsaturated table
    rgb[40:60, 50:70] = (220, 30, 30)  # red block
    rgb[10:41, 61] = (220, 30, 30)  # 1-px arm on an odd column, above the block
    rgb[70:72, 100:104] = (230, 40, 20)  # small red speck elsewhere (dropped: < 30 % of the block)
    rgb[0:30, 150:160] = (30, 30, 220)  # blue marker at the image corner
    rgb[118, 0:159:2] = (230, 220, 20)  # dotted yellow line: 80 one-pixel components, all kept
    grounder = ColorGrounder()
    queries = [ObjectQuery('block', 'red block'), ObjectQuery('target', 'blue target'),
               ObjectQuery('line', 'yellow line'), ObjectQuery('none', 'green thing')]
    got = grounder.ground(_frame(rgb), queries)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    for q in queries:
        want = grounder.color_mask(hsv, q.prompt.split()[0])
        assert (want is None) == (got[q.name] is None), q.name
        if want is not None:
            np.testing.assert_array_equal(got[q.name], want, err_msg=q.name)
    assert got['none'] is None and got['line'].sum() == 80
    assert got['block'][10:40, 61].all() and not got['block'][70:72, 100:104].any()
    assert got['target'].sum() == 300


@pytest.fixture(scope='module')
def sim_frames():
    pytest.importorskip('mujoco')
    from spatialvlm_ros.sim import iter_episode

    return [_frame(f.rgb) for f in iter_episode(seed=0, frames=40, width=320, height=240)][::4]


def test_colour_grounder_equals_full_image_thresholds_on_sim_frames(sim_frames):
    grounder = ColorGrounder()
    queries = [ObjectQuery('gripper', 'yellow gripper'), ObjectQuery('block', 'red block'),
               ObjectQuery('target', 'blue target')]
    for frame in sim_frames:
        got = grounder.ground(frame, queries)
        hsv = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2HSV)
        for q in queries:
            want = grounder.color_mask(hsv, q.prompt.split()[0])
            assert want is not None and got[q.name] is not None
            np.testing.assert_array_equal(got[q.name], want)


def _frame(rgb: np.ndarray) -> Frame:
    h, w = rgb.shape[:2]
    return Frame(rgb=rgb, depth=np.ones((h, w), np.float32), intrinsics=Intrinsics(500.0, 500.0, w / 2, h / 2, w, h),
                 stamp_ns=0, frame_id='cam')
