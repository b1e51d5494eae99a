"""PyTorch side of hlfgen (optional extra: ``pip install 'hlfgen[torch]'``)."""
from .layers import HLFGRU, HLFLSTM, from_dense
