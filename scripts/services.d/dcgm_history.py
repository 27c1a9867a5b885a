"""Deterministic DCGM-exporter-style GPU metrics: history for promtool, current values for live.

Used two ways:
  python dcgm_history.py --out FILE [--end EPOCH] [--hours 6] [--step 30]
      writes OpenMetrics text for `promtool tsdb create-blocks-from openmetrics FILE TSDB`:
      every series sampled every `step` seconds over the `hours` before `end` (default: now,
      rounded down to a multiple of `step`). Prints the newest sample's epoch on stdout.
  import dcgm_history; dcgm_history.exposition(time.time())
      the same series at one instant, in Prometheus text format (what dcgm_exporter.py serves).

Values depend only on (series, timestamp), so the live exporter continues the backfilled
history seamlessly, and tests can assert on the patterns below.

Fleet: 3 hosts x 8 GPUs ("NVIDIA A100-SXM4-80GB", 81920 MiB framebuffer), 24 GPUs in all.
Every series carries Hostname, gpu ("0".."7"), UUID, modelName, device ("nvidia0".."nvidia7"),
job="dcgm-exporter", instance="<Hostname>:9400"; allocated GPUs also carry namespace and pod.
UUIDs are "GPU-0000000<h>-0000-4000-8000-00000000000<g>" (h = host index 0..2, g = gpu 0..7),
e.g. gpu-node-b GPU 3 is "GPU-00000001-0000-4000-8000-000000000003".

  host        GPUs  namespace/pod                     GPU_UTIL %  FB_USED MiB   TEMP C  POWER W
  gpu-node-a  0-7   team-vision/resnet-train-0        85..98      ~71000-75000  68..78  330..400
              (GPU 7 runs hot: TEMP 86..90)
  gpu-node-b  0-3   team-nlp/notebook-alice-0         0..2        ~3000-4500    31..35  60..70
              4-7   team-nlp/notebook-bob-0           0..2        ~3000-4500    31..35  60..70
              (idle but allocated: every GPU has a pod, none does any work)
  gpu-node-c  0-3   team-nlp/bert-finetune-0          55..85      ~40000-48000  60..72  250..330
              4-5   team-research/debug-shell-0       0..1        ~1000-1500    30..33  55..62
              6-7   (no namespace/pod: free)          0           0             28..30  50..55

So avg by (Hostname) of DCGM_FI_DEV_GPU_UTIL is ~91 for gpu-node-a, ~1 for gpu-node-b and
~35 for gpu-node-c, at any time. FB_FREE = 81920 - FB_USED. PROF_GR_ENGINE_ACTIVE is a ratio
in [0, 1] tracking GPU_UTIL / 100 (slightly below it). GPU_UTIL, FB_*, GPU_TEMP are integers;
POWER_USAGE and GR_ENGINE_ACTIVE are floats. Variation is a slow sine (period 1 h, phase per
GPU) plus hash-based jitter, clamped to the ranges above.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import zlib
from collections.abc import Iterator

HOSTS = ("gpu-node-a", "gpu-node-b", "gpu-node-c")
GPUS_PER_HOST = 8
MODEL = "NVIDIA A100-SXM4-80GB"
FB_TOTAL_MIB = 81920
JOB = "dcgm-exporter"
EXPORTER_PORT_LABEL = 9400
DEFAULT_HOURS = 6.0
DEFAULT_STEP = 30

# name -> HELP text
METRICS: dict[str, str] = {
    "DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
    "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
    "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
    "DCGM_FI_DEV_GPU_TEMP": "GPU temperature (in C).",
    "DCGM_FI_DEV_POWER_USAGE": "Power draw (in W).",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "Ratio of time the graphics engine is active.",
}

# profile -> (util lo, hi), (fb_used lo, hi), (temp lo, hi), (power lo, hi)
PROFILES: dict[str, tuple[tuple[float, float], ...]] = {
    "busy": ((85, 98), (71000, 75000), (68, 78), (330, 400)),
    "hot": ((85, 98), (71000, 75000), (86, 90), (350, 400)),
    "idle": ((0, 2), (3000, 4500), (31, 35), (60, 70)),
    "finetune": ((55, 85), (40000, 48000), (60, 72), (250, 330)),
    "debug": ((0, 1), (1000, 1500), (30, 33), (55, 62)),
    "free": ((0, 0), (0, 0), (28, 30), (50, 55)),
}


def uuid(host_index: int, gpu: int) -> str:
    return f"GPU-{host_index:08d}-0000-4000-8000-{gpu:012d}"


def _assignment(host: str, gpu: int) -> tuple[str, str | None, str | None]:
    """(profile, namespace, pod) of one GPU."""
    if host == "gpu-node-a":
        return ("hot" if gpu == 7 else "busy"), "team-vision", "resnet-train-0"
    if host == "gpu-node-b":
        return "idle", "team-nlp", ("notebook-alice-0" if gpu < 4 else "notebook-bob-0")
    if gpu < 4:
        return "finetune", "team-nlp", "bert-finetune-0"
    if gpu < 6:
        return "debug", "team-research", "debug-shell-0"
    return "free", None, None


def gpu_series() -> list[dict[str, str]]:
    """The label set of every GPU (without __name__), in a fixed order: host, then gpu."""
    out = []
    for h, host in enumerate(HOSTS):
        for g in range(GPUS_PER_HOST):
            _, namespace, pod = _assignment(host, g)
            labels = {
                "gpu": str(g),
                "UUID": uuid(h, g),
                "device": f"nvidia{g}",
                "modelName": MODEL,
                "Hostname": host,
            }
            if namespace and pod:
                labels["namespace"] = namespace
                labels["pod"] = pod
            labels["instance"] = f"{host}:{EXPORTER_PORT_LABEL}"
            labels["job"] = JOB
            out.append(labels)
    return out


def profile_of(labels: dict[str, str]) -> str:
    return _assignment(labels["Hostname"], int(labels["gpu"]))[0]


def _jitter(key: str, t: int) -> float:
    """Deterministic noise in [0, 1) for one series at one (integer) second."""
    return (zlib.crc32(f"{key}@{t}".encode()) & 0xFFFFFF) / float(0x1000000)


def _level(key: str, t: int, lo: float, hi: float) -> float:
    """A value in [lo, hi]: 70 % slow sine (1 h period, phase from key), 30 % jitter."""
    if hi <= lo:
        return lo
    phase = (zlib.crc32(key.encode()) % 3600) / 3600.0
    wave = 0.5 + 0.5 * math.sin(2 * math.pi * (t / 3600.0 + phase))
    frac = 0.7 * wave + 0.3 * _jitter(key, t)
    return lo + (hi - lo) * frac


def values(labels: dict[str, str], t: float) -> dict[str, float]:
    """Every metric's value for one GPU at time t (seconds since the epoch)."""
    ti = int(t)
    key = labels["UUID"]
    util_r, fb_r, temp_r, power_r = PROFILES[profile_of(labels)]
    util = round(_level(key + "/util", ti, *util_r))
    fb_used = round(_level(key + "/fb", ti, *fb_r))
    temp = round(_level(key + "/temp", ti, *temp_r))
    power = round(_level(key + "/power", ti, *power_r), 3)
    gr = round(max(0.0, util / 100.0 - 0.02 * _jitter(key + "/gr", ti)), 4)
    return {
        "DCGM_FI_DEV_GPU_UTIL": util,
        "DCGM_FI_DEV_FB_USED": fb_used,
        "DCGM_FI_DEV_FB_FREE": FB_TOTAL_MIB - fb_used,
        "DCGM_FI_DEV_GPU_TEMP": temp,
        "DCGM_FI_DEV_POWER_USAGE": power,
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": gr,
    }


