"""FarmHash ``Fingerprint64`` in pure Python: TensorFlow's ``tensorflow::Fingerprint64``.

TensorFlow fingerprints strings with FarmHash's ``Fingerprint64`` (the
``farmhashna::Hash64`` variant, frozen forever as a fingerprint) and combines
fingerprints with ``FingerprintCat64``
(tensorflow/core/platform/fingerprint.h). SavedModel fingerprints
(``fingerprint.pb``) are built from both, so computing one without
TensorFlow needs them here, bit for bit.

Python integers are unbounded: every product and sum is masked back to
64 bits where the C++ code would wrap.

Example:
    >>> fingerprint64(b"")
    11160318154034397263
    >>> fingerprint_cat64(0, fingerprint64(b"x")) != fingerprint64(b"x")
    True
"""
from __future__ import annotations

import struct

__all__ = ["fingerprint64", "fingerprint_cat64"]

_M = 0xFFFFFFFFFFFFFFFF
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F
_CAT_MUL = 0xC6A4A7935BD1E995

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _rot(v: int, s: int) -> int:
    return ((v >> s) | (v << (64 - s))) & _M


def _len16(u: int, v: int, mul: int) -> int:
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _fetch(data, i: int) -> int:
    return _U64.unpack_from(data, i)[0]


def _len0to16(s, n: int) -> int:
    if n >= 8:
        mul = _K2 + n * 2
        a = (_fetch(s, 0) + _K2) & _M
        b = _fetch(s, n - 8)
        c = (_rot(b, 37) * mul + a) & _M
        d = ((_rot(a, 25) + b) * mul) & _M
        return _len16(c, d, mul)
    if n >= 4:
        mul = _K2 + n * 2
        a = _U32.unpack_from(s, 0)[0]
        return _len16(n + (a << 3), _U32.unpack_from(s, n - 4)[0], mul)
    if n > 0:
        a, b, c = s[0], s[n >> 1], s[n - 1]
        y = (a + (b << 8)) & 0xFFFFFFFF
        z = (n + (c << 2)) & 0xFFFFFFFF
        r = ((y * _K2) ^ (z * _K0)) & _M
        return ((r ^ (r >> 47)) * _K2) & _M
    return _K2


