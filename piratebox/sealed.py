"""Secrets sealed with a passphrase, with the standard library's primitives only.

A backup on the mediator's stick carries the box's keys only sealed (piratebox/backup/logic.py).

- The key: PBKDF2-HMAC-SHA256 of the passphrase, a random 16-byte salt, the box's rounds
  (PASSWORD_HASH_ROUNDS), 64 bytes: the first 32 encrypt, the last 32 authenticate.
- Encryption: the plaintext XOR SHAKE-256(domain | encryption key | nonce), a random
  16-byte nonce each time: SHAKE-256 keyed by a prefix is a pseudo-random function (the
  construction of KMAC), so its output is a stream cipher's keystream, never used twice.
- Authentication: HMAC-SHA256(authentication key, domain | nonce | ciphertext), compared in
  constant time before anything is decrypted: a wrong passphrase, or a byte changed on the
  stick, is refused as such.

The sealed text: MAGIC | nonce | ciphertext | tag.
"""

import hashlib
import hmac
import secrets

MAGIC = b"cocote-sealed-1\n"
DOMAIN = b"cocote backup secrets"
NONCE_BYTES = 16
TAG_BYTES = 32
SALT_BYTES = 16


class WrongKey(Exception):  # noqa: N818 - a verdict, like a failed signature check
    """The passphrase is not the one the secrets were sealed with, or they were changed."""


def new_salt():
    return secrets.token_bytes(SALT_BYTES)


def derive(passphrase, salt, rounds):
    """The 64-byte key of a passphrase."""
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8"), salt, rounds, dklen=64)


def _keystream(key, nonce, length):
    return hashlib.shake_256(DOMAIN + key[:32] + nonce).digest(length)


def _xor(data, stream):
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(
        len(data), "big")


def _tag(key, nonce, ciphertext):
    return hmac.new(key[32:], DOMAIN + nonce + ciphertext, hashlib.sha256).digest()


def seal(key, plaintext):
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = _xor(plaintext, _keystream(key, nonce, len(plaintext)))
    return MAGIC + nonce + ciphertext + _tag(key, nonce, ciphertext)


def unseal(key, sealed):
    """The plaintext, or WrongKey."""
    if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + NONCE_BYTES + TAG_BYTES:
        raise WrongKey
    body = sealed[len(MAGIC):]
    nonce, ciphertext, tag = body[:NONCE_BYTES], body[NONCE_BYTES:-TAG_BYTES], body[-TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(key, nonce, ciphertext)):
        raise WrongKey
    return _xor(ciphertext, _keystream(key, nonce, len(ciphertext)))
