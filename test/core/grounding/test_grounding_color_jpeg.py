"""The colour grounder on JPEG colour (4:2:0 chroma subsampling, as the ``compressed`` image transport
writes it with cv::imencode): boundary pixels re-decided from their luma (``jpeg_edges``) keep the
masks of the raw image, and raw or PNG images are left exactly as thresholded."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import ColorGrounder, ColorGrounderConfig, ObjectQuery
from spatialvlm_ros.core.types import Frame, Intrinsics
from support.tabletop import iou, tabletop

QUERIES = [ObjectQuery('block', 'red block'), ObjectQuery('target', 'blue target')]
# the dataclass defaults, and the spatial_facts node's (config/spatial_facts.yaml)
CONFIGS = [{}, {'min_saturation': 100, 'min_value': 60}]
# sub-pixel positions of the scene: where its edges fall on the 2x2 chroma blocks
OFFSETS = [(dy, dx) for dy in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5) for dx in (0.0, 0.5)]


def block_over_target(dy: float = 0.0, dx: float = 0.0, strip: bool = False) -> np.ndarray:
    """A sim-like render (4x supersampled, so edges are anti-aliased) of a red block held just above
    a blue target on a shaded grey table: the block's bright top face, its darker side face, whose
    bottom edge touches the target. ``strip``: a 2 px darker grey strip along the block's top edge
    (a third colour between the block and the table)."""
    h, w, s = 120, 160, 4
    yy, xx = np.mgrid[0 : h * s, 0 : w * s] / s
    big = np.empty((h * s, w * s, 3), np.float32)
    big[:] = (150 + 20 * yy / h)[..., None]

    def box(y0, y1, x0, x1, colour):
        big[(yy >= y0 + dy) & (yy < y1 + dy) & (xx >= x0 + dx) & (xx < x1 + dx)] = colour

    if strip:
        box(28, 30, 60, 100, (112, 112, 112))
    box(62, 92, 40, 120, (19, 73, 255))  # target
    box(30, 45, 60, 100, (255, 15, 15))  # block top face
    box(45, 62, 60, 100, (127, 6, 6))  # block side face, its bottom edge on the target's top edge
    return np.clip(np.rint(cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)), 0, 255).astype(np.uint8)


def encode(rgb: np.ndarray, ext: str = '.jpg', quality: int = 90) -> np.ndarray:
    """``rgb`` through cv2.imencode / imdecode (JPEG: OpenCV's default 4:2:0 chroma subsampling)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == '.jpg' else []
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def frame(rgb: np.ndarray) -> Frame:
    h, w = rgb.shape[:2]
    return Frame(rgb=rgb, depth=np.ones((h, w), np.float32), intrinsics=Intrinsics(100.0, 100.0, w / 2, h / 2, w, h))


def rows(mask: np.ndarray) -> tuple[int, int, float]:
    """Top row, bottom row and mean row of a mask."""
    ys = np.nonzero(mask)[0]
    return int(ys.min()), int(ys.max()), float(ys.mean())


@pytest.mark.parametrize('config', CONFIGS)
def test_jpeg_block_above_target_keeps_its_bottom_row(config):
    """JPEG blends the target's chroma into the block's bottom row (magenta: not red), which dropped
    out and moved the mask up by ~0.5-1 px; its luma is the block's, so it is kept. The raw image's
    thresholded mask is the reference, for every position of the edges on the chroma blocks."""
    new, old = ColorGrounder(ColorGrounderConfig(**config)), ColorGrounder(ColorGrounderConfig(jpeg_edges=False, **config))
    old_bottoms_lost, old_shift = 0, 0.0
    for dy, dx in OFFSETS:
        rgb = block_over_target(dy, dx)
        raw = old.ground(frame(rgb), QUERIES)
        jpeg = encode(rgb)
        got, before = new.ground(frame(jpeg), QUERIES), old.ground(frame(jpeg), QUERIES)
        top, bottom, mean = rows(raw['block'])
        got_top, got_bottom, got_mean = rows(got['block'])
        assert got_bottom == bottom, (dy, dx)
        assert abs(got_mean - mean) <= 0.15, (dy, dx, got_mean - mean)
        assert abs(rows(got['target'])[2] - rows(raw['target'])[2]) <= 0.25, (dy, dx)
        assert int((got['block'] ^ raw['block']).sum()) <= 45, (dy, dx)  # of ~1400 px, one 40 px row at most
        old_bottoms_lost += rows(before['block'])[1] < bottom
        old_shift = max(old_shift, abs(rows(before['block'])[2] - mean))
    # without jpeg_edges the JPEG mask loses the bottom row in most positions, moving up by >= 0.5 px
    assert old_bottoms_lost >= len(OFFSETS) // 2 and old_shift >= 0.5


@pytest.mark.parametrize('config', CONFIGS)
def test_raw_and_png_images_are_left_as_thresholded(config):
    """On images with sharp chroma (raw, PNG: lossless) the masks are exactly the thresholded ones:
    the anti-aliased synthetic scenes, the noisy tabletop, a third-colour strip."""
    new, old = ColorGrounder(ColorGrounderConfig(**config)), ColorGrounder(ColorGrounderConfig(jpeg_edges=False, **config))
    images = [block_over_target(dy, dx) for dy, dx in OFFSETS[::3]] + [block_over_target(0.5, 0.0, strip=True)]
    images += [encode(images[0], '.png'), tabletop()[0].rgb, tabletop(seed=3)[0].rgb]
    queries = QUERIES + [ObjectQuery('gripper', 'yellow gripper')]
    for rgb in images:
        got, want = new.ground(frame(rgb), queries), old.ground(frame(rgb), queries)
        for name in want:
            assert (got[name] is None) == (want[name] is None), name
            if want[name] is not None:
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize('config', CONFIGS)
def test_jpeg_third_colour_strip_is_not_taken_for_the_block(config):
    """A darker grey strip along the block's top edge is neither the block nor the table: its luma
    lies between theirs, as a blend's would, but its chroma does not fit a blend of the two, so it
    is left as thresholded (not added to the block)."""
    new, old = ColorGrounder(ColorGrounderConfig(**config)), ColorGrounder(ColorGrounderConfig(jpeg_edges=False, **config))
    for dy in (0.0, 0.5, 1.0, 1.5):
        rgb = block_over_target(dy, 0.0, strip=True)
        top = rows(old.ground(frame(rgb), QUERIES)['block'])[0]
        jpeg = encode(rgb)
        got, before = new.ground(frame(jpeg), QUERIES)['block'], old.ground(frame(jpeg), QUERIES)['block']
        assert rows(got)[0] >= min(top, rows(before)[0]), dy  # no row above what thresholds give
        assert not got[: top - 1].any(), dy  # nothing of the strip's upper row


def test_jpeg_tabletop_masks_stay_as_good():
    """The noisy tabletop scene (analytic masks): JPEG colour grounds as well as the raw image."""
    rgb, truth = tabletop()[0].rgb, tabletop()[1]
    queries = QUERIES[:1] + [ObjectQuery('target', 'blue sphere'), ObjectQuery('gripper', 'yellow gripper')]
    raw = ColorGrounder().ground(frame(rgb), queries)
    jpeg = encode(rgb)
    got = ColorGrounder().ground(frame(jpeg), queries)
    before = ColorGrounder(ColorGrounderConfig(jpeg_edges=False)).ground(frame(jpeg), queries)
    for name in raw:
        assert iou(got[name], truth[name]) >= min(iou(raw[name], truth[name]), iou(before[name], truth[name])) - 0.005, name


def test_jpeg_options_are_validated():
    assert ColorGrounderConfig().jpeg_edges is True and ColorGrounderConfig().jpeg_luma_tolerance == 3.0
    with pytest.raises(GroundingError, match='jpeg_edges: expected a bool'):
        ColorGrounderConfig(jpeg_edges=1)
    for bad in (0, -1.0, 40.0, True, 'x'):
        with pytest.raises(GroundingError, match=r'jpeg_luma_tolerance: expected luma levels in \(0, 32\]'):
            ColorGrounderConfig(jpeg_luma_tolerance=bad)
    assert ColorGrounderConfig(jpeg_luma_tolerance=5).jpeg_luma_tolerance == 5
