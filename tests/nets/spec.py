"""What each network takes and returns, without torch: the harness's side of tests/nets.

Every axis of an input is an int or a symbol: ``B`` (batch) or the network's
run-time length (``T`` for a sequence, ``S`` for the decoder's source length).
Sizes are small and deliberately not multiples of the vector widths (4/8/16)
where a model allows it, so a build takes seconds and tails are exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------- sizes
VOCAB = 29  # source / target / LM vocabulary
EMB = 7  # embedding width
HID = 6  # encoder hidden (bi: memory width 2*HID = 12)
DEC = 2 * HID  # decoder hidden (Luong dot attention needs DEC == memory width)
LM_HID = 13  # PTB LM hidden, 2 layers
CLASSES = 5  # text / intent / keyword classes
SLOTS = 9  # ATIS slot labels
FEATS = 10  # KWS MFCC features per frame
KWS_HID = 11  # KWS recurrent hidden
CONV_CH = 5  # CRNN conv channels

EXAMPLE_BATCH = 2  # the export's example batch (dynamic: built and run at BUILD_BATCH)
EXAMPLE_LEN = 7  # the export's example length (= MAX_LEN: a file whose exporter pinned it still runs at MAX_LEN)
BUILD_BATCH = 3  # hlfgen build --dim B=3
MAX_LEN = 7  # hlfgen build --max-dim T=7 (or S=7)
RUN_LENS = (7, 4)  # the two run-time lengths of every parity check

MODES = ("opt", "dyn", "ts")  # dynamo=True (optimizer on, the default), dynamo=True optimize=False, dynamo=False
MODE_HELP = {"opt": "dynamo=True", "dyn": "dynamo=True, optimize=False", "ts": "dynamo=False"}


@dataclass(frozen=True)
class Inp:
    name: str
    shape: tuple  # ints and symbols ("B", "T", "S")
    kind: str = "float"  # float | state | tokens | lengths | mask
    high: int = VOCAB  # tokens: ids in [0, high)


@dataclass(frozen=True)
class Net:
    name: str
    inputs: tuple
    outputs: tuple
    seq: str = "T"  # the run-time length symbol
    hlf: bool = False  # has HLF-factored weights (inspect must report them, except after the optimizer)
    about: str = ""

    def dynamic_axes(self) -> dict:
        """{input name: {axis: symbol}}."""
        return {i.name: {a: d for a, d in enumerate(i.shape) if isinstance(d, str)} for i in self.inputs}


B, T, S = "B", "T", "S"
_tok = Inp("tokens", (B, T), "tokens")
_h_dec = (Inp("h0", (1, B, DEC), "state"), Inp("c0", (1, B, DEC), "state"))
_memory = Inp("memory", (B, S, 2 * HID))
_dec_out = ("logits", "h1", "c1", "attn")

NETS = {
    n.name: n
    for n in (
        Net(
            "nmt_enc",
            (_tok,),
            ("memory", "h_n", "c_n"),
            about="embedding + bi-LSTM (batch_first): the encoder memory [B,T,2H] and final states",
        ),
        Net(
            "nmt_enc_packed",
            (_tok, Inp("lengths", (B,), "lengths")),
            ("memory", "h_n", "c_n"),
            about="as nmt_enc through pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence",
        ),
        Net(
            "nmt_dec_dot",
            (Inp("prev", (B,), "tokens"), *_h_dec, _memory),
            _dec_out,
            seq=S,
            about="one decoder step: nn.LSTM at T=1, Luong dot attention over memory [B,S,2H], no mask",
        ),
        Net(
            "nmt_dec_mask",
            (Inp("prev", (B,), "tokens"), *_h_dec, _memory, Inp("pad", (B, S), "mask")),
            _dec_out,
            seq=S,
            about="decoder step, Luong general attention, masked_fill(pad, -inf) before softmax over S",
        ),
        Net(
            "nmt_dec_cell",
            (
                Inp("prev", (B,), "tokens"),
                Inp("h0", (B, DEC), "state"),
                Inp("c0", (B, DEC), "state"),
                Inp("feed", (B, DEC), "state"),
                _memory,
                Inp("src_len", (B,), "lengths"),
            ),
            ("logits", "h1", "c1", "attn", "h_tilde"),
            seq=S,
            about="decoder step with nn.LSTMCell and input feeding; mask from source lengths (Range < len), -1e9",
        ),
        Net(
            "nmt_dec_hlf",
            (Inp("prev", (B,), "tokens"), *_h_dec, _memory, Inp("pad", (B, S), "mask")),
            _dec_out,
            seq=S,
            hlf=True,
            about="nmt_dec_mask with HLFLSTM and HLF-factored attention / output Linear weights",
        ),
        Net(
            "ptb_lm",
            (Inp("tokens", (T, B), "tokens"), Inp("h0", (2, B, LM_HID), "state"), Inp("c0", (2, B, LM_HID), "state")),
            ("logits", "h_n", "c_n"),
            about="PTB LM: embedding, 2-layer LSTM (time-major, state in/out), Linear head",
        ),
        Net(
            "att_blstm",
            (_tok,),
            ("probs", "alpha"),
            about="Att-BLSTM: bi-LSTM, directions summed, tanh, score Linear, softmax over T, weighted sum, classifier",
        ),
        Net(
            "att_blstm_hlf",
            (_tok,),
            ("probs", "alpha"),
            hlf=True,
            about="att_blstm with HLFLSTM and HLF-factored score / classifier Linear weights",
        ),
        Net(
            "atis_joint",
            (_tok,),
            ("slots", "intent"),
            about="ATIS joint: bi-LSTM, self-attention [B,T,T] (bmm, softmax), slot logits per token, "
            "intent from mean pool",
        ),
        Net("kws_lstm", (Inp("feats", (B, T, FEATS)),), ("logits",), about="KWS LSTM: last step, Linear"),
        Net("kws_gru", (Inp("feats", (B, T, FEATS)),), ("logits",), about="KWS GRU: final state h_n, Linear"),
        Net(
            "kws_crnn1d",
            (Inp("feats", (B, T, FEATS)),),
            ("logits",),
            about="CRNN: Conv1d(k=3, pad 1) + BatchNorm1d + ReLU over [B,F,T], GRU, Linear",
        ),
        Net(
            "kws_crnn2d",
            (Inp("feats", (B, 1, T, FEATS)),),
            ("logits",),
            about="CRNN: Conv2d(k=(5,3), stride (2,1), pad (2,0)) + BN + ReLU, permute + flatten(2), LSTM, Linear",
        ),
    )
}


def feeds(net: Net, batch: int, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs with B = batch and the run-time symbol = length.

    lengths: 1..length with the first = length (pad_packed_sequence's output
    then has the full length); mask (True = padding): from such lengths, so
    every row keeps at least one position (softmax of an all -inf row is NaN).
    """
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, length + 1, size=batch)
    lens[0] = length
    out = {}
    for i in net.inputs:
        shape = tuple(batch if d == B else length if isinstance(d, str) else d for d in i.shape)
        if i.kind == "tokens":
            out[i.name] = rng.integers(0, i.high, size=shape).astype(np.int64)
        elif i.kind == "lengths":
            out[i.name] = lens.astype(np.int64)
        elif i.kind == "mask":
            out[i.name] = np.arange(length)[None, :] >= lens[:, None]
        elif i.kind == "state":
            out[i.name] = (0.5 * rng.standard_normal(shape)).astype(np.float32)
        else:
            out[i.name] = rng.standard_normal(shape).astype(np.float32)
    return out
