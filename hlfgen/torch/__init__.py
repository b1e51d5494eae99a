"""PyTorch side of hlfgen: HLF-factored LSTM/GRU layers and an ONNX export that keeps the factors.

An optional extra (``pip install 'hlfgen[torch]'``); ``import hlfgen`` never
imports torch.

    from hlfgen.torch import HLFLSTM, HLFGRU, from_dense, export
    rnn = HLFLSTM(64, 128, compression=2.5, k=1)        # j from Eq. 4
    rnn = from_dense(trained_lstm, compression=2.5)     # truncated SVD, then fine-tune
    export(model, (x,), "model.onnx")                   # verified: factors survive
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("hlfgen.torch needs PyTorch: pip install 'hlfgen[torch]' (torch==2.13.0)") from e

from .export import export, verify_factored, weights_view
from .layers import HLFBlock, HLFGRU, HLFLSTM, HLFWeight, TORCH_GATES, from_dense

__all__ = [
    "HLFLSTM",
    "HLFGRU",
    "HLFBlock",
    "HLFWeight",
    "TORCH_GATES",
    "from_dense",
    "export",
    "verify_factored",
    "weights_view",
]
