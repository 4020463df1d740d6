"""Encoders written from ROS image_transport_plugins (rolling): compressed_image_transport's
compressed_publisher.cpp (format strings, BGR payloads), compressed_depth_image_transport's codec.cpp
(12-byte ConfigHeader, inverse-depth quantisation) and rvl_codec.cpp (Wilson's RVL), ported literally:
the test vectors of messages.compressed and the live transports."""

from __future__ import annotations

import struct

import cv2
import numpy as np



def encode_color(rgb_or_mono: np.ndarray, encoding: str, codec: str, quality: int = 90) -> tuple[str, bytes]:
    """compressed_publisher.cpp: format "<enc>; <codec> compressed <target>", colour sent as bgr8."""
    colour = encoding in ('rgb8', 'bgr8', 'rgba8', 'bgra8')
    img = rgb_or_mono
    if encoding == 'rgb8':
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    elif encoding == 'rgba8':
        img = cv2.cvtColor(img, cv2.COLOR_RGBA2BGR)
    elif encoding == 'bgra8':
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if codec == 'jpeg':
        target = 'bgr8' if colour else 'mono8'
        if img.dtype == np.uint16:  # cv_bridge toCvShare(..., 'mono8') scales 16 -> 8 bit
            img = (img // 256).astype(np.uint8)
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        fmt = f'{encoding}; jpeg compressed {target}'
    else:
        ok, buf = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        fmt = f'{encoding}; png compressed ' + ('bgr8' if colour else '')
    assert ok
    return fmt, buf.tobytes()


def rvl_compress(pixels: np.ndarray) -> bytes:
    """rvl_codec.cpp CompressRVL, line by line (int32 words of 4-bit nibbles, most significant first)."""
    data = [int(v) for v in pixels.reshape(-1)]
    words: list[int] = []
    state = {'word': 0, 'n': 0}

    def vle(value: int) -> None:
        while True:
            nibble = value & 0x7
            value >>= 3
            if value:
                nibble |= 0x8
            state['word'] = ((state['word'] << 4) | nibble) & 0xFFFFFFFF
            state['n'] += 1
            if state['n'] == 8:
                words.append(state['word'])
                state['word'], state['n'] = 0, 0
            if not value:
                break

    i, end, previous = 0, len(data), 0
    while i != end:
        zeros = 0
        while i != end and not data[i]:
            i += 1
            zeros += 1
        vle(zeros)
        nonzeros = 0
        while i + nonzeros != end and data[i + nonzeros]:
            nonzeros += 1
        vle(nonzeros)
        for _ in range(nonzeros):
            current = data[i]
            i += 1
            delta = current - previous
            vle(((delta << 1) ^ (delta >> 31)) & 0xFFFFFFFF)
            previous = current
    if state['n']:
        words.append((state['word'] << 4 * (8 - state['n'])) & 0xFFFFFFFF)
    return np.asarray(words, dtype='<u4').tobytes()


QUANT_DEFAULTS = {'depth_max': 10.0, 'depth_quantization': 100.0}  # compressed_depth_publisher.cpp


def quant_params(depth_max: float = 10.0, depth_quantization: float = 100.0) -> tuple[np.float32, np.float32]:
    z0, dmax = np.float32(depth_quantization), np.float32(depth_max)
    a = np.float32(z0 * (z0 + np.float32(1.0)))
    return a, np.float32(np.float32(1.0) - a / dmax)


def encode_depth(depth: np.ndarray, encoding: str, codec: str = 'png', depth_max: float = 10.0,
                 depth_quantization: float = 100.0) -> tuple[str, bytes]:
    """codec.cpp encodeCompressedDepthImage: ConfigHeader{INV_DEPTH, A, B} + PNG or (cols, rows, RVL)."""
    a = b = np.float32(0)
    if encoding == '32FC1':
        a, b = quant_params(depth_max, depth_quantization)
        d = depth.astype(np.float32)
        with np.errstate(divide='ignore', invalid='ignore'):
            x = a / d + b  # float32, as the C++
            keep = d < np.float32(depth_max)  # NaN compares false: 0
        img = np.where(keep, np.trunc(np.nan_to_num(x, nan=0.0, posinf=0.0)), 0).astype(np.uint16)
    else:
        img = depth.copy()
        img[img > np.uint16(depth_max * 1000.0)] = 0
    if codec == 'png':
        ok, buf = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        assert ok
        payload = buf.tobytes()
    else:
        payload = struct.pack('<II', img.shape[1], img.shape[0]) + rvl_compress(img)
    return f'{encoding}; compressedDepth {codec}', struct.pack('<iff', 0, a, b) + payload
