#!/usr/bin/env bash
# Fetches the Go modules the build and tests need, once.
set -euo pipefail
go mod download
