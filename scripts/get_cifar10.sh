#!/usr/bin/env bash
# Downloads CIFAR-10 (binary version, 163 MB) into DEST/cifar-10-batches-bin.
#   scripts/get_cifar10.sh [DEST]        DEST defaults to data/
# Checks the archive's MD5, extracts beside DEST in a temporary folder and
# moves the result into place, so an interrupted run never leaves a half
# data set. Exits 0 at once when the six files are already there.
set -euo pipefail

DEST="${1:-data}"
URL="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5="c32a1d4ab5d03f1284b67883e8d87530"
TARGET="$DEST/cifar-10-batches-bin"
FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)
FILE_BYTES=30730000  # 10000 records x (1 label byte + 3072 pixel bytes)

# Prints the problems with TARGET (missing or wrong-sized files), nothing if complete.
problems() {
  for f in "${FILES[@]}"; do
    if [ ! -f "$TARGET/$f" ]; then
      echo "  missing: $TARGET/$f"
    elif [ "$(stat -L -c %s "$TARGET/$f")" != "$FILE_BYTES" ]; then
      echo "  wrong size: $TARGET/$f ($(stat -L -c %s "$TARGET/$f") bytes, expected $FILE_BYTES)"
    fi
  done
}

where_to_put_it() {
  cat >&2 <<MSG
To install CIFAR-10 by hand, download $URL
(MD5 $MD5) on a machine with internet access and extract it so that these files exist:
  $TARGET/data_batch_1.bin ... $TARGET/data_batch_5.bin
  $TARGET/test_batch.bin   (and batches.meta.txt, optional)
or keep them anywhere and point the programs to that directory with --data DIR
or the environment variable CIFAR10_DIR=DIR.
MSG
}

if [ -d "$TARGET" ] && [ -z "$(problems)" ]; then
  echo "CIFAR-10 is already complete in $TARGET"
  exit 0
fi
if [ -d "$TARGET" ]; then
  echo "CIFAR-10 in $TARGET is incomplete:"
  problems
  echo "downloading a fresh copy"
fi

mkdir -p "$DEST"
WORK="$(mktemp -d "$DEST/.get_cifar10.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "downloading $URL"
if ! curl --fail --location --silent --show-error --connect-timeout 20 --retry 2 \
          --output "$WORK/cifar-10-binary.tar.gz" "$URL"; then
  echo "error: could not download CIFAR-10 (offline, or the server is unreachable)." >&2
  where_to_put_it
  exit 1
fi

actual="$(md5sum "$WORK/cifar-10-binary.tar.gz" | cut -d' ' -f1)"
if [ "$actual" != "$MD5" ]; then
  echo "error: the download has MD5 $actual, expected $MD5 (corrupted or changed file)." >&2
  where_to_put_it
  exit 1
fi

tar -xzf "$WORK/cifar-10-binary.tar.gz" -C "$WORK"
rm -rf "$TARGET"
mv "$WORK/cifar-10-batches-bin" "$TARGET"
if [ -n "$(problems)" ]; then
  echo "error: the extracted archive is incomplete:" >&2
  problems >&2
  exit 1
fi
echo "CIFAR-10 is ready in $TARGET"
