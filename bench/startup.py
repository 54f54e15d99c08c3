#!/usr/bin/env python3
# Benchmark: curate's start-up with and without libchafa loaded at exec (LD_PRELOAD standing in for linking it),
# the measure behind loading libchafa only when the review screen draws. 40 runs of each: minimum and median wall
# time, median CPU (user + system).
# Usage: bench/startup.py [BINARY=.build/debug/curate] WORKSPACE (a workspace for `review --list`)
import os, resource, statistics, subprocess, sys, time

def run(args, preload, n=40):
    env = dict(os.environ)
    if preload:
        env["LD_PRELOAD"] = "libchafa.so.0"
    walls, cpus = [], []
    for _ in range(n):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return min(walls) * 1000, statistics.median(walls) * 1000, statistics.median(cpus) * 1000

binary, workspace = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else (".build/debug/curate", sys.argv[1])
for name, args in [("curate --version", [binary, "--version"]),
                   ("curate review --list", [binary, "--workspace", workspace, "review", "--list"])]:
    for preload in (False, True):
        low, mid, cpu = run(args, preload)
        how = "libchafa loaded at start" if preload else "as built (dlopen on draw)"
        print(f"{name:22} {how:28} wall min {low:6.1f} ms  median {mid:6.1f} ms  cpu median {cpu:6.1f} ms")
