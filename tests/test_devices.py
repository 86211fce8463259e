"""Precision chosen by the hardware, from faked /proc/cpuinfo texts and device lists (no GPU here)."""

import json

import pytest

from mnistlab import config, devices, runner, train

# Abridged /proc/cpuinfo texts of the kinds of CPU students have (flags lines cut to what matters).
ZEN2_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
processor\t: 1
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
"""
ZEN4_BF16 = """model name\t: AMD EPYC 9B14
flags\t\t: fpu sse avx fma avx2 avx512f avx512dq avx512_bf16 avx512_vnni
"""
SKYLAKE_AVX512 = """model name\t: Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz
flags\t\t: fpu sse avx fma avx2 avx512f avx512dq avx512bw avx512vl
vmx flags\t: vnmi preemption_timer
"""
SAPPHIRE_AMX = """model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: avx fma avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
"""
GRAVITON3 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics sve svebf16 i8mm bf16 dgh rng
CPU implementer\t: 0x41
"""
RASPBERRY_PI4 = """processor\t: 0
Features\t: fp asimd evtstrm crc32 cpuid
Hardware\t: BCM2835
"""


@pytest.mark.parametrize("text, machine, kind, native, flags", [
    (ZEN2_AVX2, "x86_64", "avx2", False, ["avx2", "fma"]),
    (ZEN4_BF16, "x86_64", "avx512-bf16", True, ["avx2", "fma", "avx512f", "avx512_bf16"]),
    (SKYLAKE_AVX512, "x86_64", "avx512", False, ["avx2", "fma", "avx512f"]),
    (SAPPHIRE_AMX, "x86_64", "amx-bf16", True,
     ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"]),
    (GRAVITON3, "aarch64", "arm-bf16", True, ["asimd", "sve", "bf16"]),  # "svebf16" is not "bf16"
    (RASPBERRY_PI4, "aarch64", "arm", False, ["asimd"]),
    ("", "x86_64", "x86", False, []),
])
def test_cpu_kind_and_native_bfloat16_from_proc_cpuinfo(text, machine, kind, native, flags):
    c = devices.cpu(cpuinfo=text, system="Linux", machine=machine)
    assert (c["kind"], c["native_bf16"], c["flags"]) == (kind, native, flags)


@pytest.mark.parametrize("cap, kind, native, flags", [
    ("AVX2", "avx2-capped", False, ["avx2", "fma"]),
    ("avx512_core", "avx512-capped", False, ["avx2", "fma", "avx512f"]),
    ("AVX512_CORE_BF16", "avx512-bf16-capped", True, ["avx2", "fma", "avx512f", "avx512_bf16"]),
])
def test_a_onednn_cap_stands_in_for_a_smaller_cpu(cap, kind, native, flags):
    """ONEDNN_MAX_CPU_ISA=AVX2 on a Sapphire Rapids: auto must not pick a bfloat16 the kernels would emulate."""
    c = devices.cpu(cpuinfo=SAPPHIRE_AMX, system="Linux", machine="x86_64", env={"ONEDNN_MAX_CPU_ISA": cap})
    assert (c["kind"], c["native_bf16"], c["flags"]) == (kind, native, flags)
    assert c["onednn_max_cpu_isa"] == cap.upper() and "amx_bf16" in c["flags_present"]
    decision = devices.decide("auto", c, [])
    assert decision["precision"] == ("bf16" if native else "float32")
    assert f"oneDNN capped at {cap.upper()}" in decision["reason"]
    for env in ({}, {"ONEDNN_MAX_CPU_ISA": "ALL"}, {"DNNL_MAX_CPU_ISA": "nonsense"}):
        assert devices.cpu(cpuinfo=SAPPHIRE_AMX, system="Linux", machine="x86_64", env=env)["kind"] == "amx-bf16"


def test_cpu_model_name():
    assert devices.cpu(cpuinfo=ZEN2_AVX2, system="Linux", machine="x86_64")["model"] == "AMD EPYC 7B12"
    assert devices.cpu(cpuinfo=RASPBERRY_PI4, system="Linux", machine="aarch64")["model"] == "BCM2835"


@pytest.mark.parametrize("feat, kind", [("1", "arm-bf16"), ("0", "arm"), ("", "arm")])
def test_apple_silicon_bf16_from_sysctl(feat, kind):
    values = {"machdep.cpu.brand_string": "Apple M2", "hw.optional.arm.FEAT_BF16": feat}
    c = devices.cpu(system="Darwin", machine="arm64", sysctl=lambda name: values.get(name, ""))
    assert c["kind"] == kind and c["native_bf16"] == (feat == "1") and c["model"] == "Apple M2"


def test_intel_mac_flags_from_sysctl():
    values = {"machdep.cpu.brand_string": "Intel(R) Core(TM) i7-9750H", "machdep.cpu.features": "FPU SSE AVX1.0 FMA",
              "machdep.cpu.leaf7_features": "BMI1 AVX2 BMI2"}
    c = devices.cpu(system="Darwin", machine="x86_64", sysctl=lambda name: values.get(name, ""))
    assert c["kind"] == "avx2" and c["flags"] == ["avx2", "fma"] and not c["native_bf16"]


AVX2 = devices.cpu(cpuinfo=ZEN2_AVX2, system="Linux", machine="x86_64")
BF16 = devices.cpu(cpuinfo=ZEN4_BF16, system="Linux", machine="x86_64")


def test_auto_is_bfloat16_only_where_native():
    on_avx2 = devices.decide("auto", AVX2, [])
    assert on_avx2["precision"] == "float32" and on_avx2["policy"] == "float32" and on_avx2["warning"] is None
    assert "no avx512_bf16" in on_avx2["reason"] and "AMD EPYC 7B12" in on_avx2["reason"]
    on_bf16 = devices.decide("auto", BF16, [])
    assert on_bf16["precision"] == "bf16" and on_bf16["policy"] == "mixed_bfloat16" and on_bf16["native_bf16"]
    assert "natively" in on_bf16["reason"]


def test_explicit_bf16_runs_with_one_warning_where_emulated():
    d = devices.decide("bf16", AVX2, [])
    assert d["precision"] == "bf16" and d["policy"] == "mixed_bfloat16"
    assert "slower" in d["warning"] and "\n" not in d["warning"]
    assert devices.decide("bf16", BF16, [])["warning"] is None
    assert devices.decide("float32", BF16, [])["precision"] == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        devices.decide("fp16", AVX2, [])


class FakeDevice:
    def __init__(self, name):
        self.name, self.device_type = name, "GPU"


def fake_gpus(*capabilities):
    listed = [FakeDevice(f"/physical_device:GPU:{i}") for i in range(len(capabilities))]
    info = {d.name: {"device_name": f"NVIDIA {cc[1]}", "compute_capability": cc[0]}
            for d, cc in zip(listed, capabilities, strict=True)}
    return (lambda kind: listed if kind == "GPU" else []), (lambda d: info[d.name]), listed


def test_gpu_capability_decides_auto():
    list_devices, details, _ = fake_gpus(((8, 6), "RTX 3060"))
    ampere = devices.gpus(list_devices, details)
    assert ampere == [{"name": "NVIDIA RTX 3060", "compute_capability": "8.6", "native_bf16": True}]
    d = devices.decide("auto", AVX2, ampere)  # the GPU decides, not the host's AVX2 CPU
    assert d["precision"] == "bf16" and d["device"].startswith("GPU NVIDIA RTX 3060")
    list_devices, details, _ = fake_gpus(((7, 5), "Tesla T4"))
    turing = devices.gpus(list_devices, details)
    assert devices.decide("auto", BF16, turing)["precision"] == "float32"
    assert devices.decide("bf16", BF16, turing)["warning"]
    list_devices, details, _ = fake_gpus(((8, 0), "A100"), ((7, 0), "V100"))
    assert devices.decide("auto", BF16, devices.gpus(list_devices, details))["precision"] == "float32"


def test_no_gpu_and_unreadable_details():
    assert devices.gpus(lambda kind: [], lambda d: {}) == []
    listed = [FakeDevice("/physical_device:GPU:0")]

    def broken(_device):
        raise RuntimeError("no details")

    assert devices.gpus(lambda kind: listed, broken) == [
        {"name": "/physical_device:GPU:0", "compute_capability": None, "native_bf16": False}]


def test_memory_growth_on_every_gpu_and_late_calls_are_harmless():
    list_devices, _, listed = fake_gpus(((8, 0), "A100"), ((8, 0), "A100"))
    calls = []

    def set_growth(device, on):
        if device is listed[1]:
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        calls.append((device.name, on))

    assert devices.enable_memory_growth(list_devices, set_growth) == 1
    assert calls == [("/physical_device:GPU:0", True)]
    assert devices.enable_memory_growth(lambda kind: [], set_growth) == 0


@pytest.fixture
def on_avx2(monkeypatch):
    monkeypatch.setattr(devices, "facts", lambda: {"cpu": AVX2, "gpus": []})


def test_set_precision_warns_once_per_process(on_avx2, capsys, monkeypatch):
    import io

    monkeypatch.setattr(train, "_WARNED", set())
    stream = io.StringIO()
    try:
        for _ in range(3):
            assert train.set_precision(config.load("ex2.cnn", {"precision": "bf16"}), stream)["precision"] == "bf16"
        assert train.set_precision(config.load("improved.mnist"), stream)["policy"] == "float32"
    finally:
        train.set_precision(config.load("ex2.cnn"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnistlab: warning: --precision bf16 on CPU AMD EPYC 7B12")


def test_improved_experiments_default_to_auto_and_the_lab_to_float32():
    assert config.load("improved.mnist").precision == "auto"
    assert config.load("improved.fashion_mnist").precision == "auto"
    assert {config.load(n).precision for n in config.names(extended=True)} == {"float32"}
    assert config.load("ex2.cnn", {"precision": "auto"}).precision == "auto"


def test_manifest_records_cpu_flags_and_the_precision_chosen(on_avx2, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "hardware", lambda: {"cpu": AVX2["model"], "cpu_flags": AVX2["flags"]})
    r = runner.Runner(tmp_path / "run", stream=open(tmp_path / "log", "w"))  # noqa: SIM115 - closed with tmp
    monkeypatch.setattr(r, "run_one", lambda exp, label: None)
    r.run(["improved.mnist"])
    compute = json.loads((tmp_path / "run" / "manifest.json").read_text())["compute"]
    assert compute["device"] == "CPU" and compute["cpu"]["kind"] == "avx2" and compute["cpu"]["flags"] == ["avx2",
                                                                                                           "fma"]
    assert compute["precision"]["auto"]["precision"] == "float32"
    assert "no avx512_bf16" in compute["precision"]["auto"]["reason"]


@pytest.mark.parametrize("ran, lab_code", [("bf16", False), ("float32", True)])
def test_report_code_shows_the_precision_auto_chose(tmp_path, ran, lab_code):
    """auto is shown as what it chose: float32 is the lab's code; bf16 is said to be beyond it."""
    from types import SimpleNamespace

    from mnistlab.report.artifacts import Step
    from mnistlab.report.blocks import Code, Items
    from mnistlab.report.exercises import complete_code

    step = Step("ex2.cnn", tmp_path, config=config.load("ex2.cnn", {"precision": "auto"}).to_dict(),
                metrics={"precision": ran})
    run = SimpleNamespace(step=lambda name: step if name == "ex2.cnn" else Step(name, tmp_path))
    items = Items("en")
    complete_code(items, run)
    listing = next(b for b in items.blocks if isinstance(b, Code)).text
    assert ("Conv2D(" in listing) is lab_code
    assert ("precision = 'bf16'" in listing) is not lab_code
