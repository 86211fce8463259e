"""Backend-specific code that the rest of the package calls through plain functions: logging, seeding,
determinism, versions, intra-op threads, the compiled inference call.

The models, training and evaluation are Keras 3 (``import keras``) and run on any backend. Exactly these
other places import TensorFlow itself, each for what Keras does not offer:

- :mod:`mnistlab.data.pipeline`: the input pipeline is ``tf.data`` (batches, shuffling, the affine
  augmentation, the autotuner switched off), which Keras' TensorFlow backend consumes without copies;
- :mod:`mnistlab.devices`: the GPU list, memory growth and the compute capability (``tf.config``);
- :mod:`mnistlab.distributed.tasks`: a worker sets TensorFlow's intra-op threads before its first op.

Porting to another backend means replacing those three and this module; the JAX backend was measured
about 10x slower than TensorFlow for the lab's CNN on CPU, so none is planned.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Start-up lines TensorFlow's C++ side prints straight to fd 2 before absl logging is initialised, so
# TF_CPP_MIN_LOG_LEVEL cannot silence them (TF 2.21): oneDNN notice, CUDA probing on CPU-only machines.
_NOISE = re.compile(r"All log messages before absl::InitializeLog|port\.cc:\d+\] oneDNN custom operations"
                    r"|cudart_stub\.cc|cuda_platform\.cc:\d+\] failed call to cuInit|cuda_executor|"
                    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
                    r"TF-TRT Warning|This TensorFlow binary is optimized to use available CPU instructions|"
                    r"To enable the following instructions")


@contextlib.contextmanager
def filtered_stderr():
    """Hold back TensorFlow's known start-up noise on fd 2; pass every other line through."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): do nothing
        yield
        return
    with tempfile.TemporaryFile() as buf:
        os.dup2(buf.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            buf.seek(0)
            for line in buf.read().decode("utf-8", "replace").splitlines():
                if not _NOISE.search(line):
                    print(line, file=sys.stderr)


def quiet() -> None:
    """Import the backend with its start-up noise filtered; call before anything imports Keras."""
    # 3: TF 2.21's tf.data logs a harmless C++ "error" about an unknown NodeDef attribute
    # (use_unbounded_threadpool) on every map(); real failures still raise Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with filtered_stderr():
        import keras  # noqa: F401

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # probes CUDA once, here, quietly
            from mnistlab.devices import enable_memory_growth

            enable_memory_growth()  # a GPU's memory taken as needed, not all of it at the first op
            # Retracing notices when a new model's predict() is traced: expected, one model per step.
            tf.get_logger().setLevel("ERROR")


def seed_everything(seed: int) -> None:
    """Fix every random choice (Python, NumPy, backend) and ask the backend for deterministic ops.

    With this, the same command on the same machine gives identical weights and metrics.
    """
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def versions() -> dict[str, str]:
    """Versions of what ran: Python, Keras, its backend, NumPy, and the platform."""
    import keras
    import numpy as np

    out = {
        "python": sys.version.split()[0],
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    if out["backend"] == "tensorflow":
        import tensorflow as tf

        out["tensorflow"] = tf.__version__
    return out


def hardware() -> dict[str, object]:
    """CPU model and flags, logical cores, memory, and the accelerators seen by the backend."""
    from mnistlab.devices import facts

    found = facts()
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    devices: list[str] = []
    try:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            devices = [d.device_type for d in tf.config.list_physical_devices()]
    except Exception:  # noqa: BLE001 - hardware facts are best effort
        pass
    c = found["cpu"]
    return {"cpu": c["model"], "cpu_flags": c["flags"], "cpu_kind": c["kind"], "cpu_native_bf16": c["native_bf16"],
            "logical_cores": os.cpu_count(), "memory_gib": mem_gib, "devices": devices, "gpus": found["gpus"],
            **({"onednn_max_cpu_isa": c["onednn_max_cpu_isa"], "cpu_flags_present": c["flags_present"]}
               if c.get("onednn_max_cpu_isa") else {})}


class CompiledInference:
    """A model's forward pass (``training=False``) compiled once and called directly: what ``predict`` and
    ``serve`` run for each request.

    One ``tf.function`` with a fixed input signature (any batch, the model's image shape, float32) and its
    concrete function kept, so a call skips Keras' ``predict_on_batch`` machinery and tf.function's argument
    matching: that is most of the gain (``benchmarks/bench_inference.py``). XLA (``jit``, the default) takes
    another 0.05-0.16 ms off a call on a loaded AVX2 CPU and costs about 0.7 s more at the first call (0.75
    s against 0.09 s: ``serve`` pays it in its warm-up, a one-shot ``mnistlab predict`` once). It stays off
    while TensorFlow's op determinism is on, as Keras' own ``compile()`` does.
    """

    def __init__(self, model, jit: bool = True):
        import tensorflow as tf
        from tensorflow.python.framework.config import is_op_determinism_enabled

        jit = jit and not is_op_determinism_enabled() and all(getattr(la, "supports_jit", True) for la in model.layers)
        self._tf, self._model = tf, model
        self._build(bool(jit))

    def _build(self, jit: bool) -> None:
        self.jit = jit
        spec = self._tf.TensorSpec((None, *self._model.input_shape[1:]), self._tf.float32)
        self._fn = self._tf.function(lambda x: self._model(x, training=False), input_signature=[spec],
                                     jit_compile=jit).get_concrete_function()

    def __call__(self, x) -> np.ndarray:
        """(N, *input shape) float32 -> (N, classes) probabilities as a NumPy array."""
        x = self._tf.convert_to_tensor(x, self._tf.float32)
        try:
            return self._fn(x).numpy()
        except self._tf.errors.OpError:
            if not self.jit:
                raise
            self._build(False)  # an op XLA cannot compile here: the plain graph computes the same thing
            return self._fn(x).numpy()



def default_threads() -> int:
    """The intra-op threads TensorFlow takes by default: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS has no affinity mask
        return os.cpu_count() or 1


def set_intra_op_threads(n: int | None) -> int | None:
    """Give the backend ``n`` intra-op threads (None: leave its default); returns the count in effect.

    TensorFlow accepts this only before its first op in the process (a distributed worker calls it first
    thing); later it keeps what it has.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return n
    import tensorflow as tf

    if n:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(n))
        except RuntimeError:  # the context is already initialised: the count stays as it was
            pass
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
