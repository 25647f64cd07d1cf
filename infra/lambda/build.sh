#!/usr/bin/env bash
# Builds Strata's AWS Lambda package: target/lambda/bootstrap (the `strata` binary, which
# runs as a Lambda function when started as `bootstrap`) and target/lambda/strata-lambda.zip
# (bootstrap at its root, executable), for the `provided.al2023` runtime on x86_64.
#
#   bash infra/lambda/build.sh
#
# AL2023 has glibc 2.34, older than this machine's, so the binary is linked against glibc
# 2.34 with cargo-zigbuild (Python packages `cargo-zigbuild` and `ziglang`, installed here
# when missing); the script refuses a binary that needs a newer glibc.
#
# arm64 (Graviton, 20 % cheaper per GB-second): on a machine with the aarch64 Rust standard
# library (`rustup target add aarch64-unknown-linux-gnu`), run with
# STRATA_LAMBDA_TARGET=aarch64-unknown-linux-gnu and set the module's `architecture = "arm64"`.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${STRATA_LAMBDA_TARGET:-x86_64-unknown-linux-gnu}
GLIBC=2.34
if ! command -v cargo-zigbuild >/dev/null || ! python3 -m ziglang version >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'cargo-zigbuild>=0.19' 'ziglang>=0.13'
fi
cargo zigbuild --release --locked --bin strata --target "$TARGET.$GLIBC"
out=target/lambda
mkdir -p "$out"
rm -f "$out/bootstrap" "$out/strata-lambda.zip"
cp "target/$TARGET/release/strata" "$out/bootstrap"
strip "$out/bootstrap" 2>/dev/null || true
chmod 755 "$out/bootstrap"
# The glibc gate: no symbol may need a version above 2.34.
newest=$(objdump -T "$out/bootstrap" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sort -Vu | tail -1)
if [ "$(printf '%s\n' "GLIBC_$GLIBC" "$newest" | sort -V | tail -1)" != "GLIBC_$GLIBC" ]; then
  echo "build.sh: $out/bootstrap needs $newest, newer than AL2023's glibc $GLIBC" >&2
  exit 1
fi
# A zip with bootstrap at its root, executable, byte-identical.
(cd "$out" && zip -q -X strata-lambda.zip bootstrap)
size=$(stat -c %s "$out/bootstrap")
echo "build.sh: $out/bootstrap ($((size / 1024 / 1024)) MiB, needs glibc <= ${newest#GLIBC_}) and $out/strata-lambda.zip ($(( $(stat -c %s "$out/strata-lambda.zip") / 1024 / 1024 )) MiB)"
