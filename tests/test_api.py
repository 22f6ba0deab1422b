"""The package's public functions take their settings by keyword."""

import importlib
import inspect
import pkgutil

import torch

import advcgcnn

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
# Parameters that must never be passed by position: swapping two of them leaks test folds.
ALWAYS_BY_NAME = {"seed", "split_seed", "fold", "seeds", "alpha", "mode", "task"}
# Plain data records, each built in one place from a reader's fields.
RECORDS = {"GraphSet", "Entry", "Rejected"}


def public_functions():
    for info in pkgutil.iter_modules(advcgcnn.__path__):
        module = importlib.import_module(f"advcgcnn.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{info.name}.{name}", obj
            elif inspect.isclass(obj) and name not in RECORDS and not issubclass(obj, torch.nn.Module):
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and (not meth_name.startswith("_") or meth_name == "__init__"):
                        yield f"{info.name}.{name}.{meth_name}", meth


def test_at_most_two_positional_parameters_and_seeds_by_name():
    offenders = []
    for qualname, fn in public_functions():
        params = [p for p in inspect.signature(fn).parameters.values() if p.name not in ("self", "cls")]
        positional = [p for p in params if p.kind in POSITIONAL]
        if len(positional) > 2 or {p.name for p in positional} & ALWAYS_BY_NAME:
            offenders.append(f"{qualname}({', '.join(p.name for p in positional)})")
    assert offenders == []


def test_scoring_modules_do_not_import_the_trainer():
    import subprocess
    import sys

    code = "import sys, advcgcnn.screening, advcgcnn.adversarial; print('advcgcnn.training' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
