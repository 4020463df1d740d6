"""The debug image (``messages.debug_image.draw_debug``): each found object's mask tinted half-way to its colour
with its bounding box, its name and depth by its projected centre, and the distance between each pair on a line;
checked pixel by pixel on a grey image."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('cv2')

from spatialvlm_ros.core.types import Frame, Intrinsics, ObjectObservation, SpatialFact  # noqa: E402
from spatialvlm_ros.messages.debug_image import draw_debug  # noqa: E402

K = Intrinsics(fx=200.0, fy=200.0, cx=159.5, cy=119.5, width=320, height=240)
GREY = 100
RED, BLUE = (230, 50, 50), (50, 100, 240)  # the first two object colours


def _frame():
    return Frame(np.full((240, 320, 3), GREY, np.uint8), np.ones((240, 320), np.float32), K)


def _obs(name, center, rows, cols):
    mask = np.zeros((240, 320), bool)
    mask[rows, cols] = True
    c = np.array(center, float)
    return ObjectObservation(name=name, center=c, extent=np.zeros(3), points=np.zeros((10, 3), np.float32),
                             pixel_count=int(mask.sum()), mask=mask)


def _objects():
    # centres project to (59.5 + 0.5, 119.5 + 0.5) = (60, 120) and (260, 120)
    return {'block': _obs('block', [-0.5, 0.0025, 1.0], slice(100, 140), slice(40, 80)),
            'target': _obs('target', [0.5025, 0.0025, 1.0], slice(100, 140), slice(240, 280)),
            'gripper': None}


def _tint(colour):
    return tuple(int(0.5 * GREY + 0.5 * c) for c in colour)


def test_masks_are_tinted_and_boxed_in_the_objects_colours():
    img = draw_debug(_frame(), _objects())
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    assert tuple(img[105, 45]) == _tint(RED) and tuple(img[135, 75]) == _tint(RED)  # inside the block's mask
    assert tuple(img[105, 245]) == _tint(BLUE)
    assert tuple(img[100, 60]) == RED and tuple(img[139, 60]) == RED and tuple(img[120, 40]) == RED  # its box
    assert tuple(img[120, 279]) == BLUE
    assert tuple(img[120, 60]) == RED  # the centre dot
    # nothing else is drawn without facts: far from both objects the image is untouched
    # (text widths differ by a few pixels between OpenCV 4.x and 5.x: the label may reach column ~155)
    assert (img[:80] == GREY).all() and (img[160:] == GREY).all() and (img[:, 160:235] == GREY).all()
    assert (_frame().rgb == GREY).all()  # the frame itself is not drawn on


def test_the_name_and_depth_are_written_by_the_centre():
    img = draw_debug(_frame(), _objects())
    label = img[96:116, 66:160]  # right of and above the block's centre (60, 120): 'block 1.00m'
    assert ((label >= 200).all(axis=-1)).sum() > 30  # white text, anti-aliased (254 in OpenCV 4.x)


def test_a_distance_fact_draws_a_line_and_its_value():
    fact = SpatialFact('distance', 'block', 'target', 1.0025, 'm', 'cam')
    img = draw_debug(_frame(), _objects(), [fact])
    without = draw_debug(_frame(), _objects())
    # the white line between the centres, left of the value text (which crosses it in OpenCV 4.x)
    assert (img[119:122, 82:150].min(axis=-1).max(axis=0) > 200).all()
    assert (without[119:122, 140:235] == GREY).all()
    green = (np.abs(img.astype(int) - (120, 255, 120)).max(axis=-1) <= 40)
    assert green[105:121, 150:230].sum() > 30  # '100.2 cm' at the midpoint (160, 120)
    assert green.sum() == green[105:121, 150:230].sum()
    assert not (np.abs(without.astype(int) - (120, 255, 120)).max(axis=-1) <= 40).any()
    # a fact about an object not found, or a non-distance fact, draws nothing more
    others = [SpatialFact('distance', 'block', 'gripper', 0.3, 'm', 'cam'),
              SpatialFact('left_of', 'block', 'target', 1.0, 'm', 'cam', holds=True)]
    np.testing.assert_array_equal(draw_debug(_frame(), _objects(), others), without)


def test_an_object_behind_the_camera_gets_its_mask_but_no_centre():
    objects = {'block': _obs('block', [0.0, 0.0, -1.0], slice(100, 140), slice(40, 80))}
    img = draw_debug(_frame(), objects)
    assert tuple(img[120, 60]) == _tint(RED)  # mask tint only: no centre dot, no label
    assert ((img == 255).all(axis=-1)).sum() == 0
