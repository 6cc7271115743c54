#!/usr/bin/env bash
# Whole-process benchmark of `brine call --local` (see scripts/benchproc).
set -euo pipefail
go run ./scripts/benchproc -brine "${1:-bin/brine}" -n 1000 -runs 20
