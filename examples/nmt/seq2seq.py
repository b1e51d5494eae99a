"""A small Luong-attention seq2seq with HLF-factored LSTM weights (hlfgen.torch.HLFLSTM).

The task is a toy translation, reversing a sequence of word ids, so that a few
hundred training steps give a model whose greedy decode means something.  The
network is split the way it is deployed:

* ``Encoder``: embedding + bidirectional HLFLSTM (batch_first) -> memory
  [1, T, 2H] and the final states [2, 1, H];
* ``DecoderStep``: one step: embedding of the previous token, HLFLSTM at T = 1
  from (h, c), Luong "general" attention over memory [1, S, 2H] (Luong et al.
  2015, Eq. 8), attentional state tanh(W_c [ctx; h]), logits over the
  vocabulary.  The decoder's first state is the encoder's final states of both
  directions side by side ([2, 1, H] read as [1, 1, 2H]: the same floats).

``python seq2seq.py export-encoder|export-decoder STATE.pt OUT.onnx`` exports
one of the two in this process (deploy.py runs each in a fresh interpreter).
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from hlfgen.torch import HLFLSTM, export
from hlfgen.torch.layers import HLFBlock

PAD, BOS, EOS = 0, 1, 2  # special word ids; words are 3 .. VOCAB-1
VOCAB = 23
EMB = 16
HID = 24  # encoder hidden per direction
DEC = 2 * HID  # decoder hidden = memory width (its first state is both encoder directions)
MAX_SRC = 12  # longest source sentence (hlfgen build --max-dim T=MAX_SRC, S=MAX_SRC)
MAX_OUT = MAX_SRC + 2  # decode at most this many tokens
CF = 2  # compression of every recurrent matrix (Eq. 4), k = 1


class HLFLinear(nn.Module):
    """A Linear layer whose weight is one HLF block [A' ; B·C] (bias optional)."""

    def __init__(self, n_in: int, n_out: int, j: int, k: int, bias: bool = True):
        super().__init__()
        self.w = HLFBlock(n_out, n_in, j, k)
        self.w.reset_parameters(n_in**-0.5)
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None

    def forward(self, x):
        return F.linear(x, self.w(), self.bias)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = HLFLSTM(EMB, HID, compression=CF, k=1, batch_first=True, bidirectional=True)

    def forward(self, tokens):  # [1, T] int64
        memory, (h_n, c_n) = self.rnn(self.emb(tokens))
        return memory, h_n, c_n  # [1, T, 2H], [2, 1, H], [2, 1, H]


class DecoderStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = HLFLSTM(EMB, DEC, compression=CF, k=1)
        self.w_a = HLFLinear(DEC, DEC, j=8, k=4, bias=False)  # score(h, m) = h · W_a m
        self.w_c = HLFLinear(2 * DEC, DEC, j=8, k=4, bias=False)  # h~ = tanh(W_c [ctx; h])
        self.out = HLFLinear(DEC, VOCAB, j=8, k=4)

    def forward(self, prev, h0, c0, memory):  # [1] int64, [1, 1, DEC] x 2, [1, S, 2H]
        y, (h1, c1) = self.rnn(self.emb(prev).unsqueeze(0), (h0, c0))
        h = y[0]  # [1, DEC]
        scores = torch.bmm(self.w_a(memory), h.unsqueeze(2)).squeeze(2)  # [1, S]
        attn = torch.softmax(scores, dim=1)
        ctx = torch.bmm(attn.unsqueeze(1), memory).squeeze(1)  # [1, 2H]
        h_tilde = torch.tanh(self.w_c(torch.cat([ctx, h], 1)))
        return self.out(h_tilde), h1, c1


def sample(rng: torch.Generator, n: int) -> list[list[int]]:
    """n random source sentences of 3 .. MAX_SRC words."""
    lens = torch.randint(3, MAX_SRC + 1, (n,), generator=rng)
    return [torch.randint(3, VOCAB, (int(k),), generator=rng).tolist() for k in lens]


def greedy(enc: Encoder, dec: DecoderStep, src: list[int]) -> list[int]:
    """PyTorch's greedy decode of one sentence, the reference the C program must equal."""
    with torch.no_grad():
        memory, h_n, c_n = enc(torch.tensor([src]))
        h, c = h_n.reshape(1, 1, DEC), c_n.reshape(1, 1, DEC)
        prev, out = BOS, []
        for _ in range(MAX_OUT):
            logits, h, c = dec(torch.tensor([prev]), h, c, memory)
            prev = int(logits.argmax(1))
            if prev == EOS:
                break
            out.append(prev)
        return out


def train(steps: int, seed: int = 0, batch: int = 32) -> tuple[Encoder, DecoderStep]:
    """Teacher-forced training on reversal (one sentence length per batch, no padding)."""
    torch.manual_seed(seed)
    enc, dec = Encoder(), DecoderStep()
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
    rng = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        n = int(torch.randint(3, MAX_SRC + 1, (1,), generator=rng))
        src = torch.randint(3, VOCAB, (batch, n), generator=rng)
        tgt = torch.cat([src.flip(1), torch.full((batch, 1), EOS)], 1)
        inp = torch.cat([torch.full((batch, 1), BOS), tgt[:, :-1]], 1)
        memory, h_n, c_n = enc(src)
        h = h_n.transpose(0, 1).reshape(1, batch, DEC)  # both directions side by side, per sentence
        c = c_n.transpose(0, 1).reshape(1, batch, DEC)
        loss = 0.0
        for t in range(tgt.shape[1]):
            logits, h, c = dec(inp[:, t], h, c, memory)
            loss = loss + F.cross_entropy(logits, tgt[:, t])
        opt.zero_grad()
        (loss / tgt.shape[1]).backward()
        opt.step()
    return enc.eval(), dec.eval()


def load(state_path: str) -> tuple[Encoder, DecoderStep]:
    state = torch.load(state_path)
    enc, dec = Encoder(), DecoderStep()
    enc.load_state_dict(state["encoder"])
    dec.load_state_dict(state["decoder"])
    return enc.eval(), dec.eval()


def export_encoder(enc: Encoder, path: str) -> None:
    export(
        enc,
        (torch.tensor([[3, 4, 5, 6, 7]]),),
        path,
        input_names=["tokens"],
        output_names=["memory", "h_n", "c_n"],
        dynamic_axes={"tokens": {1: "T"}},
    )


def export_decoder(dec: DecoderStep, path: str) -> None:
    args = (torch.tensor([BOS]), torch.zeros(1, 1, DEC), torch.zeros(1, 1, DEC), torch.zeros(1, 5, DEC))
    export(
        dec,
        args,
        path,
        input_names=["prev", "h0", "c0", "memory"],
        output_names=["logits", "h1", "c1"],
        dynamic_axes={"memory": {1: "S"}},
    )


if __name__ == "__main__":
    what, state, out = sys.argv[1:4]
    enc, dec = load(state)
    {"export-encoder": lambda: export_encoder(enc, out), "export-decoder": lambda: export_decoder(dec, out)}[what]()