def _fmt_labels(labels: dict[str, str]) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + body + "}"


def _fmt_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def exposition(t: float, hosts: tuple[str, ...] | None = None) -> str:
    """Prometheus text format at time t, without timestamps (a scrape).

    job/instance are left out: Prometheus attaches them from the scrape config."""
    series = [s for s in gpu_series() if hosts is None or s["Hostname"] in hosts]
    current = [(s, values(s, t)) for s in series]
    lines = []
    for name, help_text in METRICS.items():
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for labels, vals in current:
            shown = {k: v for k, v in labels.items() if k not in ("job", "instance")}
            lines.append(f"{name}{_fmt_labels(shown)} {_fmt_value(vals[name])}")
    return "\n".join(lines) + "\n"


def openmetrics(end: int, hours: float, step: int) -> Iterator[str]:
    """OpenMetrics lines (each ending in a newline) for the history window ending at `end`."""
    n = int(hours * 3600 // step)
    times = [end - i * step for i in range(n, -1, -1)]
    series = gpu_series()
    table = {id(s): [values(s, t) for t in times] for s in series}
    for name, help_text in METRICS.items():
        yield f"# HELP {name} {help_text}\n"
        yield f"# TYPE {name} gauge\n"
        for s in series:
            prefix = name + _fmt_labels(s)
            rows = table[id(s)]
            yield "".join(
                f"{prefix} {_fmt_value(rows[i][name])} {t}\n" for i, t in enumerate(times)
            )
    yield "# EOF\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="OpenMetrics file to write")
    parser.add_argument("--end", type=int, default=None, help="newest sample (epoch s)")
    parser.add_argument("--hours", type=float, default=DEFAULT_HOURS)
    parser.add_argument("--step", type=int, default=DEFAULT_STEP)
    args = parser.parse_args(argv)
    end = args.end if args.end is not None else int(time.time())
    end -= end % args.step
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.writelines(openmetrics(end, args.hours, args.step))
    print(end)
    return 0


if __name__ == "__main__":
    sys.exit(main())
