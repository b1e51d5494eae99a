"""Deploy a seq2seq model with hlfgen: train, export two graphs, compile both, link one C program.

    python examples/nmt/deploy.py -o /tmp/nmt                      # host
    python examples/nmt/deploy.py -o /tmp/nmt --target cortex-a73  # AArch64, run under qemu

1. trains seq2seq.py's encoder/decoder on reversal (--steps, a minute on a laptop core);
2. exports the encoder and the decoder step (hlfgen.torch.export, each in a
   fresh interpreter; the factors of every HLF matrix survive);
3. ``hlfgen build`` of each, with run-time lengths T (encoder) and S (decoder);
4. builds main.c against both with CMake (add_subdirectory, one target each);
5. decodes --sentences random sentences with the C program and with PyTorch,
   and exits 1 unless every sentence decodes to the same tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

QEMU = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-cpu", "cortex-a72"]  # ARMv8.0, the A73's ISA


def _sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        sys.exit(f"deploy: {' '.join(map(str, cmd[:3]))} ... failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc


def build_program(out: Path, target: str) -> Path:
    """hlfgen build of both graphs, then main.c linked against both; the program's path."""
    import seq2seq

    for name, sym in (("nmt_enc", "T"), ("nmt_dec", "S")):
        _sh(
            [
                sys.executable,
                "-m",
                "hlfgen",
                "build",
                str(out / f"{name}.onnx"),
                "-o",
                str(out / name),
                "--name",
                name,
                "--target",
                target,
                "--max-dim",
                f"{sym}={seq2seq.MAX_SRC}",
            ]
        )
    app = out / "app"
    app.mkdir(exist_ok=True)
    shutil.copy(HERE / "main.c", app / "main.c")
    (app / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.16)
project(nmt C)
set(HLF_WERROR ON)
add_subdirectory({out / "nmt_enc"} nmt_enc)
add_subdirectory({out / "nmt_dec"} nmt_dec)
add_executable(nmt main.c)
target_compile_options(nmt PRIVATE -Wall -Wextra -Werror)
target_link_libraries(nmt PRIVATE nmt_enc::nmt_enc nmt_dec::nmt_dec)
""")
    args = ["cmake", "-S", str(app), "-B", str(out / "build"), "-DCMAKE_BUILD_TYPE=Release"]
    if target != "host":
        args.append(f"-DCMAKE_TOOLCHAIN_FILE={out / 'nmt_enc' / 'toolchains' / 'aarch64-linux-gnu.cmake'}")
    _sh(args)
    _sh(["cmake", "--build", str(out / "build")])
    return out / "build" / "nmt"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, required=True, help="work directory")
    ap.add_argument("--target", default="host", choices=("host", "cortex-a73", "aarch64"))
    ap.add_argument("--steps", type=int, default=600, help="training steps (0: random weights)")
    ap.add_argument("--sentences", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    import torch

    import seq2seq

    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    enc, dec = seq2seq.train(a.steps, seed=a.seed)
    torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict()}, out / "state.pt")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    for what, name in (("export-encoder", "nmt_enc"), ("export-decoder", "nmt_dec")):
        _sh([sys.executable, str(HERE / "seq2seq.py"), what, str(out / "state.pt"), str(out / f"{name}.onnx")], env=env)
    exe = build_program(out, a.target)

    sentences = seq2seq.sample(torch.Generator().manual_seed(a.seed + 7), a.sentences)
    expected = [seq2seq.greedy(enc, dec, s) for s in sentences]
    run = ([] if a.target == "host" else QEMU) + [str(exe)]
    got = [
        [int(w) for w in ln.split()]
        for ln in _sh(run, input="".join(" ".join(map(str, s)) + "\n" for s in sentences)).stdout.splitlines()
    ]
    same = sum(g == e for g, e in zip(got, expected)) if len(got) == len(expected) else 0
    reversed_ok = sum(g == s[::-1] for g, s in zip(got, sentences))
    report = {
        "target": a.target,
        "sentences": len(sentences),
        "same_as_pytorch": same,
        "correct_reversals": reversed_ok,
        "steps": a.steps,
    }
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    for s, g, e in list(zip(sentences, got, expected))[:3]:
        print(f"  source {s}\n  C      {g}\n  torch  {e}")
    print(
        f"{a.target}: {same}/{len(sentences)} sentences decode to PyTorch's tokens; "
        f"{reversed_ok}/{len(sentences)} are the exact reversal ({a.steps} training steps)"
    )
    return 0 if same == len(sentences) else 1


if __name__ == "__main__":
    sys.exit(main())
