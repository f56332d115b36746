"""Byte-reproducible .npz writing for the fixture generators."""

import io
import zipfile

import numpy as np


def write_npz(path, arrays, order=None):
    """np.savez_compressed, but with a fixed zip timestamp and attributes, the arrays in
    `sorted(arrays, key=order)` order: two runs give byte-identical files."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for k in sorted(arrays, key=order):
            bio = io.BytesIO()
            np.lib.format.write_array(bio, np.ascontiguousarray(arrays[k]), allow_pickle=False)
            zi = zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, bio.getvalue(), compresslevel=9)
