#!/usr/bin/python3
"""The tests' second AES Crypt implementation: the oracle that providers/formats/aescrypt.ts
is checked against. Written from the same published stream format, in another language and
with another crypto library (Debian's python3-cryptography), so that a misreading shared by
both is unlikely. Run with Debian's /usr/bin/python3.

    aescrypt.py encrypt --version 2|3 [--iterations N] --key-fd FD  < plaintext > stream
    aescrypt.py decrypt --key-fd FD < stream > plaintext
    aescrypt.py inspect < stream            (prints the version and the ciphertext's size)

The key is read from the file descriptor FD (never argv or the environment). Failures exit 2
with one line on stderr that starts with the failure's name: not-aescrypt, unsupported-version,
malformed, truncated, wrong-key, altered.
"""
import argparse
import hashlib
import hmac
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC


class Failure(Exception):
    def __init__(self, name, detail):
        super().__init__(f"{name}: {detail}")
        self.name = name


def derive(version, key, iv, iterations):
    if version == 2:
        # 8192 rounds of SHA-256 over (digest || password in UTF-16LE), digest seeded with the IV.
        secret = key.encode("utf-16-le")
        digest = iv + bytes(16)
        for _ in range(8192):
            digest = hashlib.sha256(digest + secret).digest()
        return digest
    kdf = PBKDF2HMAC(algorithm=hashes.SHA512(), length=32, salt=iv, iterations=iterations)
    return kdf.derive(key.encode("utf-8"))


def cbc(key, iv, data, decrypt):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def mac(key, *parts):
    h = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    return h.digest()


def read_header(data):
    if data[:3] != b"AES":
        raise Failure("not-aescrypt", "no AES magic")
    if len(data) < 5:
        raise Failure("truncated", "header cut")
    version = data[3]
    if version not in (2, 3):
        raise Failure("unsupported-version", f"version {version}")
    if data[4] != 0:
        raise Failure("malformed", "reserved octet")
    pos = 5
    while True:
        if len(data) < pos + 2:
            raise Failure("truncated", "extensions cut")
        (n,) = struct.unpack(">H", data[pos:pos + 2])
        pos += 2
        if n == 0:
            break
        if len(data) < pos + n:
            raise Failure("truncated", "extension cut")
        pos += n
    iterations = None
    if version == 3:
        if len(data) < pos + 4:
            raise Failure("truncated", "iterations cut")
        (iterations,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 4
        if iterations < 1:
            raise Failure("malformed", "iterations")
    if len(data) < pos + 96:
        raise Failure("truncated", "key block cut")
    return version, iterations, data[pos:pos + 16], data[pos + 16:pos + 64], data[pos + 64:pos + 96], pos + 96


def body_and_trailer(version, data, start):
    trailer = 33 if version == 2 else 32
    if len(data) < start + trailer:
        raise Failure("truncated", "trailer cut")
    body = data[start:len(data) - trailer]
    if len(body) % 16:
        raise Failure("truncated", "partial block")
    return body, data[len(data) - trailer:]


def decrypt(data, key):
    version, iterations, iv, block, block_mac, start = read_header(data)
    body, trailer = body_and_trailer(version, data, start)
    derived = derive(version, key, iv, iterations)
    expected = mac(derived, block, bytes([3])) if version == 3 else mac(derived, block)
    if not hmac.compare_digest(expected, block_mac):
        raise Failure("wrong-key", "key block HMAC")
    session = cbc(derived, iv, block, True)
    session_iv, session_key = session[:16], session[16:]
    if not hmac.compare_digest(mac(session_key, body), trailer[-32:]):
        raise Failure("altered", "ciphertext HMAC")
    plain = cbc(session_key, session_iv, body, True)
    if version == 3:
        if not plain:
            raise Failure("malformed", "no block")
        pad = plain[-1]
        if pad < 1 or pad > 16 or plain[-pad:] != bytes([pad]) * pad:
            raise Failure("malformed", "padding")
        return plain[:-pad]
    modulo = trailer[0]
    if modulo > 15 or (not body and modulo):
        raise Failure("malformed", "modulo")
    return plain if modulo == 0 else plain[:len(plain) - 16 + modulo]


def encrypt(src, dst, key, version, iterations, chunk=1 << 20):
    """Streams: reads src and writes dst a chunk at a time (the lab writes 1 GiB sets with it)."""
    iv, session_iv, session_key = os.urandom(16), os.urandom(16), os.urandom(32)
    derived = derive(version, key, iv, iterations)
    block = cbc(derived, iv, session_iv + session_key, False)
    head = b"AES" + bytes([version, 0])
    creator = b"CREATED_BY\x00tests/oracle/aescrypt.py"
    head += struct.pack(">H", len(creator)) + creator + struct.pack(">H", 0)
    if version == 3:
        head += struct.pack(">I", iterations)
    dst.write(head + iv + block + (mac(derived, block, bytes([3])) if version == 3 else mac(derived, block)))
    op = Cipher(algorithms.AES(session_key), modes.CBC(session_iv)).encryptor()
    body_mac = hmac.new(session_key, digestmod=hashlib.sha256)
    pending = b""
    total = 0
    while True:
        data = src.read(chunk)
        if not data:
            break
        total += len(data)
        pending += data
        whole = len(pending) - len(pending) % 16
        out = op.update(pending[:whole])
        pending = pending[whole:]
        body_mac.update(out)
        dst.write(out)
    # Version 3 pads as PKCS#7 (a whole block when aligned); version 2 pads with zeros and
    # records the length modulo 16 before the HMAC.
    if version == 3:
        pad = 16 - len(pending)
        tail = pending + bytes([pad]) * pad
    else:
        tail = pending + bytes(16 - len(pending)) if pending else b""
    out = op.update(tail) + op.finalize()
    body_mac.update(out)
    dst.write(out)
    if version == 2:
        dst.write(bytes([total % 16]))
    dst.write(body_mac.digest())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["encrypt", "decrypt", "inspect"])
    ap.add_argument("--version", type=int, choices=[2, 3], default=3)
    ap.add_argument("--iterations", type=int, default=300000)
    ap.add_argument("--key-fd", type=int)
    args = ap.parse_args()
    try:
        if args.command == "encrypt":
            with os.fdopen(args.key_fd, "r", encoding="utf-8", closefd=True) as f:
                key = f.read()
            encrypt(sys.stdin.buffer, sys.stdout.buffer, key, args.version, args.iterations)
            return 0
        data = sys.stdin.buffer.read()
        if args.command == "inspect":
            version, _, _, _, _, start = read_header(data)
            body, _ = body_and_trailer(version, data, start)
            print(f"version={version} ciphertext={len(body)}")
            return 0
        with os.fdopen(args.key_fd, "r", encoding="utf-8", closefd=True) as f:
            key = f.read()
        sys.stdout.buffer.write(decrypt(data, key))
        return 0
    except Failure as err:
        print(str(err), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