def _len17to32(s, n: int) -> int:
    mul = _K2 + n * 2
    a = (_fetch(s, 0) * _K1) & _M
    b = _fetch(s, 8)
    c = (_fetch(s, n - 8) * mul) & _M
    d = (_fetch(s, n - 16) * _K2) & _M
    return _len16((_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M,
                  (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)


def _len33to64(s, n: int) -> int:
    mul = _K2 + n * 2
    a = (_fetch(s, 0) * _K2) & _M
    b = _fetch(s, 8)
    c = (_fetch(s, n - 8) * mul) & _M
    d = (_fetch(s, n - 16) * _K2) & _M
    y = (_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M
    z = _len16(y, (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)
    e = (_fetch(s, 16) * mul) & _M
    f = _fetch(s, 24)
    g = ((y + _fetch(s, n - 32)) * mul) & _M
    h = ((z + _fetch(s, n - 24)) * mul) & _M
    return _len16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M,
                  (e + _rot((f + a) & _M, 18) + g) & _M, mul)


def fingerprint64(data: bytes | bytearray | memoryview) -> int:
    """FarmHash Fingerprint64 of ``data`` (an unsigned 64-bit int), as TensorFlow computes it.

    Equals ``tf.fingerprint([data], method="farmhash64")`` read as a
    little-endian uint64.

    Example:
        >>> hex(fingerprint64(b"hello"))
        '0xb48be5a931380ce8'
    """
    s = bytes(data)
    n = len(s)
    if n <= 16:
        return _len0to16(s, n)
    if n <= 32:
        return _len17to32(s, n)
    if n <= 64:
        return _len33to64(s, n)
    return _long(s, n)


def _long(s: bytes, n: int) -> int:
    # farmhashna::Hash64 for more than 64 bytes: 64-byte blocks, then the
    # last 64 bytes (overlapping the previous block) finish the hash.
    m = _M
    k1 = _K1
    k2 = _K2
    seed = 81
    y = (seed * k1 + 113) & m
    t = (y * k2 + 113) & m
    z = ((t ^ (t >> 47)) * k2) & m
    v0 = v1 = w0 = w1 = 0
    blocks = (n - 1) // 64
    # The blocks start at multiples of 64, so one unpack reads all their words.
    words = struct.unpack_from(f"<{blocks * 8}Q", s, 0)
    x = (seed * k2 + words[0]) & m
    for i in range(0, blocks * 8, 8):
        f0, f1, f2, f3, f4, f5, f6, f7 = words[i:i + 8]
        t = (x + y + v0 + f1) & m
        x = (((t >> 37) | (t << 27)) & m) * k1 & m
        t = (y + v1 + f6) & m
        y = (((t >> 42) | (t << 22)) & m) * k1 & m
        x ^= w1
        y = (y + v0 + f5) & m
        t = (z + w0) & m
        z = (((t >> 33) | (t << 31)) & m) * k1 & m
        # WeakHashLen32WithSeeds(s, v1 * k1, x + w0)
        a = (v1 * k1) & m
        b = (x + w0) & m
        a = (a + f0) & m
        t = (b + a + f3) & m
        b = ((t >> 21) | (t << 43)) & m
        c = a
        a = (a + f1 + f2) & m
        b = (b + (((a >> 44) | (a << 20)) & m)) & m
        nv0, nv1 = (a + f3) & m, (b + c) & m
        # WeakHashLen32WithSeeds(s + 32, z + w1, y + f2)
        a = (z + w1) & m
        b = (y + f2) & m
        a = (a + f4) & m
        t = (b + a + f7) & m
        b = ((t >> 21) | (t << 43)) & m
        c = a
        a = (a + f5 + f6) & m
        b = (b + (((a >> 44) | (a << 20)) & m)) & m
        w0, w1 = (a + f7) & m, (b + c) & m
        v0, v1 = nv0, nv1
        x, z = z, x
    last = n - 64
    f = struct.unpack_from("<8Q", s, last)
    mul = (k1 + ((z & 0xFF) << 1)) & m
    w0 = (w0 + ((n - 1) & 63)) & m
    v0 = (v0 + w0) & m
    w0 = (w0 + v0) & m
    x = (_rot((x + y + v0 + f[1]) & m, 37) * mul) & m
    y = (_rot((y + v1 + f[6]) & m, 42) * mul) & m
    x ^= (w1 * 9) & m
    y = (y + v0 * 9 + f[5]) & m
    z = (_rot((z + w0) & m, 33) * mul) & m
    v0, v1 = _weak32(f[0], f[1], f[2], f[3], (v1 * mul) & m, (x + w0) & m)
    w0, w1 = _weak32(f[4], f[5], f[6], f[7], (z + w1) & m, (y + f[2]) & m)
    x, z = z, x
    t = (y ^ (y >> 47)) * _K0
    return _len16((_len16(v0, w0, mul) + t + z) & m, (_len16(v1, w1, mul) + x) & m, mul)


def _weak32(w: int, x: int, y: int, z: int, a: int, b: int) -> tuple[int, int]:
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rot(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """TensorFlow's ``FingerprintCat64``: combine two fingerprints (order matters).

    Example:
        >>> fingerprint_cat64(1, 2) != fingerprint_cat64(2, 1)
        True
    """
    result = fp1 ^ _CAT_MUL
    t = (fp2 * _CAT_MUL) & _M
    result ^= ((t ^ (t >> 47)) * _CAT_MUL) & _M
    result = (result * _CAT_MUL) & _M
    result = ((result ^ (result >> 47)) * _CAT_MUL) & _M
    return result ^ (result >> 47)
