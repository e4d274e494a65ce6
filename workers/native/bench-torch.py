#!/usr/bin/python3
"""The training step of bench:train (workers/native/bench-train.ts) in PyTorch, for comparison.

A benchmark tool only, never a runtime dependency: bench:train runs it with the system's
python3 when `torch` imports (Debian: python3-torch) and skips the column otherwise.

The step: a frozen post-LN BERT encoder (random weights), LoRA r8 (alpha 16, dropout 0.1) on
query and value and a Pfeiffer adapter m16 (ReLU) in every layer, BERT's tanh pooler, a linear
head on the pooled output, softmax cross-entropy, AdamW as a trial runs it (lr 1e-3, weight decay
0.01 on matrices only, gradients clipped to global norm 1), dropout 0.1 everywhere, one thread. Reads one JSON object of settings from argv[1], prints one JSON object of results.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class Layer(nn.Module):
    def __init__(self, d, heads, ff, rank, alpha, adapter):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1 = nn.LayerNorm(d, eps=1e-12)
        self.ffn_in = nn.Linear(d, ff)
        self.ffn_out = nn.Linear(ff, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-12)
        for p in self.parameters():
            p.requires_grad_(False)
        # LoRA on query and value: A uniform +-1/sqrt(d), B zero; scale alpha / rank.
        bound = 1 / math.sqrt(d)
        self.lora = nn.ParameterDict({
            f'{name}_{f}': nn.Parameter(torch.empty(*shape).uniform_(-bound, bound) if f == 'a' else torch.zeros(*shape))
            for name in ('q', 'v') for f, shape in (('a', (d, rank)), ('b', (rank, d)))
        })
        self.scale = alpha / rank
        self.down = nn.Linear(d, adapter)
        self.up = nn.Linear(adapter, d)
        nn.init.uniform_(self.down.weight, -bound, bound)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def project_lora(self, x, base, name):
        return base(x) + (F.dropout(x, 0.1, self.training) @ self.lora[f'{name}_a'] @ self.lora[f'{name}_b']) * self.scale

    def forward(self, x, mask):
        b, t, d = x.shape
        hs = d // self.heads
        split = lambda y: y.view(b, t, self.heads, hs).transpose(1, 2)
        q = split(self.project_lora(x, self.q, 'q') / math.sqrt(hs))
        k = split(self.k(x))
        v = split(self.project_lora(x, self.v, 'v'))
        probs = F.dropout(torch.softmax(q @ k.transpose(-1, -2) + mask, -1), 0.1, self.training)
        context = (probs @ v).transpose(1, 2).reshape(b, t, d)
        h = self.ln1(F.dropout(self.o(context), 0.1, self.training) + x)
        z = F.dropout(self.ffn_out(F.gelu(self.ffn_in(h))), 0.1, self.training)
        # Pfeiffer (AdapterHub SeqBn): the adapter reads LN2(z + h), its output joins z.
        adapted = z + self.up(torch.relu(self.down(self.ln2(z + h))))
        return self.ln2(adapted + h)


class Model(nn.Module):
    def __init__(self, s):
        super().__init__()
        d = s['hidden']
        self.words = nn.Embedding(s['vocab'], d)
        self.positions = nn.Embedding(s['maxPositions'], d)
        self.types = nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.pooler = nn.Linear(d, d)
        for p in self.parameters():
            p.requires_grad_(False)
        self.layers = nn.ModuleList(Layer(d, s['heads'], s['intermediate'], 8, 16, 16) for _ in range(s['layers']))
        self.head = nn.Linear(d, 2)

    def forward(self, ids, mask):
        t = ids.shape[1]
        x = self.words(ids) + self.positions.weight[:t] + self.types.weight[0]
        x = F.dropout(self.ln(x), 0.1, self.training)
        score_mask = ((1 - mask) * -1e9)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, score_mask)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.head(F.dropout(pooled, 0.1, self.training))


def main():
    s = json.loads(sys.argv[1])
    torch.set_num_threads(1)
    torch.manual_seed(20261128)
    model = Model(s)
    model.train()
    b, t = s['batch'], s['seq']
    ids = (torch.arange(b * t) * 7919 + 13).remainder(s['vocab']).view(b, t)
    mask = torch.ones(b, t)
    targets = torch.arange(b).remainder(2)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([
        {'params': [p for p in trainable if p.dim() >= 2], 'weight_decay': 0.01},
        {'params': [p for p in trainable if p.dim() < 2], 'weight_decay': 0.0},
    ], lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(ids, mask), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        return loss.item()

    for _ in range(s.get('warmup', 2)):
        step()
    samples = []
    cpu_samples = []
    for _ in range(s['rounds']):
        started = time.perf_counter()
        cpu_started = time.process_time()
        for _ in range(s['steps']):
            step()
        samples.append((time.perf_counter() - started) * 1000 / s['steps'])
        cpu_samples.append((time.process_time() - cpu_started) * 1000 / s['steps'])
    settings = torch.__config__.show()
    blas = next((part.strip() for part in settings.replace('\n', ',').split(',') if part.strip().startswith('BLAS_INFO')), 'BLAS_INFO=?')
    print(json.dumps({'ms': samples, 'cpuMs': cpu_samples, 'torch': torch.__version__, 'blas': blas, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()
