"""The mask grounder, from label images and binary masks."""
from __future__ import annotations
import numpy as np
import pytest
from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import MaskGrounder, MaskGrounderConfig, ObjectQuery, make_grounder
from support.tabletop import H, W, tabletop


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
