"""The networks of spec.NETS as PyTorch modules (random weights, eval mode).

Written as a user of each paper would write them, not shaped to suit hlfgen:
the NMT encoder/decoder of Luong et al. (2015), the PTB LM of Zaremba et al.,
Att-BLSTM of Zhou et al. (2016), an ATIS joint intent/slot tagger with
self-attention, and keyword spotters (LSTM, GRU, CRNN with Conv1d / strided
Conv2d front ends).  The ``*_hlf`` variants use hlfgen.torch.HLFLSTM and
``HLFLinear`` (a Linear whose weight is ``[A ; B @ C]``, Figure 1 of the paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spec import CLASSES, CONV_CH, DEC, EMB, FEATS, HID, KWS_HID, LM_HID, SLOTS, VOCAB

NEG = -1e9  # "large negative" of a length mask


class HLFLinear(nn.Module):
    """nn.Linear with weight ``cat([A, B @ C])``: A (j x n) dense rows, B·C a rank-k rest."""

    def __init__(self, n_in: int, n_out: int, j: int, k: int, bias: bool = True):
        super().__init__()
        bound = n_in**-0.5
        self.A = nn.Parameter(torch.empty(j, n_in).uniform_(-bound, bound))
        b = (3.0 * bound * bound / k) ** 0.25
        self.B = nn.Parameter(torch.empty(n_out - j, k).uniform_(-b, b))
        self.C = nn.Parameter(torch.empty(k, n_in).uniform_(-b, b))
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return F.linear(x, torch.cat([self.A, self.B @ self.C], 0), self.bias)


def _hlf_lstm(n_in, hidden, **kw):
    from hlfgen.torch import HLFLSTM

    return HLFLSTM(n_in, hidden, compression=2, k=1, **kw)


# ------------------------------------------------------------------ NMT


class Encoder(nn.Module):
    def __init__(self, packed: bool = False):
        super().__init__()
        self.packed = packed
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = nn.LSTM(EMB, HID, batch_first=True, bidirectional=True)

    def forward(self, tokens, lengths=None):
        x = self.emb(tokens)
        if self.packed:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        memory, (h_n, c_n) = self.rnn(x)
        if self.packed:
            memory, _ = pad_packed_sequence(memory, batch_first=True)
        return memory, h_n, c_n


class DecoderStep(nn.Module):
    """One Luong decoder step: LSTM (T=1), attention over memory [B,S,2H], tanh(W_c[ctx; h]), logits.

    score: "dot" (h · m) or "general" (h · W_a m); mask: "none", "inf"
    (masked_fill(pad, -inf) with a bool pad input) or "len" (from source lengths,
    -1e9).  cell=True: nn.LSTMCell with input feeding of the previous h_tilde."""

    def __init__(self, score: str = "dot", cell: bool = False, hlf: bool = False):
        super().__init__()
        self.score, self.cell = score, cell
        self.emb = nn.Embedding(VOCAB, EMB)
        if cell:
            self.rnn = nn.LSTMCell(EMB + DEC, DEC)
        else:
            self.rnn = _hlf_lstm(EMB, DEC) if hlf else nn.LSTM(EMB, DEC)
        lin = (lambda i, o, bias=True: HLFLinear(i, o, j=3, k=2, bias=bias)) if hlf else nn.Linear
        if score == "general":
            self.w_a = lin(2 * HID, DEC, bias=False)
        self.w_c = lin(2 * HID + DEC, DEC, bias=False)
        self.out = lin(DEC, VOCAB)

    def forward(self, prev, h0, c0, memory, mask=None, feed=None, fill=float("-inf")):
        x = self.emb(prev)  # [B, E]
        if self.cell:
            h, c = self.rnn(torch.cat([x, feed], 1), (h0, c0))
            h1, c1 = h, c
        else:
            y, (h1, c1) = self.rnn(x.unsqueeze(0), (h0, c0))  # T = 1
            h = y[0]  # [B, DEC]
        keys = self.w_a(memory) if self.score == "general" else memory
        scores = torch.bmm(keys, h.unsqueeze(2)).squeeze(2)  # [B, S]
        if mask is not None:
            scores = scores.masked_fill(mask, fill)
        attn = torch.softmax(scores, dim=1)
        ctx = torch.bmm(attn.unsqueeze(1), memory).squeeze(1)  # [B, 2H]
        h_tilde = torch.tanh(self.w_c(torch.cat([ctx, h], 1)))
        return self.out(h_tilde), h1, c1, attn, h_tilde


class DecoderMask(DecoderStep):
    def forward(self, prev, h0, c0, memory, pad):
        return super().forward(prev, h0, c0, memory, mask=pad)[:4]


class DecoderNoMask(DecoderStep):
    def forward(self, prev, h0, c0, memory):
        return super().forward(prev, h0, c0, memory)[:4]


class DecoderCell(DecoderStep):
    def __init__(self):
        super().__init__(score="general", cell=True)

    def forward(self, prev, h0, c0, feed, memory, src_len):
        pos = torch.arange(memory.size(1), device=memory.device)
        mask = pos.unsqueeze(0) >= src_len.unsqueeze(1)  # True = padding
        return super().forward(prev, h0, c0, memory, mask=mask, feed=feed, fill=NEG)


# ------------------------------------------------------------------ PTB LM


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = nn.LSTM(EMB, LM_HID, num_layers=2)
        self.head = nn.Linear(LM_HID, VOCAB)

    def forward(self, tokens, h0, c0):
        y, (h_n, c_n) = self.rnn(self.emb(tokens), (h0, c0))
        return self.head(y), h_n, c_n


# ------------------------------------------------------------------ text classification


class AttBLSTM(nn.Module):
    """Zhou et al. 2016: H = fwd + bwd; M = tanh(H); alpha = softmax(w^T M); r = H alpha; h* = tanh(r)."""

    def __init__(self, hlf: bool = False):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = (_hlf_lstm if hlf else nn.LSTM)(EMB, HID, batch_first=True, bidirectional=True)
        self.w = HLFLinear(HID, 1, j=0, k=2, bias=False) if hlf else nn.Linear(HID, 1, bias=False)
        self.fc = HLFLinear(HID, CLASSES, j=2, k=1) if hlf else nn.Linear(HID, CLASSES)

    def forward(self, tokens):
        y, _ = self.rnn(self.emb(tokens))  # [B, T, 2H]
        hs = y[:, :, :HID] + y[:, :, HID:]  # [B, T, H]
        alpha = torch.softmax(self.w(torch.tanh(hs)).squeeze(2), dim=1)  # [B, T]
        r = torch.bmm(alpha.unsqueeze(1), hs).squeeze(1)  # [B, H]
        return torch.softmax(self.fc(torch.tanh(r)), dim=-1), alpha


class ATISJoint(nn.Module):
    """Joint intent detection and slot filling with scaled dot-product self-attention over the bi-LSTM states."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnn = nn.LSTM(EMB, HID, batch_first=True, bidirectional=True)
        self.slot = nn.Linear(4 * HID, SLOTS)
        self.intent = nn.Linear(2 * HID, CLASSES)

    def forward(self, tokens):
        y, _ = self.rnn(self.emb(tokens))  # [B, T, 2H]
        scores = torch.bmm(y, y.transpose(1, 2)) / (2 * HID) ** 0.5  # [B, T, T]
        ctx = torch.bmm(torch.softmax(scores, dim=-1), y)  # [B, T, 2H]
        slots = self.slot(torch.cat([y, ctx], dim=2))  # [B, T, SLOTS]
        return slots, self.intent(ctx.mean(dim=1))


