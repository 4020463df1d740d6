"""core.types: intrinsics validation and scaling."""
import pytest
from spatialvlm_ros.core.errors import FrameError
from spatialvlm_ros.core.types import Intrinsics


def test_intrinsics_validation_and_scaling():
    with pytest.raises(FrameError, match='positive'):
        Intrinsics(0.0, 0.0, 1.0, 1.0, 10, 10)
    k = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480).scaled(320, 240)
    assert (k.fx, k.cx, k.cy) == pytest.approx((250.0, 159.5, 119.5))
