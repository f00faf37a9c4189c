#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Generates configure and Makefile.in from a git checkout.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf --install --force "$@"
# automake installs test-driver but not the TAP driver the tests speak.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/