# ------------------------------------------------------------------ keyword spotting


class KWSRNN(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(FEATS, KWS_HID, batch_first=True)
        self.fc = nn.Linear(KWS_HID, CLASSES)

    def forward(self, feats):
        y, h = self.rnn(feats)
        return self.fc(y[:, -1] if self.kind == "lstm" else h[-1])


class CRNN1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(FEATS, CONV_CH, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm1d(CONV_CH)
        self.rnn = nn.GRU(CONV_CH, KWS_HID, batch_first=True)
        self.fc = nn.Linear(KWS_HID, CLASSES)

    def forward(self, feats):  # [B, T, F]
        z = F.relu(self.bn(self.conv(feats.transpose(1, 2))))  # [B, C, T]
        _, h = self.rnn(z.transpose(1, 2))
        return self.fc(h[-1])


class CRNN2d(nn.Module):
    """An LSTM, not a GRU, after the strided conv: torch 2.13's dynamo exporter fails to decompose aten.gru
    on the length floor((T-1)/2)+1 ("The size of tensor a (11) must match the size of tensor b (33)")."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, CONV_CH, kernel_size=(5, 3), stride=(2, 1), padding=(2, 0))
        self.bn = nn.BatchNorm2d(CONV_CH)
        self.rnn = nn.LSTM(CONV_CH * (FEATS - 2), KWS_HID, batch_first=True)
        self.fc = nn.Linear(KWS_HID, CLASSES)

    def forward(self, feats):  # [B, 1, T, F]
        z = F.relu(self.bn(self.conv(feats)))  # [B, C, floor((T-1)/2)+1, F-2]
        z = z.permute(0, 2, 1, 3).flatten(2)  # [B, T', C*(F-2)]
        _, (h, _) = self.rnn(z)
        return self.fc(h[-1])


FACTORIES = {
    "nmt_enc": lambda: Encoder(),
    "nmt_enc_packed": lambda: Encoder(packed=True),
    "nmt_dec_dot": lambda: DecoderNoMask("dot"),
    "nmt_dec_mask": lambda: DecoderMask("general"),
    "nmt_dec_cell": DecoderCell,
    "nmt_dec_hlf": lambda: DecoderMask("general", hlf=True),
    "ptb_lm": LM,
    "att_blstm": AttBLSTM,
    "att_blstm_hlf": lambda: AttBLSTM(hlf=True),
    "atis_joint": ATISJoint,
    "kws_lstm": lambda: KWSRNN("lstm"),
    "kws_gru": lambda: KWSRNN("gru"),
    "kws_crnn1d": CRNN1d,
    "kws_crnn2d": CRNN2d,
}


def make(name: str, seed: int = 0) -> nn.Module:
    """The network ``name`` with seeded random weights, in eval mode (BatchNorm statistics randomized too)."""
    torch.manual_seed(seed)
    net = FACTORIES[name]()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return net.eval()
