#!/bin/sh
# Builds GCViewer's classes with plain javac (it has no runtime dependencies; Maven is not needed) for
# benchmarks/gc_analyze.py --gcviewer. Give a clone of github.com/chewiebug/GCViewer (or a bare mirror) and
# an output directory; prints the classes directory.
#   sh benchmarks/build_gcviewer.sh ~/src/GCViewer /tmp/gcviewer
set -eu
src=$1
out=${2:-/tmp/gcviewer}
rm -rf "$out" && mkdir -p "$out/src" "$out/classes"
git --git-dir="$( [ -d "$src/.git" ] && echo "$src/.git" || echo "$src" )" archive HEAD src/main | tar -x -C "$out/src"
find "$out/src/src/main/java" -name '*.java' > "$out/files.txt"
javac -nowarn -encoding UTF-8 -d "$out/classes" @"$out/files.txt" 2>/dev/null
cp -r "$out/src/src/main/resources/." "$out/classes/"
echo "$out/classes"
