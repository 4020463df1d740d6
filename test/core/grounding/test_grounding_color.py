"""Grounding on a synthetic tabletop image with analytic masks, and the mask grounder."""

from __future__ import annotations

import numpy as np
import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import (
    GROUNDERS,
    ColorGrounder,
    ColorGrounderConfig,
    Grounder,
    MaskGrounder,
    MaskGrounderConfig,
    ObjectQuery,
    make_grounder,
    parse_color,
)
from spatialvlm_ros.core.types import Frame, Intrinsics

H, W = 480, 640
K = Intrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=W, height=H)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def tabletop(seed: int = 0):
    """A MuJoCo-like render: shaded red block, blue sphere with a highlight, yellow fingers, grey table.

    Returns (frame, {name: analytic HxW bool mask}).
    """
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    # light grey table with a lighting gradient and sensor noise
    img = np.empty((H, W, 3))
    img[:] = (200 + 30 * (v / H))[..., None]
    masks = {}
    # red block: a front face and a brighter top face (different shading, same hue)
    top = (u >= 140) & (u < 240) & (v >= 250) & (v < 280)
    front = (u >= 140) & (u < 240) & (v >= 280) & (v < 360)
    img[top] = (230, 30, 25)
    img[front] = np.array([230, 30, 25]) * (0.55 + 0.2 * (u[front] - 140) / 100)[:, None]
    masks['block'] = top | front
    # blue sphere with Lambertian shading and a specular highlight
    r2 = ((u - 430) ** 2 + (v - 200) ** 2) / 55.0**2
    sphere = r2 <= 1
    shade = np.sqrt(np.clip(1 - r2, 0, 1)) * 0.6 + 0.35
    blue = np.array([25, 45, 210])[None] * shade[sphere][:, None]
    spot = np.exp(-(((u - 415) ** 2 + (v - 185) ** 2) / 12.0**2))[sphere][:, None] * 0.35
    img[sphere] = blue * (1 - spot) + 255 * spot
    masks['target'] = sphere
    # two yellow gripper fingers
    fingers = ((u >= 300) & (u < 318) | (u >= 342) & (u < 360)) & (v >= 60) & (v < 150)
    img[fingers] = (225, 200, 30)
    masks['gripper'] = fingers
    img += rng.normal(0, 3, img.shape)
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    depth = np.full((H, W), 0.8, np.float32)
    return Frame(rgb=rgb, depth=depth, intrinsics=K, stamp_ns=1), masks


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


def _label_image():
    lab = np.zeros((H, W), np.int32)
    lab[100:200, 100:200] = 3
    lab[300:310, 300:305] = 7  # 50 px
    return lab


def test_mask_grounder_from_label_image():
    frame, _ = tabletop()
    g = MaskGrounder(MaskGrounderConfig(labels={'box': 3}, min_pixels=60))
    g.set_masks(label_image=_label_image())
    out = g.ground(frame, [ObjectQuery('box', 'cardboard box'), ObjectQuery('three', '3'), ObjectQuery('small', '7'),
                           ObjectQuery('none', '9')])
    assert out['box'].sum() == 100 * 100 and (out['box'] == out['three']).all()
    assert out['small'] is None and out['none'] is None  # 50 px < min_pixels, label absent


def test_mask_grounder_from_binary_masks():
    frame, truth = tabletop()
    g = make_grounder('mask')
    g.set_masks(masks={'block': truth['block'].astype(np.uint8)})
    out = g.ground(frame, [ObjectQuery('block', 'anything')])
    assert (out['block'] == truth['block']).all() and out['block'].dtype == np.bool_
    with pytest.raises(GroundingError, match="no mask for query 'target'"):
        g.ground(frame, [ObjectQuery('target', 'x')])


def test_mask_grounder_errors():
    frame, _ = tabletop()
    g = MaskGrounder()
    with pytest.raises(GroundingError, match='has no segmentation for this frame; call set_masks'):
        g.ground(frame, [ObjectQuery('a', '1')])
    g.set_masks(label_image=np.zeros((240, 320), np.int32))
    with pytest.raises(GroundingError, match=r'label_image is 320x240 \(WxH\) but the frame is 640x480') as err:
        g.ground(frame, [ObjectQuery('a', '1')])
    assert err.value.kind == 'size_mismatch'
    g.set_masks(masks={'a': np.ones((480, 641), bool)})
    with pytest.raises(GroundingError, match=r"mask of 'a' is 641x480 \(WxH\) but the frame is 640x480"):
        g.ground(frame, [ObjectQuery('a', '1')])
    g.set_masks(label_image=_label_image())
    with pytest.raises(GroundingError, match="needs a label id, but the prompt is 'red block'"):
        g.ground(frame, [ObjectQuery('a', 'red block')])
    with pytest.raises(GroundingError, match='label_image must be an integer image'):
        g.set_masks(label_image=np.zeros((H, W), np.float32))
    with pytest.raises(GroundingError, match=r"labels\['a'\]: expected an integer label id"):
        MaskGrounderConfig(labels={'a': 'three'})
