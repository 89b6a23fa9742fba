#!/usr/bin/env bash
# How the fixed AES Crypt vectors in tests/unit/providers/formats/aescrypt.test.ts were
# worked out, step by step from the stream format, with command-line tools only:
# coreutils' sha256sum for version 2's key derivation, and the openssl CLI for
# PBKDF2, AES-256-CBC and HMAC-SHA256. Neither our reader nor the Python oracle
# takes part. Run it to see every intermediate value; the test holds its results.
set -euo pipefail

hex() { xxd -p | tr -d '\n'; }
unhex() { xxd -r -p; }

IV=000102030405060708090a0b0c0d0e0f
SESSION_IV=101112131415161718191a1b1c1d1e1f
SESSION_KEY=202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
KEY=senha

# Version 2: digest = IV ‖ 16 zero octets; 8192 times digest = SHA-256(digest ‖ key in UTF-16LE).
pw16=$(printf '%s' "$KEY" | iconv -f UTF-8 -t UTF-16LE | hex)
digest="${IV}00000000000000000000000000000000"
for _ in $(seq 8192); do digest=$(printf '%s%s' "$digest" "$pw16" | unhex | sha256sum | cut -c1-64); done
echo "v2 key (ACKDF, IV=$IV, key=$KEY): $digest"

# Version 3: PBKDF2-HMAC-SHA512 over the UTF-8 key, the IV as salt, 5 iterations, 32 octets.
derived=$(openssl kdf -keylen 32 -kdfopt digest:SHA512 -kdfopt "pass:$KEY" -kdfopt "hexsalt:$IV" -kdfopt iter:5 PBKDF2 | tr -d ':' | tr 'A-F' 'a-f')
echo "v3 key (PBKDF2-SHA512, 5 iterations): $derived"

# One short version 3 file: "backup\n", no extension but the 128-octet container.
block=$(printf '%s%s' "$SESSION_IV" "$SESSION_KEY" | unhex | openssl enc -aes-256-cbc -K "$derived" -iv "$IV" -nopad | hex)
block_mac=$(printf '%s03' "$block" | unhex | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$derived" -binary | hex)
body=$(printf 'backup\n' | openssl enc -aes-256-cbc -K "$SESSION_KEY" -iv "$SESSION_IV" | hex)
body_mac=$(printf '%s' "$body" | unhex | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$SESSION_KEY" -binary | hex)
container="0080$(printf '00%.0s' $(seq 128))"
echo "v3 file: 4145530300${container}0000""00000005${IV}${block}${block_mac}${body}${body_mac}"
