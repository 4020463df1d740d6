"""reward.png of a labelled bag (``offline.plot``) from given rows: the labelled reward in the top panel, failed
frames marked, each stage's distance in the bottom one; with the simulator's ground truth, the demo's plot."""
from __future__ import annotations

import pytest

pytest.importorskip('matplotlib')
cv2 = pytest.importorskip('cv2')
import numpy as np  # noqa: E402

from spatialvlm_ros.offline import resolve_task  # noqa: E402
from spatialvlm_ros.offline.plot import plot_labelled_rewards  # noqa: E402

ORANGE, RED, BLUE = (255, 127, 14), (214, 39, 40), (31, 119, 180)  # tab:orange, tab:red, C0 (the first stage)


@pytest.fixture(scope='module')
def task():
    return resolve_task(None)[1]


def _rows(n=30, failed=()):
    rows = []
    for i in range(n):
        d = 0.3 - 0.008 * i
        ok = i not in failed
        rows.append({'stamp_ns': 5_000_000_000 + i * 100_000_000, 'stage': 0 if ok else None,
                     'reward': -d if ok else None, 'distances': {'gripper-block': d} if ok else {},
                     'error_kind': None if ok else 'truncated'})
    return rows


def _pixels(path, colour):
    """(count in the top half, count in the bottom half) of pixels within 12 of ``colour``."""
    rgb = cv2.imread(str(path))[..., ::-1].astype(int)
    near = np.abs(rgb - colour).max(axis=-1) <= 12
    h = near.shape[0] // 2
    return int(near[:h].sum()), int(near[h:].sum())


def test_the_plot_shows_reward_failures_and_distances(task, tmp_path):
    plot_labelled_rewards(tmp_path / 'ok.png', task, _rows())
    img = cv2.imread(str(tmp_path / 'ok.png'))
    assert img.shape == (770, 1100, 3)  # 10 x 7 in at 110 dpi
    top, bottom = _pixels(tmp_path / 'ok.png', ORANGE)
    assert top > 300 and bottom < top / 20  # the reward line, in the top panel (the legend aside)
    assert _pixels(tmp_path / 'ok.png', BLUE)[1] > 300  # the gripper-block distance, in the bottom panel
    assert sum(_pixels(tmp_path / 'ok.png', RED)) == 0
    plot_labelled_rewards(tmp_path / 'failed.png', task, _rows(failed=(10, 11, 12)))
    assert _pixels(tmp_path / 'failed.png', RED)[0] > 20  # the frames not labelled, marked at 0
    # the same rows give the same file
    plot_labelled_rewards(tmp_path / 'again.png', task, _rows())
    assert (tmp_path / 'again.png').read_bytes() == (tmp_path / 'ok.png').read_bytes()


def test_no_rows_still_give_a_plot(task, tmp_path):
    plot_labelled_rewards(tmp_path / 'empty.png', task, [], title='bag empty')
    assert cv2.imread(str(tmp_path / 'empty.png')).shape == (770, 1100, 3)


def test_with_ground_truth_the_labelled_reward_is_plotted_against_it(task, tmp_path):
    rows = _rows()
    gt = [{'stamp_ns': r['stamp_ns'], 'gripper': [0.3 - 0.008 * i, 0, 0.5], 'block': [0, 0, 0.5],
           'target': [0.2, 0.1, 0.5]} for i, r in enumerate(rows)]
    plot_labelled_rewards(tmp_path / 'gt.png', task, rows, ground_truth=gt, title='episode')
    plot_labelled_rewards(tmp_path / 'plain.png', task, rows, title='episode')
    assert cv2.imread(str(tmp_path / 'gt.png')) is not None
    assert (tmp_path / 'gt.png').read_bytes() != (tmp_path / 'plain.png').read_bytes()
