"""NVML stand-in: a fake libnvidia-ml.so.1 (built with gcc) so the real pynvml runs without a GPU.

See build.py for how to build it and make pynvml load it, and nvml_standin.c for the fixture
file format it answers from.
"""

from .build import (
    FAIL_INIT_ENV,
    FIXTURE_ENV,
    GIB,
    LIB_NAME,
    build,
    fixture_text,
    make_device,
    preload,
    standin_env,
    write_fixture,
)

__all__ = [
    "FAIL_INIT_ENV",
    "FIXTURE_ENV",
    "GIB",
    "LIB_NAME",
    "build",
    "fixture_text",
    "make_device",
    "preload",
    "standin_env",
    "write_fixture",
]
