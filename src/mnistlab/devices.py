"""What the hardware computes natively, and the precision ``precision = "auto"`` chooses from it.

Mixed bfloat16 is 1.5x faster than float32 where the hardware computes bfloat16 (x86 ``avx512_bf16`` or
``amx_bf16``, an ARM CPU with ``bf16``, a GPU of compute capability 8.0 or more) and 4-9x slower where it
is emulated (an AVX2 CPU: benchmarks/results/MEASUREMENTS.md). So ``auto`` takes bfloat16 only where it is native.

On a GPU with compute capability under 8.0 (a T4, a V100) ``auto`` keeps float32: those chips' fast type is
float16, which needs loss scaling (a different optimiser path, a possible divergence the lab's settings
were never checked against), and the lab's small nets are bound by per-step overhead there, not arithmetic.

The facts come from ``/proc/cpuinfo`` (Linux, x86 ``flags`` and ARM ``Features``), ``sysctl`` (macOS) and
TensorFlow's device list; every reader takes its source as an argument so tests can fake it.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# The instruction-set flags that decide how fast training runs, in the order a record lists them.
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
                  "asimd", "sve", "bf16")
X86_BF16 = ("avx512_bf16", "amx_bf16")
PRECISIONS = ("auto", "float32", "bf16")
POLICIES = {"float32": "float32", "bf16": "mixed_bfloat16"}
GPU_BF16_CAPABILITY = (8, 0)  # Ampere and later compute bfloat16 in their tensor cores
# ONEDNN_MAX_CPU_ISA caps the instructions oneDNN's kernels use (an AVX-512 machine standing in for an AVX2
# one): the x86 flags each cap leaves usable. Caps not listed (ALL, DEFAULT, AMX ones) leave them all.
ONEDNN_CAPS = {
    "SSE41": (), "AVX": (), "AVX2": ("avx2", "fma"), "AVX2_VNNI": ("avx2", "fma"), "AVX2_VNNI_2": ("avx2", "fma"),
    "AVX512_CORE": ("avx2", "fma", "avx512f"), "AVX512_CORE_VNNI": ("avx2", "fma", "avx512f"),
    "AVX512_CORE_BF16": ("avx2", "fma", "avx512f", "avx512_bf16"),
    "AVX512_CORE_FP16": ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16"),
    "AVX10_1_512": ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16"),
}


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _sysctl(name: str) -> str:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def cpu(cpuinfo: str | None = None, system: str | None = None, machine: str | None = None,
        sysctl: Callable[[str], str] = _sysctl, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The CPU's model, its relevant flags, whether it computes bfloat16 natively, and its kind.

    Args:
        cpuinfo: the text of ``/proc/cpuinfo`` (default: read it on Linux).
        system, machine: ``platform.system()`` and ``platform.machine()`` (default: this machine's).
        sysctl: ``name -> value`` on macOS (default: the ``sysctl`` command).
        env: the environment (default ``os.environ``): an x86 ``ONEDNN_MAX_CPU_ISA`` cap removes the flags
            oneDNN may no longer use, so ``auto`` never picks a bfloat16 the capped kernels would emulate.

    Returns:
        ``{"model", "flags", "native_bf16", "kind"}``; ``kind`` is a short name for file names and tables:
        ``amx-bf16``, ``avx512-bf16``, ``avx512``, ``avx2``, ``x86``, ``arm-bf16``, ``arm`` or the machine;
        under a oneDNN cap the capped kind with ``-capped`` (``avx2-capped``), plus ``onednn_max_cpu_isa``
        and ``flags_present`` (the CPU's own flags).
    """
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    model, words = "", set()
    if system == "Darwin":
        model = sysctl("machdep.cpu.brand_string")
        words = set((sysctl("machdep.cpu.features") + " " + sysctl("machdep.cpu.leaf7_features")).lower().split())
        if sysctl("hw.optional.arm.FEAT_BF16") == "1":
            words.add("bf16")
        if machine == "arm64":
            words.add("asimd")
    else:
        text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware") and not model:
                model = value.strip()
            elif key in ("flags", "features") and not words:  # x86 flags, ARM Features
                words = set(value.lower().split())
    flags = [f for f in RELEVANT_FLAGS if f in words]
    arm = machine in ("arm64", "aarch64") or machine.startswith("arm")
    cap = None if arm else _onednn_cap(env)
    if cap:
        all_flags, flags = flags, [f for f in flags if f in ONEDNN_CAPS[cap]]
    native = "bf16" in flags if arm else any(f in flags for f in X86_BF16)
    if arm:
        kind = "arm-bf16" if native else "arm"
    elif "amx_bf16" in flags:
        kind = "amx-bf16"
    elif "avx512_bf16" in flags:
        kind = "avx512-bf16"
    elif "avx512f" in flags:
        kind = "avx512"
    elif "avx2" in flags:
        kind = "avx2"
    else:
        kind = "x86" if machine in ("x86_64", "amd64", "i686", "i386") else machine or "unknown"
    out = {"model": model or platform.processor() or machine, "flags": flags, "native_bf16": native, "kind": kind}
    if cap:  # what runs is the capped machine; the record keeps what the CPU has
        out.update(kind=f"{kind}-capped", onednn_max_cpu_isa=cap, flags_present=all_flags)
    return out


