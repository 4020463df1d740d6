"""The package's configuration files (``config/``): node parameter defaults and tasks, found in an
installed package's share directory or in the source tree."""

from __future__ import annotations

from pathlib import Path

__all__ = ['config_dir', 'load_defaults']


def config_dir() -> Path:
    """``share/spatialvlm_ros/config`` of an installed package, else the source tree's ``config/``."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            share = Path(get_package_share_directory('spatialvlm_ros')) / 'config'
            if share.is_dir():
                return share
        except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH unset (no sourced install)
            pass
    except ImportError:
        pass
    src = Path(__file__).resolve().parents[2] / 'config'
    if src.is_dir():
        return src
    msg = 'cannot find the spatialvlm_ros config directory; build with colcon or run from the source tree'
    raise FileNotFoundError(msg)


def load_defaults(file_name: str, node_name: str) -> dict:
    """The ``ros__parameters`` of ``node_name`` in ``config/<file_name>``."""
    path = config_dir() / file_name
    import yaml

    doc = yaml.safe_load(path.read_text())
    try:
        return dict(doc[node_name]['ros__parameters'])
    except (KeyError, TypeError) as err:
        raise KeyError(f'{path} has no {node_name}: ros__parameters: section') from err
