#!/usr/bin/env bash
# Installs the Debian packages attnlab needs, only those that are missing.
# Non-interactive; runs apt-get directly as root, through sudo otherwise.
set -euo pipefail

packages=(
  g++ make cmake pkg-config
  libopenblas-openmp-dev   # OpenMP build of OpenBLAS: BLAS and our loops share one thread pool
  libstb-dev               # stb_image / stb_image_write
  catch2                   # unit tests (Catch2 2.13)
  libcli11-dev             # command-line parsing in apps/
  nlohmann-json3-dev       # safetensors headers, metrics, configs
  zlib1g-dev               # reading .gz IDX files (Fashion-MNIST)
  dataset-fashion-mnist    # a real dataset available offline, used by tests and generation
  gnuplot-nox              # plots of the study and benchmarks
  openmpi-bin libopenmpi-dev  # data-parallel training and the study over MPI (mpirun)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing missing packages: ${missing[*]}"
if ! command -v apt-get >/dev/null; then
  echo "deps: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi
run=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then run=(sudo); else
    echo "deps: not root and no sudo; install by hand: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