def _onednn_cap(env: Mapping[str, str] | None) -> str | None:
    """The ``ONEDNN_MAX_CPU_ISA`` (or older ``DNNL_MAX_CPU_ISA``) cap that removes flags, else None."""
    env = os.environ if env is None else env
    value = (env.get("ONEDNN_MAX_CPU_ISA") or env.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    return value if value in ONEDNN_CAPS else None


def gpus(list_devices: Callable[[str], Iterable[Any]] | None = None,
         details: Callable[[Any], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The GPUs TensorFlow sees: name, compute capability ("8.6") and whether they compute bfloat16.

    Args:
        list_devices, details: ``tf.config.list_physical_devices`` and
            ``tf.config.experimental.get_device_details`` (the defaults); tests pass fakes.
    """
    if list_devices is None or details is None:
        try:
            import tensorflow as tf
        except ImportError:
            return []
        list_devices = list_devices or tf.config.list_physical_devices
        details = details or tf.config.experimental.get_device_details
    out = []
    for device in list_devices("GPU"):
        try:
            info = details(device) or {}
        except Exception:  # noqa: BLE001 - details are best effort; the device is still there
            info = {}
        cc = info.get("compute_capability")
        cc = tuple(int(v) for v in cc) if cc else None
        out.append({"name": info.get("device_name") or getattr(device, "name", "GPU"),
                    "compute_capability": ".".join(map(str, cc)) if cc else None,
                    "native_bf16": bool(cc and cc >= GPU_BF16_CAPABILITY)})
    return out


def enable_memory_growth(list_devices: Callable[[str], Iterable[Any]] | None = None,
                         set_growth: Callable[[Any, bool], None] | None = None) -> int:
    """Let TensorFlow take GPU memory as it needs it instead of all at once; call before any op.

    Returns the number of GPUs set. A GPU already initialised (an op ran first) keeps its setting.
    """
    if list_devices is None or set_growth is None:
        import tensorflow as tf

        list_devices = list_devices or tf.config.list_physical_devices
        set_growth = set_growth or tf.config.experimental.set_memory_growth
    n = 0
    for device in list_devices("GPU"):
        try:
            set_growth(device, True)
            n += 1
        except (RuntimeError, ValueError):  # initialised already: too late, and harmless
            pass
    return n


def _flag_words(c: dict[str, Any]) -> str:
    words = ", ".join(c["flags"]) or "no relevant flags"
    return words + (f"; oneDNN capped at {c['onednn_max_cpu_isa']}" if c.get("onednn_max_cpu_isa") else "")


def decide(requested: str, cpu_facts: dict[str, Any], gpu_list: list[dict[str, Any]]) -> dict[str, Any]:
    """The precision a run uses for ``requested`` (auto | float32 | bf16) on this hardware, and why.

    Returns:
        ``{"requested", "precision" (float32 | bf16), "policy" (Keras dtype policy), "device",
        "native_bf16", "reason", "warning"}``; ``warning`` is one line when bf16 was asked for on hardware
        that emulates it, else None.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if gpu_list:
        g = gpu_list[0]
        device = f"GPU {g['name']} (compute capability {g['compute_capability'] or 'unknown'})"
        native = all(x["native_bf16"] for x in gpu_list)
        why_native = f"{device} computes bfloat16 natively"
        why_not = f"{device} has no native bfloat16 (compute capability under 8.0)"
    else:
        device = f"CPU {cpu_facts['model']} ({_flag_words(cpu_facts)})"
        native = bool(cpu_facts["native_bf16"])
        why_native = f"{device} computes bfloat16 natively"
        why_not = f"{device} has no avx512_bf16, amx_bf16 or ARM bf16: bfloat16 is emulated there"
    warning = None
    if requested == "float32":
        chosen, reason = "float32", "float32 asked for"
    elif requested == "bf16":
        chosen = "bf16"
        reason = "bf16 asked for; " + (why_native if native else why_not)
        if not native:
            warning = (f"--precision bf16 on {device}, which has no native bfloat16: it runs, but slower than "
                       "float32 (4-9x on AVX2 CPUs); precision auto picks float32 here")
    else:
        chosen = "bf16" if native else "float32"
        reason = "auto: " + (why_native if native else why_not + ", so float32")
    return {"requested": requested, "precision": chosen, "policy": POLICIES[chosen], "device": device,
            "native_bf16": native, "reason": reason, "warning": warning}


@functools.cache
def facts() -> dict[str, Any]:
    """This machine's CPU and GPUs, read once per process."""
    return {"cpu": cpu(), "gpus": gpus()}


def precision(requested: str) -> dict[str, Any]:
    """:func:`decide` on this machine."""
    f = facts()
    return decide(requested, f["cpu"], f["gpus"])


def record(requested: Iterable[str] = ("auto",)) -> dict[str, Any]:
    """For a manifest: the CPU, the GPUs and the decision for each precision a run asks for."""
    f = facts()
    return {"cpu": f["cpu"], "gpus": f["gpus"], "device": "GPU" if f["gpus"] else "CPU",
            "precision": {r: {k: v for k, v in precision(r).items() if k != "warning"}
                          for r in sorted(set(requested))}}
